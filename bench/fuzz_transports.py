"""WebSocket and poll fuzzing against a real `copygate serve` process.

Hypothesis generates the frames (seeded: a run is reproducible): malformed JSON,
truncated envelopes, wrong types, huge numbers and integers past 64 bits, NaN and
Infinity, deep nesting, unknown and server-only message types, binary frames,
valid-but-hostile envelopes (128-character ids, 1e300 volumes, 500-position
snapshots, reports for commands that never existed, InitRequests with hundreds of
symbols) and acknowledgements interleaved with everything (heartbeats whose
`ack_seq` jumps forward and back). They go to a master and a follower session on
each transport: WebSocket frames one by one; over poll, frames that are JSON go
as the `messages` of `exchange` bodies (1-20 each, validated one by one) and a
frame that is not JSON is a whole body of its own. The copier runs in the
gateway (master -> follower subscriptions), so hostile intents and reports reach
it too.

Checked: no poll answer >= 500; no WebSocket closed by the server (every session
stays open for the whole run; ShutdownNotice is the one valid type never sent);
no traceback or ERROR line in the server's log (a crashed connection task or
copier task logs one); the server's RSS after the run, with the sockets still
open, compared with before (reported; `--max-rss-growth-mib` bounds it).

Usage:
    python bench/fuzz_transports.py                  # 100,000 frames
    python bench/fuzz_transports.py --frames 2000 --seed 7 --out result.json
Exit status 1 if any check failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # schemas, for _frames
from _frames import generate
from _servers import GatewayServer, proc_sample

ADMIN = "bench-admin"
ENV = {
    "COPYGATE_ARGON2_MEMORY_KIB": "8",
    "COPYGATE_ARGON2_TIME_COST": "1",
    "COPYGATE_HEARTBEAT_TIMEOUT_S": "3600",
    "COPYGATE_LOG_LEVEL": "WARNING",
}


# ---- transports ---------------------------------------------------------------------
@dataclass
class Stats:
    """What one transport saw."""

    frames: int = 0
    requests: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    received: int = 0
    unexpected_closes: list[str] = field(default_factory=list)


async def websocket_run(url: str, token: str, chunk: list[bytes], stats: Stats) -> None:
    """Send every frame over one WebSocket, draining the server's replies meanwhile."""
    async with websockets.connect(
        url,
        additional_headers={"Authorization": f"Bearer {token}"},
        compression=None,
        max_size=2**22,
        ping_interval=None,
    ) as ws:

        async def drain() -> None:
            async for _ in ws:
                stats.received += 1

        reader = asyncio.create_task(drain())
        for frame in chunk:
            if reader.done():
                break
            try:
                text = frame.decode()
            except UnicodeDecodeError:
                await ws.send(frame)  # a binary frame
            else:
                await ws.send(text)
            stats.frames += 1
        await asyncio.sleep(0.5)  # replies to the last frames
        if reader.done() or ws.close_code is not None:
            stats.unexpected_closes.append(
                f"closed {ws.close_code} {ws.close_reason!r} after {stats.frames}"
            )
        reader.cancel()


def _is_json(frame: bytes) -> bool:
    try:
        orjson.loads(frame)
    except orjson.JSONDecodeError:
        return False
    return True


def poll_bodies(chunk: list[bytes], seed: int) -> list[tuple[bytes, int]]:
    """(exchange body, frames in it): JSON frames as `messages` of 1-20 per body (each
    one validated on its own by the server); a frame that is not JSON is a body of
    its own (the body parser's turn), as a broken client would send it."""
    bodies: list[tuple[bytes, int]] = []
    pending: list[bytes] = []
    step = seed

    def flush() -> None:
        nonlocal step
        if pending:
            step = (step * 1103515245 + 12345) % 2**31
            ack = step % 7 if step % 3 else 2**62  # acks interleaved, some far ahead
            body = b'{"ack_seq":%d,"messages":[' % ack + b",".join(pending) + b"]}"
            bodies.append((body, len(pending)))
            pending.clear()

    for frame in chunk:
        if not _is_json(frame):
            flush()
            bodies.append((frame, 1))
            continue
        pending.append(frame)
        if len(pending) >= 1 + (seed + len(bodies)) % 20:
            flush()
    flush()
    return bodies


async def poll_run(
    client: httpx.AsyncClient, sid: str, token: str, chunk: list[bytes], stats: Stats, seed: int
) -> None:
    """Send the frames as exchange bodies (see `poll_bodies`)."""
    headers = {"Authorization": f"Bearer {token}", "content-type": "application/json"}
    for body, count in poll_bodies(chunk, seed):
        response = await client.post(
            f"/ea-gateway/v1/sessions/{sid}/exchange", content=body, headers=headers
        )
        stats.frames += count
        stats.requests += 1
        key = str(response.status_code)
        stats.statuses[key] = stats.statuses.get(key, 0) + 1
        if response.status_code >= 500:
            stats.server_errors.append(response.text[:200])
        elif response.status_code == 200:
            stats.received += len(response.json()["messages"])
        elif response.status_code in (401, 410):
            stats.unexpected_closes.append(f"session refused: {response.text[:200]}")
            return


