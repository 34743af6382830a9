"""The copy path under real traffic: OPEN/CLOSE alternation, reporting followers.

For each N in `--followers` (default 1, 10, 100): a fresh `copygate serve` process
(gateway + its in-process copier, or `--standalone-copier`, on real Redis with a
fresh key prefix) with one master and N followers (mirror x1). The followers are
EAs in 1-2 worker processes (`_fleet`) that answer every OrderCommand at once
with an ExecutionReport (open -> filled with their own ticket, close -> closed)
and ack (StatusHeartbeat with ack_seq) every second. The master is this process:
it sends OPEN t, CLOSE t, OPEN t+1, ... open-loop at a fixed rate (signals/s; each
OPEN and each CLOSE is one signal), whatever the server does. It behaves like a
correct EA under admission control (`_resending_master`): it asks for receipts,
and when an intent is refused (`overloaded`, close 1008) it waits `after_ms`,
reconnects with its session and resends every unconfirmed intent in order while
the schedule goes on. Refusals, reconnects and resends are counted per run, and
the backlog is sampled from `/metrics` and `GET /admin/v1/copier/backlog`.

Latency = master's socket write -> follower's socket read of the OrderCommand
(CLOCK_MONOTONIC, shared by the machine's processes), reported separately for
OPEN and CLOSE. A CLOSE can only be copied once the follower's report of the OPEN
was committed, so the CLOSE latency includes the report path.

Two phases per N:

- latency: `--latency-rate` (default 2) signals/s for `--duration` s;
- sweep: each rate of `--rates` (per N; default a ladder) for `--duration` s,
  stopping after the first rate that is not *sustained*. Sustained = nothing lost
  (every follower received every command), no intent refused, and the last
  receipt < 1 s after the last send.

Latency of a resent signal counts from its first send.

Per run, CPU (% of one core) of the gateway, the standalone copier, Redis (the
shared server: includes everyone else's load) and the load generator (this
process + the fleet workers).

Usage: python bench/copy_path.py [--quick] [--followers 1,10,100] [--duration S]
       [--rates N=r1/r2/..;N=..] [--gateway-env NAME=VALUE ...] [--standalone-copier]
       [--redis-url URL] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _backlog_watch import BacklogWatch
from _fleet import Fleet, FleetSpec
from _provision import provision
from _resending_master import ResendingMaster
from _servers import (
    ProcSample,
    add_server_arguments,
    cpu_percent,
    gateway_server,
    machine,
    proc_sample,
    standalone_copier,
    summary_ms,
    write_results,
)
from fanout import intent

#: Default sweep per N (signals/s): climbs until a rate is not sustained.
DEFAULT_RATES = {
    1: [100, 250, 500, 1000, 2000, 3000],
    10: [25, 50, 100, 200, 400, 600],
    100: [4, 7, 15, 30, 60, 100],
    1000: [1, 2, 4, 8, 16],
}
#: Sustained: the last receipt at most this long after the last send.
DRAIN_LIMIT_S = 1.0
#: Longest wait, after the last send, for every intent to be confirmed (resends).
CONFIRM_TIMEOUT_S = 600.0
#: The run ends when no command arrived for this long (what is missing then is lost).
STALL_S = 30.0
#: Between progress lines on stderr during a run.
PROGRESS_S = 5.0


def signal(ticket: int, action: str) -> str:
    """The master's OrderIntent for `ticket` (an open, or the close of that open)."""
    return intent(ticket, action, f"i-{action[0]}-{ticket}")


