"""Idle capacity: RSS and CPU of one gateway process holding many heartbeating sessions.

`--sessions` (default 10,000) accounts with provisioned keys (see
`_provision.provisioned_gateway`: provisioned in a first run, measured in a fresh
process). The EAs live in `--processes` worker processes (`_fleet`): each creates
its session (verified key: authenticated at once), opens the WebSocket, sends
InitRequest with ack_seq and then a StatusHeartbeat with ack_seq every
`--heartbeat-s` (5 s), phases spread evenly.

Measured from /proc of the gateway process (it also runs its in-process copier):
RSS before any session and with every session connected, so RSS per session =
(RSS with sessions - RSS idle) / sessions; CPU % of one core over `--window-s`
seconds of steady heartbeating (and over the same window with no session, the
idle floor). Open-file limits are raised to the hard limit in every process;
10,000 loopback connections fit the ephemeral port range (32768-60999).

Usage: python bench/idle.py [--quick] [--sessions N] [--window-s S] [--out FILE]
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
from _servers import GatewayServer, cpu_percent, machine, proc_sample


async def measure(
    server: GatewayServer, eas: list[Any], args: argparse.Namespace
) -> dict[str, Any]:
    assert server.proc is not None
    pid = server.proc.pid
    await asyncio.sleep(1)
    before = proc_sample(pid)
    await asyncio.sleep(args.idle_window_s)
    idle = proc_sample(pid)
    print(f"idle: RSS {idle.rss_kib} KiB, CPU {cpu_percent(before, idle):.1f} %", file=sys.stderr)
    fleet = Fleet(
        FleetSpec(server.base_url, server.ws_url, heartbeat_s=args.heartbeat_s), eas, args.processes
    )
    try:
        started = time.monotonic()
        connected = await fleet.call("connect", 600.0)
        ok = sum(c["connected"] for c in connected)
        print(f"connected {ok}/{len(eas)} in {time.monotonic() - started:.1f} s", file=sys.stderr)
        await asyncio.sleep(args.settle_s)
        stats0 = await fleet.call("stats")
        start = proc_sample(pid)
        for second in range(int(args.window_s)):
            await asyncio.sleep(1)
            sys.stderr.write(f"\rmeasuring: {second + 1}/{int(args.window_s)} s")
        sys.stderr.write("\n")
        end = proc_sample(pid)
        stats1 = await fleet.call("stats")
    finally:
        await fleet.stop()
    beats = sum(s["heartbeats"] for s in stats1) - sum(s["heartbeats"] for s in stats0)
    live = sum(s["live"] for s in stats1)
    n = len(eas)
    return {
        "sessions": n,
        "connected": ok,
        "live_at_end": live,
        "heartbeat_s": args.heartbeat_s,
        "heartbeats_per_s": round(beats / (end.at - start.at), 1),
        "rss_idle_kib": idle.rss_kib,
        "rss_with_sessions_kib": end.rss_kib,
        "rss_per_session_kib": round((end.rss_kib - idle.rss_kib) / max(1, ok), 2),
        "cpu_idle_pct": round(cpu_percent(before, idle), 1),
        "cpu_heartbeating_pct": round(cpu_percent(start, end), 1),
        "window_s": round(end.at - start.at, 1),
        "connect_errors": sum(c["errors"] for c in connected),
        "close_codes_seen": [s["closed"] for s in stats1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2, help="load generator processes")
    parser.add_argument("--heartbeat-s", type=float, default=5.0)
    parser.add_argument("--window-s", type=float, default=30.0)
    parser.add_argument("--idle-window-s", type=float, default=5.0)
    parser.add_argument("--settle-s", type=float, default=10.0)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--out", type=Path, default=Path("bench/results/idle.json"))
    args = parser.parse_args()
    if args.quick:
        args.sessions, args.processes, args.window_s = 20, 1, 2.0
        args.idle_window_s, args.settle_s, args.heartbeat_s = 1.0, 1.0, 1.0
    results: dict[str, Any] = {
        "benchmark": "idle",
        "command": " ".join(["python", "bench/idle.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
    }
    with provisioned_gateway(args.redis_url, args.sessions) as (server, eas):
        results.update(asyncio.run(measure(server, eas, args)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