# ---- the run ------------------------------------------------------------------------
async def provision(client: httpx.AsyncClient) -> dict[str, dict[str, str]]:
    """Masters and followers for both transports, subscribed, each with a session."""
    admin = {"authorization": f"Bearer {ADMIN}"}
    sessions: dict[str, dict[str, str]] = {}
    for transport in ("ws", "poll"):
        for role in ("master", "follower"):
            account = f"fz-{transport}-{role}"
            put = await client.put(
                f"/admin/v1/accounts/{account}",
                json={"tenant_id": "fz", "role": role},
                headers=admin,
            )
            put.raise_for_status()
            key = (await client.post(f"/admin/v1/accounts/{account}/keys", headers=admin)).json()[
                "key"
            ]
            created = await client.post(
                "/ea-gateway/v1/sessions",
                json={
                    "account_id": account,
                    "auth_method": "account_session_key",
                    "credentials": {"key": key},
                },
            )
            created.raise_for_status()
            sessions[account] = created.json()
        sub = await client.put(
            f"/admin/v1/accounts/fz-{transport}-follower/subscriptions/fz-{transport}-master",
            json={},
            headers=admin,
        )
        sub.raise_for_status()
    return sessions


def log_problems(log_path: Path) -> list[str]:
    """Tracebacks and ERROR lines in the server's log."""
    if not log_path.exists():
        return []
    text = log_path.read_text(errors="replace")
    return [line for line in text.splitlines() if "Traceback" in line or "ERROR" in line][:20]


async def run(frame_count: int, seed: int, redis_url: str | None) -> dict[str, Any]:
    started = time.monotonic()
    all_frames = generate(frame_count, seed)
    generated_s = time.monotonic() - started
    server = GatewayServer(redis_url, **ENV)
    server.start()
    try:
        assert server.proc is not None
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
            sessions = await provision(client)
            rss_before = proc_sample(server.proc.pid).rss_kib
            ws_stats, poll_stats = Stats(), Stats()
            quarter = len(all_frames) // 4
            chunks = [all_frames[i * quarter : (i + 1) * quarter] for i in range(4)]
            t0 = time.monotonic()
            runs = [
                websocket_run(
                    server.ws_url, sessions[f"fz-ws-{r}"]["session_token"], chunk, ws_stats
                )
                for r, chunk in zip(("master", "follower"), chunks[:2], strict=True)
            ]
            for n, (role, chunk) in enumerate(zip(("master", "follower"), chunks[2:], strict=True)):
                session = sessions[f"fz-poll-{role}"]
                runs.append(
                    poll_run(
                        client,
                        session["session_id"],
                        session["session_token"],
                        chunk,
                        poll_stats,
                        seed + n,
                    )
                )
            await asyncio.gather(*runs)
            send_s = time.monotonic() - t0
            await asyncio.sleep(1.0)  # let the copier catch up before looking
            rss_after = proc_sample(server.proc.pid).rss_kib
            metrics = (
                (await client.get("/metrics")).json()
                if (await client.get("/metrics"))
                .headers.get("content-type", "")
                .startswith("application/json")
                else {}
            )
            live = {
                s["account_id"]: s["state"]
                for s in (
                    await client.get(
                        "/admin/v1/sessions", headers={"authorization": f"Bearer {ADMIN}"}
                    )
                ).json()["sessions"]
            }
    finally:
        server.stop()
        server.cleanup()
    problems = log_problems(server.log_path)
    return {
        "seed": seed,
        "frames": ws_stats.frames + poll_stats.frames,
        "websocket": {
            "frames": ws_stats.frames,
            "replies": ws_stats.received,
            "unexpected_closes": ws_stats.unexpected_closes,
        },
        "poll": {
            "frames": poll_stats.frames,
            "requests": poll_stats.requests,
            "statuses": poll_stats.statuses,
            "server_errors": poll_stats.server_errors[:20],
            "replies": poll_stats.received,
            "unexpected_closes": poll_stats.unexpected_closes,
        },
        "sessions_alive_at_end": sorted(a for a, state in live.items() if state == "authenticated"),
        "generate_s": round(generated_s, 1),
        "send_s": round(send_s, 1),
        "frames_per_s": round((ws_stats.frames + poll_stats.frames) / send_s),
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "server_log_problems": problems,
        "metrics_counters": metrics.get("counters", {}),
    }


def failed(result: dict[str, Any], max_rss_growth_mib: float) -> list[str]:
    """The checks that failed (empty: all passed)."""
    bad = []
    if result["poll"]["server_errors"] or any(int(s) >= 500 for s in result["poll"]["statuses"]):
        bad.append("poll 5xx")
    if result["websocket"]["unexpected_closes"] or result["poll"]["unexpected_closes"]:
        bad.append("sessions closed")
    if len(result["sessions_alive_at_end"]) != 4:
        bad.append("not every session alive at the end")
    if result["server_log_problems"]:
        bad.append("server log has tracebacks or errors")
    if (result["rss_after_kib"] - result["rss_before_kib"]) / 1024 > max_rss_growth_mib:
        bad.append("RSS grew too much")
    return bad


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--redis-url", default=None, help="use Redis instead of the embedded store")
    parser.add_argument("--max-rss-growth-mib", type=float, default=128.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    result = asyncio.run(run(args.frames, args.seed, args.redis_url))
    result["failed_checks"] = failed(result, args.max_rss_growth_mib)
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 1 if result["failed_checks"] else 0


if __name__ == "__main__":
    sys.exit(main())