class CpuMeter:
    """CPU of named processes between `start` and `stop` (gone processes are dropped)."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self.pids = pids  #: name -> pids summed under it
        self.before: dict[int, ProcSample] = {}  #: samples at start

    def start(self) -> None:
        self.before = {}
        for pids in self.pids.values():
            for pid in pids:
                with contextlib.suppress(OSError):
                    self.before[pid] = proc_sample(pid)

    def stop(self) -> dict[str, float]:
        usage: dict[str, float] = {}
        for name, pids in self.pids.items():
            total = 0.0
            for pid in pids:
                if pid in self.before:
                    with contextlib.suppress(OSError):
                        total += cpu_percent(self.before[pid], proc_sample(pid))
            usage[name] = round(total, 1)
        return usage


async def run_rate(
    fleet: Fleet,
    master: ResendingMaster,
    n: int,
    rate: float,
    duration: float,
    first: int,
    cpu: CpuMeter,
    watch: BacklogWatch,
) -> tuple[dict[str, Any], int]:
    """Open-loop OPEN/CLOSE alternation at `rate` for `duration`; returns the run and
    the next free ticket.

    Refused intents are resent by the master (after `after_ms`, on a new connection,
    in order) while the schedule goes on; a signal's latency counts from its first
    send. The run ends when every intent is confirmed and every command received.
    """
    total = max(2, int(rate * duration) // 2 * 2)
    sent_at: dict[tuple[int, str], float] = {}
    await fleet.call("received")  # forget earlier runs
    before = master.counters()
    refused_before = await watch.refused_total()
    cpu.start()
    watch.start()
    started = time.monotonic()
    next_progress = started + PROGRESS_S
    for k in range(total):
        due = started + k / rate
        if (wait := due - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        ticket, action = first + k // 2, ("open", "close")[k % 2]
        sent_at[(ticket, action)] = time.monotonic()
        await master.send(f"i-{action[0]}-{ticket}", signal(ticket, action))
        if time.monotonic() >= next_progress:
            next_progress += PROGRESS_S
            progress(n, rate, k + 1, total, master)
    last_send = time.monotonic()
    send_s = last_send - started
    expected = total * n
    confirmed = await master.wait_confirmed(CONFIRM_TIMEOUT_S)
    received = 0
    while received < expected:  # until all arrived, or nothing more for STALL_S
        now_received = sum(await fleet.call("wait_commands", (total, STALL_S)))
        if now_received == received:
            break
        received = now_received
    usage = cpu.stop()
    backlog = await watch.stop()
    counters = {k: v - before.get(k, 0) for k, v in master.counters().items()}
    counters["unconfirmed"] = len(master.unconfirmed)
    rows = [r for rows in await fleet.call("received") for r in rows]
    samples: dict[str, list[float]] = {"open": [], "close": []}
    copies: Counter[tuple[int, str]] = Counter()
    last_receipt = last_send
    for ticket, at, action in rows:
        if (sent := sent_at.get((ticket, action))) is not None:
            copies[(ticket, action)] += 1
            samples[action].append(at - sent)
            last_receipt = max(last_receipt, at)
    got = len(samples["open"]) + len(samples["close"])
    tail = last_receipt - last_send
    run = {
        "rate": rate,
        "signals": total,
        "send_rate": round(total / send_s, 1) if send_s > 0 else None,
        "commands": got,
        "missing": expected - got,
        "lost": sum(max(0, n - copies[key]) for key in sent_at),
        "duplicated": sum(max(0, c - n) for c in copies.values()),
        "all_confirmed": confirmed,
        "delivered_per_s": round(got / n / (last_receipt - started), 1),
        "drain_s": round(tail, 3),
        "sustained": got == expected and tail < DRAIN_LIMIT_S and counters["refusals"] == 0,
        **counters,
        "refused_by_gateway": await watch.refused_total() - refused_before,
        "backlog": backlog,
        "open": summary_ms(samples["open"]),
        "close": summary_ms(samples["close"]),
        "cpu_pct": usage,
    }
    return run, first + total // 2


def progress(n: int, rate: float, sent: int, total: int, master: ResendingMaster) -> None:
    """One progress line: signals sent so far and the master's refusal counters."""
    line = {"N": n, "rate": rate, "sent": sent, "of": total, **master.counters()}
    print(json.dumps({"progress": line}), file=sys.stderr, flush=True)


def redis_pid(url: str) -> list[int]:
    """The local Redis server's pid (its CPU is shared with everyone using it)."""
    with contextlib.suppress(Exception):
        pid = int(redis.Redis.from_url(url).info("server")["process_id"])
        if Path(f"/proc/{pid}").exists():
            return [pid]
    return []


