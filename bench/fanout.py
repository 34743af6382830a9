"""Fan-out latency: one master's OrderIntent -> every follower's OrderCommand, vs a floor.

For each N in `--followers` (default 10, 100, 1000): a fresh `copygate serve`
process (gateway + its in-process copier, real Redis) with one master and N
followers (accounts, mirror x1 subscriptions and provisioned keys through the
admin API). The followers are EAs in 1-2 worker processes (`_fleet`): session,
WebSocket, InitRequest with ack_seq, StatusHeartbeat with ack_seq every 5 s.
The master is this process. It sends `--intents` opens one at a time (each once
every follower received the previous one, plus a short gap) and every sample is
"master's `send` -> a follower's receipt of its OrderCommand" (CLOCK_MONOTONIC,
shared by the processes of the machine).

Floor, in the same run: a bare `websockets` server in its own process that, on a
trigger from this process, pushes the same pre-serialised OrderCommand frame
(captured from the gateway run) to the same N clients (`broadcast`).

With `--standalone-copier` the gateway runs without its in-process copier and a
`copygate copier` process (one worker) plans instead: not the targets' setup
("one gateway process with its copier"), but it shows what sharing one core
costs.

Usage: python bench/fanout.py [--quick] [--followers 10,100,1000] [--intents K]
       [--standalone-copier] [--gateway-env NAME=VALUE ...] [--redis-url URL] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fleet import INIT_EXTRA, Fleet, FleetSpec
from _provision import provision
from _servers import (
    RawHttpConnection,
    add_server_arguments,
    free_port,
    gateway_server,
    machine,
    progress,
    python_process,
    standalone_copier,
    summary_ms,
    write_results,
)

FLOOR = r"""
import asyncio, sys
from websockets.asyncio.server import broadcast, serve
SAMPLE = __SAMPLE__
followers = set()
async def handler(ws):
    if ws.request.path == "/trigger":
        async for ticket in ws:
            broadcast(followers, SAMPLE.replace(b"__TICKET__", ticket.encode()).decode())
        return
    followers.add(ws)
    try:
        async for _ in ws:
            pass
    finally:
        followers.discard(ws)
async def main():
    async with serve(handler, "127.0.0.1", int(sys.argv[1]), compression=None,
                     ping_interval=None, max_queue=None):
        await asyncio.Future()
try:  # the same event loop as the gateway (uvicorn picks uvloop when installed)
    import uvloop
    uvloop.run(main())
except ImportError:
    asyncio.run(main())
"""


def intent(ticket: int, action: str = "open", intent_id: str | None = None) -> str:
    """The master's OrderIntent for `ticket` (an open unless `action` says otherwise)."""
    payload = {
        "action": action,
        "ticket": ticket,
        "symbol": "EURUSD",
        "side": "buy",
        "order_type": "market",
        "volume": 0.1,
        "price": 1.1,
        "sl": 1.09,
        "tp": 1.12,
    }
    envelope = {
        "type": "OrderIntent",
        "id": intent_id or f"i-{ticket}",
        "ts": int(time.time() * 1000),
    }
    return orjson.dumps({**envelope, "payload": payload}).decode()


@contextlib.asynccontextmanager
async def master_connection(base_url: str, ws_url: str, key: str) -> Any:
    """The master EA: session, InitRequest -> InitAck, heartbeats, a draining reader."""
    host, port = base_url.removeprefix("http://").split(":")
    http = RawHttpConnection(host, int(port))
    body = {"account_id": "master", "auth_method": "account_session_key"}
    status, answer = await http.request(
        "POST", "/ea-gateway/v1/sessions", orjson.dumps({**body, "credentials": {"key": key}})
    )
    await http.close()
    assert status == 201, answer
    token = orjson.loads(answer)["session_token"]
    headers = {"Authorization": f"Bearer {token}"}
    async with websockets.connect(
        ws_url, additional_headers=headers, compression=None, ping_interval=None
    ) as ws:
        init = {"type": "InitRequest", "id": "m-init", "ts": 1, "payload": {**INIT_EXTRA}}
        init["payload"]["ack_seq"] = 0
        await ws.send(orjson.dumps(init).decode())
        while b"InitAck" not in (await ws.recv(decode=False)):
            pass

        async def drain_and_beat() -> None:
            async def beat() -> None:
                while True:
                    await asyncio.sleep(5)
                    hb = {"type": "StatusHeartbeat", "id": f"m-hb-{time.time()}", "ts": 1}
                    await ws.send(orjson.dumps({**hb, "payload": {"ack_seq": 0}}).decode())

            beater = asyncio.create_task(beat())
            try:
                async for _ in ws:
                    pass
            finally:
                beater.cancel()

        background = asyncio.create_task(drain_and_beat())
        try:
            yield ws
        finally:
            background.cancel()


async def drive(
    fleet: Fleet, send: Any, n: int, intents: int, first_ticket: int, label: str
) -> tuple[list[float], int]:
    """Send intents one at a time; samples (s) of send -> receipt and the missing count."""
    sent_at: dict[int, float] = {}
    missing = 0
    gap = 0.05 + n * 0.0002
    for k in range(intents):
        ticket = first_ticket + k
        sent_at[ticket] = time.monotonic()
        await send(ticket)
        got = sum(await fleet.call("wait_ticket", (ticket, 30.0)))
        missing += n - got
        progress(label, k + 1, intents)
        await asyncio.sleep(gap)
    received = [r for rows in await fleet.call("received") for r in rows]
    samples = [at - sent_at[t] for t, at, _ in received if t in sent_at]
    return samples, missing


