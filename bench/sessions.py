"""Session creation rate (new key vs reconnecting verified key) and WebSocket round trip.

Each figure is measured against a floor in the same run, every server in its
own process, the load generator in this one:

* creation floor: a bare uvicorn app answering the same POST with a canned 201;
* argon2 floor: argon2id verifications per second at the OWASP parameters on
  the same number of threads the gateway uses (the cost a new key must pay);
* round-trip floor: a bare `websockets` echo server.

Usage: python bench/sessions.py [--quick] [--redis-url URL] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
import websockets
from argon2 import PasswordHasher, Type

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _servers import (
    RawHttpConnection,
    free_port,
    gateway_process,
    python_process,
    summary_ms,
)

ADMIN = {"Authorization": "Bearer bench-admin"}

HTTP_FLOOR = r"""
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
async def create(request):
    await request.body()
    return Response(b'{"session_id":"x","state":"authenticated","session_token":"x.y"}',
                    status_code=201, media_type="application/json")
app = Starlette(routes=[Route("/ea-gateway/v1/sessions", create, methods=["POST"])])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""

WS_FLOOR = r"""
import asyncio, sys
from websockets.asyncio.server import serve
async def echo(ws):
    async for message in ws:
        await ws.send(message)
async def main():
    async with serve(echo, "127.0.0.1", int(sys.argv[1]), compression=None):
        await asyncio.Future()
try:  # the same event loop as the gateway (uvicorn picks uvloop when installed)
    import uvloop
    uvloop.run(main())
except ImportError:
    asyncio.run(main())
"""


def progress(label: str, done: int, total: int) -> None:
    sys.stderr.write(f"\r{label}: {done}/{total}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


async def create_many(
    base_url: str, bodies: list[dict[str, object]], concurrency: int, label: str
) -> tuple[float, list[str]]:
    """POST every body over `concurrency` keep-alive connections; (creations/s, tokens)."""
    host, port = base_url.removeprefix("http://").split(":")
    payloads = [orjson.dumps(b) for b in bodies]
    tokens: list[str] = []
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        conn = RawHttpConnection(host, int(port))
        try:
            while next_index < len(payloads):
                payload = payloads[next_index]
                next_index += 1
                status, answer = await conn.request("POST", "/ea-gateway/v1/sessions", payload)
                assert status == 201, answer
                tokens.append(orjson.loads(answer)["session_token"])
                if len(tokens) % 100 == 0 or len(tokens) == len(payloads):
                    progress(label, len(tokens), len(payloads))
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(payloads) / (time.perf_counter() - started), tokens


def body(account: str, key: str) -> dict[str, object]:
    return {
        "account_id": account,
        "auth_method": "account_session_key",
        "credentials": {"key": key},
    }


async def approve_all(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers=ADMIN, timeout=60) as client:
        keys = (await client.get("/admin/v1/keys", params={"status": "pending"})).json()["keys"]
        for key in keys:
            await client.post(f"/admin/v1/keys/{key['key_id']}/approve")


async def round_trips(
    url: str, headers: dict[str, str] | None, frames: int, expect_type: str | None
) -> list[float]:
    samples = []
    async with websockets.connect(url, additional_headers=headers, compression=None) as ws:
        if expect_type:  # make the gateway connection ready (ack_seq reported)
            await ws.send(
                orjson.dumps(
                    {"type": "StatusHeartbeat", "id": "warm", "ts": 1, "payload": {"ack_seq": 0}}
                ).decode()
            )
        for n in range(frames):
            frame = orjson.dumps(
                {"type": "InitRequest", "id": f"r{n}", "ts": 1, "payload": {"ack_seq": 0}}
            ).decode()
            started = time.perf_counter()
            await ws.send(frame)
            while True:
                reply = await ws.recv()
                if expect_type is None or orjson.loads(reply)["type"] == expect_type:
                    break
            samples.append(time.perf_counter() - started)
            if (n + 1) % 500 == 0:
                progress("ws round trips", n + 1, frames)
    return samples


def argon2_rate(seconds: float, threads: int) -> float:
    hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)
    stored = hasher.hash("x" * 32)
    count = 0
    deadline = time.perf_counter() + seconds

    def loop() -> int:
        n = 0
        while time.perf_counter() < deadline:
            hasher.verify(stored, "x" * 32)
            n += 1
        return n

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        count = sum(pool.map(lambda _: loop(), range(threads)))
    return count / (time.perf_counter() - started)


async def run(args: argparse.Namespace) -> dict[str, object]:
    n_new = 40 if args.quick else 1000
    n_rtt = 200 if args.quick else 5000
    concurrency = 8 if args.quick else 32
    results: dict[str, object] = {}
    keys = {f"bench-{i}": secrets.token_urlsafe(24) for i in range(n_new)}
    with gateway_process(args.redis_url) as (base_url, _env):
        new_rate, _ = await create_many(
            base_url, [body(a, k) for a, k in keys.items()], concurrency, "new keys"
        )
        await approve_all(base_url)
        again_rate, tokens = await create_many(
            base_url, [body(a, k) for a, k in keys.items()], concurrency, "verified keys"
        )
        ws_url = base_url.replace("http", "ws") + "/ea-gateway/v1/stream"
        rtt = await round_trips(ws_url, {"Authorization": f"Bearer {tokens[-1]}"}, n_rtt, "InitAck")
    floor_port = free_port()
    with python_process(HTTP_FLOOR, floor_port):
        floor_rate, _ = await create_many(
            f"http://127.0.0.1:{floor_port}",
            [body(a, k) for a, k in keys.items()],
            concurrency,
            "http floor",
        )
    ws_port = free_port()
    with python_process(WS_FLOOR, ws_port):
        rtt_floor = await round_trips(f"ws://127.0.0.1:{ws_port}", None, n_rtt, None)
    argon2_per_s = argon2_rate(1.0 if args.quick else 5.0, threads=2)
    results["session_create_per_s"] = {
        "new_key": round(new_rate, 1),
        "verified_key_reconnect": round(again_rate, 1),
        "floor_bare_http_post": round(floor_rate, 1),
        "floor_argon2id_verifies_2_threads": round(argon2_per_s, 1),
        "sessions": n_new,
        "concurrency": concurrency,
    }
    results["websocket_round_trip"] = {
        "gateway": summary_ms(rtt),
        "floor_echo": summary_ms(rtt_floor),
        "p99_ratio": round(summary_ms(rtt)["p99_ms"] / summary_ms(rtt_floor)["p99_ms"], 2),
    }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/0",
        help="Redis for the gateway ('' = embedded store)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/sessions.json"))
    args = parser.parse_args()
    results = asyncio.run(run(args))
    results["machine"] = {
        "cpus": __import__("os").cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    results["date"] = time.strftime("%Y-%m-%d")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
