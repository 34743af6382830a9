"""Reconnect storm: every EA re-authenticates at once after a gateway restart.

`--sessions` (default 10,000) accounts with provisioned keys (see
`_provision.provisioned_gateway`), all connected to one gateway process
(`_fleet`: session, WebSocket, InitRequest with ack_seq, heartbeats). Then the
gateway gets SIGTERM (it tells every EA `ShutdownNotice` + 4004), is started
again on the same port with the same environment (`COPYGATE_AUTH_PEPPER`
stable, so every key is still known by its fingerprint), and as soon as it
answers /healthz every EA reconnects at once: a new session with its verified
key, the WebSocket, InitRequest with its ack_seq, until InitAck.

Reported: seconds from "the new process answers" to the last InitAck (the
storm), from SIGTERM to the last InitAck, and the shutdown itself. Each worker
process keeps at most `--concurrency` connection attempts in flight (a real
fleet is spread over many machines; thousands of simultaneous SYNs from one
process would measure the loopback backlog, not the gateway).

Usage: python bench/reconnect_storm.py [--quick] [--sessions N] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fleet import Fleet, FleetSpec
from _provision import provisioned_gateway
from _servers import GatewayServer, machine


async def storm(server: GatewayServer, eas: list[Any], args: argparse.Namespace) -> dict[str, Any]:
    spec = FleetSpec(server.base_url, server.ws_url, concurrency=args.concurrency)
    fleet = Fleet(spec, eas, args.processes)
    try:
        started = time.monotonic()
        first = await fleet.call("connect", 600.0)
        ok = sum(c["connected"] for c in first)
        print(f"connected {ok}/{len(eas)} in {time.monotonic() - started:.1f} s", file=sys.stderr)
        await asyncio.sleep(2)
        term = time.monotonic()
        closed, _ = await asyncio.gather(
            fleet.call("wait_closed", 120.0), asyncio.to_thread(server.stop)
        )
        exited = time.monotonic()
        print(f"old process exited after {exited - term:.1f} s", file=sys.stderr)
        await asyncio.to_thread(server.start)
        up = time.monotonic()
        print(f"new process answers after {up - exited:.1f} s; storm ...", file=sys.stderr)
        again = await fleet.call("connect", 300.0)
        stats = await fleet.call("stats")
    finally:
        await fleet.stop()
    last = max((c["last_ready"] or 0.0) for c in again)
    reconnected = sum(c["connected"] for c in again)
    codes: dict[str, int] = {}
    for worker in closed:
        for code, count in worker["close_codes"].items():
            codes[code] = codes.get(code, 0) + count
    return {
        "sessions": len(eas),
        "connected_before": ok,
        "reconnected": reconnected,
        "live_at_end": sum(s["live"] for s in stats),
        "storm_s": round(last - up, 2),
        "sigterm_to_all_authenticated_s": round(last - term, 2),
        "shutdown_s": round(exited - term, 2),
        "restart_s": round(up - exited, 2),
        "reconnect_per_s": round(reconnected / max(1e-9, last - up), 1),
        "close_codes_seen": codes,
        "retries": sum(c["errors"] for c in again),
        "error_sample": [e for c in again for e in c["error_sample"]][:5],
        "concurrency_per_process": args.concurrency,
        "processes": args.processes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2, help="load generator processes")
    parser.add_argument("--concurrency", type=int, default=256, help="in flight per process")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--out", type=Path, default=Path("bench/results/reconnect_storm.json"))
    args = parser.parse_args()
    if args.quick:
        args.sessions, args.processes = 20, 1
    results: dict[str, Any] = {
        "benchmark": "reconnect_storm",
        "command": " ".join(["python", "bench/reconnect_storm.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
    }
    with provisioned_gateway(args.redis_url, args.sessions) as (server, eas):
        results.update(asyncio.run(storm(server, eas, args)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