async def run_one(args: argparse.Namespace, n: int) -> dict[str, Any]:
    processes = 1 if n < 100 else 2
    followers = [f"f{i:05d}" for i in range(n)]
    warm = 2
    env = dict(args.gateway_env)
    if args.standalone_copier:
        env["COPYGATE_COPIER_IN_PROCESS"] = "false"
    env.update(getattr(args, "sentinel_env", {}))
    with gateway_server(args.redis_url, **env) as server, contextlib.ExitStack() as stack:
        if args.standalone_copier:
            stack.enter_context(standalone_copier(server.env))
        keys = await provision(server.base_url, ["master"], role="master", label="master")
        master_key = keys[0][1]
        eas = await provision(
            server.base_url, followers, role="follower", master="master", label=f"{n} followers"
        )
        fleet = Fleet(FleetSpec(server.base_url, server.ws_url), eas, processes)
        try:
            connected = await fleet.call("connect", 120.0)
            assert sum(c["connected"] for c in connected) == n, connected
            async with master_connection(server.base_url, server.ws_url, master_key) as master:

                async def send(ticket: int) -> None:
                    await master.send(intent(ticket))

                await drive(fleet, send, n, warm, 1, "warm-up")
                ours, missing = await drive(fleet, send, n, args.intents, 100, f"gateway N={n}")
            sample = next(s for s in await fleet.call("sample") if s)
        finally:
            await fleet.stop()
    template = re.sub(rb'"master_ticket":\d+', b'"master_ticket":__TICKET__', sample)
    port = free_port()
    with python_process(FLOOR.replace("__SAMPLE__", repr(template)), port):
        spec = FleetSpec(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/", authenticate=False)
        fleet = Fleet(spec, eas, processes)
        try:
            await fleet.call("connect", 60.0)
            await asyncio.sleep(0.5)
            async with websockets.connect(
                f"ws://127.0.0.1:{port}/trigger", compression=None, ping_interval=None
            ) as trigger:

                async def trigger_send(ticket: int) -> None:
                    await trigger.send(str(ticket))

                await drive(fleet, trigger_send, n, warm, 1, "floor warm-up")
                floor, floor_missing = await drive(
                    fleet, trigger_send, n, args.intents, 100, f"floor N={n}"
                )
        finally:
            await fleet.stop()
    g, f = summary_ms(ours), summary_ms(floor)
    return {
        "followers": n,
        "intents": args.intents,
        "client_processes": processes,
        "frame_bytes": len(sample),
        "gateway": {**g, "missing": missing},
        "floor": {**f, "missing": floor_missing},
        "ratio": {
            k: round(g[k] / f[k], 2) if f[k] else None
            for k in ("p50_ms", "p99_ms", "p999_ms", "max_ms")
        },
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "benchmark": "fanout",
        "command": " ".join(["python", "bench/fanout.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "copier": "standalone process" if args.standalone_copier else "in the gateway process",
        "redis": (
            f"sentinel group, WAIT {args.wait_replicas}"
            if getattr(args, "sentinel_env", None)
            else args.redis_url
        ),
        "runs": [],
    }
    for n in args.followers:
        print(f"--- {n} followers", file=sys.stderr, flush=True)
        results["runs"].append(await run_one(args, n))
        print(json.dumps(results["runs"][-1]), file=sys.stderr, flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--followers", default="10,100,1000", help="comma-separated N values")
    parser.add_argument("--intents", type=int, default=0, help="measured intents per N")
    parser.add_argument(
        "--gateway-env",
        action="append",
        default=[],
        type=lambda text: tuple(text.split("=", 1)),
        help="NAME=VALUE for the gateway (and copier) process, e.g. COPYGATE_COPIER_FAN_OUT_READ=4",
    )
    add_server_arguments(parser, "fanout")
    parser.add_argument(
        "--sentinel",
        action="store_true",
        help="start a primary, a replica and three sentinels (tests/redis_topologies.py) "
        "and connect the gateway through the sentinels (--redis-url is then ignored)",
    )
    parser.add_argument(
        "--wait-replicas", type=int, default=0, help="with --sentinel: COPYGATE_REDIS_WAIT_REPLICAS"
    )
    args = parser.parse_args()
    args.followers = [int(x) for x in str(args.followers).split(",")]
    if args.quick:
        args.followers, args.intents = [5], 3
    with contextlib.ExitStack() as stack:
        if args.sentinel:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from tests.redis_topologies import sentinel_group

            group = stack.enter_context(sentinel_group())
            args.redis_url = group.current_primary().url
            args.sentinel_env = group.copygate_env(args.wait_replicas)
        results = asyncio.run(run_with_defaults(args))
    write_results(args.out, results)


async def run_with_defaults(args: argparse.Namespace) -> dict[str, Any]:
    if args.intents:
        return await run(args)
    runs: list[dict[str, Any]] = []
    results: dict[str, Any] = {}
    for n in args.followers:  # enough samples for a p99.9 at every N
        args.intents = {10: 100, 100: 50}.get(n, 20)
        one = await run(argparse.Namespace(**{**vars(args), "followers": [n]}))
        runs += one["runs"]
        results = one
    results["runs"] = runs
    results["command"] = " ".join(["python", "bench/fanout.py", *sys.argv[1:]])
    return results


if __name__ == "__main__":
    main()