async def run_one(args: argparse.Namespace, n: int) -> dict[str, Any]:
    processes = 1 if n < 100 else 2
    followers = [f"f{i:05d}" for i in range(n)]
    env = dict(args.gateway_env)
    if args.standalone_copier:
        env["COPYGATE_COPIER_IN_PROCESS"] = "false"
    with gateway_server(args.redis_url, **env) as server, contextlib.ExitStack() as stack:
        assert server.proc is not None
        copier_pids: list[int] = []
        if args.standalone_copier:
            copier_pids = stack.enter_context(standalone_copier(server.env))
        keys = await provision(server.base_url, ["master"], role="master", label="master")
        eas = await provision(
            server.base_url, followers, role="follower", master="master", label=f"{n} followers"
        )
        spec = FleetSpec(server.base_url, server.ws_url, heartbeat_s=1.0, report=True)
        fleet = Fleet(spec, eas, processes)
        cpu = CpuMeter(
            {
                "gateway": [server.proc.pid],
                "copier": copier_pids,
                "redis": redis_pid(args.redis_url),
                "load_generator": [os.getpid(), *(p.pid for p in fleet.procs)],
            }
        )
        result: dict[str, Any] = {"followers": n, "client_processes": processes}
        try:
            connected = await fleet.call("connect", 120.0)
            assert sum(c["connected"] for c in connected) == n, connected
            watch = BacklogWatch(server.base_url, server.env["COPYGATE_ADMIN_TOKEN"])
            master_ea = ResendingMaster(server.base_url, server.ws_url, keys[0][1])
            async with master_ea as master:
                ticket = 1
                _, ticket = await run_rate(fleet, master, n, 10, 0.4, ticket, cpu, watch)  # warm-up
                latency, ticket = await run_rate(
                    fleet, master, n, args.latency_rate, args.duration, ticket, cpu, watch
                )
                result["latency"] = latency
                print(json.dumps({"N": n, "latency": latency}), file=sys.stderr, flush=True)
                sweep: list[dict[str, Any]] = []
                for rate in args.rates.get(n, DEFAULT_RATES.get(n, [1, 2, 4])):
                    run, ticket = await run_rate(
                        fleet, master, n, rate, args.duration, ticket, cpu, watch
                    )
                    sweep.append(run)
                    print(json.dumps({"N": n, "sweep": run}), file=sys.stderr, flush=True)
                    if not run["sustained"]:
                        break
                    await asyncio.sleep(1.0)
                result["sweep"] = sweep
                held = [r["rate"] for r in sweep if r["sustained"]]
                result["max_sustained_rate"] = max(held) if held else 0
        finally:
            await fleet.stop()
    return result


def parse_rates(text: str) -> dict[int, list[float]]:
    """`1=100/500;10=50/100` -> {1: [100, 500], 10: [50, 100]}."""
    rates: dict[int, list[float]] = {}
    for part in filter(None, text.split(";")):
        n, _, ladder = part.partition("=")
        rates[int(n)] = [float(r) for r in ladder.split("/")]
    return rates


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "benchmark": "copy_path",
        "command": " ".join(["python", "bench/copy_path.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "copier": "standalone process" if args.standalone_copier else "in the gateway process",
        "duration_s": args.duration,
        "runs": [],
    }
    for n in args.followers:
        print(f"--- {n} followers", file=sys.stderr, flush=True)
        results["runs"].append(await run_one(args, n))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--followers", default="1,10,100", help="comma-separated N values")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per rate")
    parser.add_argument("--latency-rate", type=float, default=2.0, help="signals/s")
    parser.add_argument("--rates", default="", help="sweep ladders, e.g. '1=500/1000;10=100'")
    parser.add_argument(
        "--gateway-env",
        action="append",
        default=[],
        type=lambda text: tuple(text.split("=", 1)),
        help="NAME=VALUE for the gateway (and copier) process, e.g. COPYGATE_COPIER_BATCH=256",
    )
    add_server_arguments(parser, "copy_path")
    args = parser.parse_args()
    args.followers = [int(x) for x in str(args.followers).split(",")]
    args.rates = parse_rates(args.rates)
    if args.quick:
        args.followers, args.duration, args.latency_rate = [3], 1.0, 10.0
        args.rates = {3: args.rates.get(3, [20.0])}  # a given ladder for N=3 is kept
    write_results(args.out, asyncio.run(run(args)))


if __name__ == "__main__":
    main()
