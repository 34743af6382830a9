"""Copier throughput: follower commands planned and queued per second per worker.

Usage: python bench/copier_throughput.py [--quick] [--followers 1000] [--intents 20]
       [--workers 1] [--redis-url URL] [--out FILE] [--profile-worker PATH]

One master with `--followers` followers (mirror x1, active sessions, so every
command is numbered into a live delivery log). The load generator (this
process) writes the subscriptions, the followers' InitRequests and sessions,
measures a **raw baseline** (a bare pipelined Redis write of the same volume:
per follower command one INCR + ZADD + HSET, i.e. what the delivery log itself
does, plus one HSET for the copier's record), then XADDs `--intents` opens to
the intent stream and starts `--workers` copier worker **processes** (this
file with ``--worker``) that run the real `CopierWorker` until every command is
queued. Progress is printed every second; the result is written as JSON.

Then, over a real `copygate serve` on loopback with one master and one follower
EA (WebSocket), `--latency-intents` intents are sent one at a time to measure
intent received -> command queued -> command delivered without queueing.

Reported: commands/s per worker (commands / worker busy time, averaged over
workers), commands per second of worker CPU time (the worker process's own
CPU, without Redis's: steadier than wall time on a shared machine), aggregate
commands/s (wall time from the first intent), baseline commands/s, and the
intent-received -> command-queued latency (p50/p99, read from the copy
records). The intents arrive in one burst while the workers already wait, so
that latency includes queueing behind earlier intents of the burst.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._servers import open_sessions, percentile  # noqa: E402
from copier.keys import CopierKeys  # noqa: E402
from gateway.store.keys import RedisKeys  # noqa: E402

MASTER = "bench-master"
EURUSD = {
    "symbol": "EURUSD",
    "digits": 5,
    "point": 0.00001,
    "contract_size": 100000,
    "lot_step": 0.01,
    "min_lot": 0.01,
    "max_lot": 100,
}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def prepare(client: aioredis.Redis, keys: RedisKeys, followers: list[str]) -> None:
    """Subscriptions, InitRequests and live sessions of every follower."""
    from gateway.store.session_store import RedisSessionStore
    from schemas.subscriptions import SubscriptionView

    ck = CopierKeys.of(keys)
    sessions = RedisSessionStore(client, keys, closed_session_ttl_s=3600)
    init = orjson.dumps({"ack_seq": 0, "account": {"equity": 10_000}, "symbols": [EURUSD]})
    async with client.pipeline(transaction=False) as pipe:
        for follower in followers:
            view = SubscriptionView(follower_id=follower, master_id=MASTER, updated_ms=now_ms())
            body = view.model_dump_json()
            pipe.hset(ck.subscriptions(follower), MASTER, body)
            pipe.hset(ck.followers(MASTER), follower, body)
            pipe.hset(keys.ea_state(follower), mapping={"init": init, "init_ms": now_ms()})
        pipe.hset(keys.ea_state(MASTER), mapping={"init": init, "init_ms": now_ms()})
        await pipe.execute()
    await open_sessions(sessions, followers, now_ms=now_ms())


async def baseline(
    client: aioredis.Redis, prefix: str, followers: list[str], intents: int
) -> dict[str, Any]:
    """The same write volume as bare pipelined commands (no planning, no scripts)."""
    body = b'{"type":"OrderCommand","id":"cmd-x","payload":{"volume":1.0}}' * 3
    started = time.perf_counter()
    count = 0
    for n in range(intents):
        async with client.pipeline(transaction=False) as pipe:
            for follower in followers:
                tag = f"{prefix}:{{{follower}}}"
                pipe.incr(f"{tag}:raw-seq")
                pipe.zadd(f"{tag}:raw-log", {body + str(n).encode(): n})
                pipe.hset(f"{tag}:raw-ids", f"cmd-{n}", body)
                pipe.hset(f"{tag}:raw-copies", f"cmd-{n}", body)
                count += 1
            await pipe.execute()
    elapsed = time.perf_counter() - started
    return {
        "commands": count,
        "seconds": round(elapsed, 3),
        "commands_per_s": round(count / elapsed, 1),
    }


async def run_worker(redis_url: str, prefix: str, intents: int, profile: Path | None) -> None:
    """``--worker``: one CopierWorker until the group has read and acked every intent.

    With `profile`, the worker's loop runs under cProfile and its stats are dumped there.
    """
    import cProfile

    from copier.runtime import tune_gc
    from copier.settings import CopierSettings
    from copier.worker import CopierWorker
    from gateway.settings import Settings
    from gateway.store.factory import open_store

    store = await open_store(
        Settings(redis_url=redis_url, key_prefix=prefix, max_log_entries_per_account=100_000)
    )
    copier_settings = CopierSettings(batch=8, block_ms=50)
    tune_gc(copier_settings)  # as `copygate copier` does
    worker = CopierWorker(store, copier_settings, name=f"bench-{os.getpid()}")
    await worker.streams.ensure_groups()
    await store.redis.sadd(f"{prefix}:bench:ready", os.getpid())
    counters = worker.pump.counters
    busy = cpu = 0.0
    last_report = time.monotonic()
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    while True:
        started, started_cpu = time.perf_counter(), time.process_time()
        read = await worker.process_batch(50)
        if read:
            busy += time.perf_counter() - started
            cpu += time.process_time() - started_cpu
        if time.monotonic() - last_report > 1:
            print(
                f"worker {os.getpid()}: {counters.commands} commands queued",
                file=sys.stderr,
                flush=True,
            )
            last_report = time.monotonic()
        if not read and await _all_done(store.redis, prefix, intents):
            break
    if profiler and profile:
        profiler.disable()
        profiler.dump_stats(f"{profile}.{os.getpid()}")
    print(
        json.dumps(
            {
                "pid": os.getpid(),
                "commands": counters.commands,
                "intents": counters.intents,
                "conflicts": counters.conflicts,
                "decisions": counters.decisions,
                "shard_entries_written": counters.splits,
                "busy_s": round(busy, 3),
                "cpu_s": round(cpu, 3),
            }
        ),
        flush=True,
    )
    await store.aclose()


async def _all_done(client: aioredis.Redis, prefix: str, intents: int) -> bool:
    """All `intents` were sent, read and acknowledged by the group."""
    stream = RedisKeys(prefix).intent_stream()
    if await client.xlen(stream) < intents:
        return False
    groups: Any = await client.xinfo_groups(stream)
    lag = groups[0].get("lag") if groups else None
    pending = groups[0]["pending"] if groups else 1
    return bool(pending == 0 and lag == 0)


def _spawn_worker(args: argparse.Namespace, prefix: str) -> subprocess.Popen[bytes]:
    """One copier worker process (this file with ``--worker``)."""
    command = [
        sys.executable,
        __file__,
        "--worker",
        "--redis-url",
        args.redis_url,
        "--prefix",
        prefix,
        "--intents",
        str(args.intents),
    ]
    if args.profile_worker:
        command += ["--profile-worker", str(args.profile_worker)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, cwd=ROOT)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    prefix = f"cgbench-{secrets.token_hex(3)}"
    keys = RedisKeys(prefix)
    client = aioredis.Redis.from_url(args.redis_url)
    followers = [f"f{n:05d}" for n in range(args.followers)]
    expected = args.followers * args.intents
    try:
        print(f"preparing {args.followers} followers under {prefix} ...", flush=True)
        await prepare(client, keys, followers)
        print("raw baseline ...", flush=True)
        raw = await baseline(client, prefix, followers, args.intents)
        print(f"  {raw['commands_per_s']} commands/s", flush=True)
        print(f"starting {args.workers} worker process(es)", flush=True)
        procs = [_spawn_worker(args, prefix) for _ in range(args.workers)]
        await _wait_consumers(client, keys, args.workers)
        started = time.perf_counter()
        for n in range(args.intents):
            body = orjson.dumps(
                {
                    "type": "OrderIntent",
                    "id": f"i-{n}",
                    "ts": now_ms(),
                    "payload": {
                        "action": "open",
                        "ticket": 1000 + n,
                        "symbol": "EURUSD",
                        "side": "buy",
                        "order_type": "market",
                        "volume": 0.1,
                        "price": 1.1,
                        "sl": 1.09,
                        "tp": 1.12,
                    },
                }
            )
            await client.xadd(
                keys.intent_stream(), {"account_id": MASTER, "session_id": "s", "body": body}
            )
        print(f"{args.intents} intents sent in a burst", flush=True)
        outputs = [
            out
            for out, _err in await asyncio.gather(
                *(asyncio.to_thread(p.communicate, timeout=600) for p in procs)
            )
        ]
        wall = time.perf_counter() - started
        workers = [json.loads(o.decode().strip().splitlines()[-1]) for o in outputs]
        latencies = await _latencies(client, keys, followers[:: max(1, len(followers) // 200)])
    finally:
        async for name in client.scan_iter(match=f"{prefix}:*", count=5000):
            await client.delete(name)
        await client.aclose()
    commands = sum(w["commands"] for w in workers)
    per_worker = [w["commands"] / w["busy_s"] for w in workers if w["busy_s"] > 0]
    return {
        "benchmark": "copier_throughput",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "command": " ".join(["python", "bench/copier_throughput.py", *sys.argv[1:]]),
        "followers_per_master": args.followers,
        "intents": args.intents,
        "workers": args.workers,
        "commands_expected": expected,
        "commands_queued": commands,
        "commands_per_s_per_worker": round(sum(per_worker) / max(1, len(per_worker)), 1),
        "commands_per_worker_cpu_s": round(
            commands / max(1e-9, sum(w["cpu_s"] for w in workers)), 1
        ),
        "commands_per_s_aggregate_wall": round(commands / wall, 1),
        "wall_s_from_first_intent": round(wall, 3),
        "raw_baseline": raw,
        "intent_to_queued_ms": latencies,
        "worker_reports": workers,
    }


async def _wait_consumers(client: aioredis.Redis, keys: RedisKeys, workers: int) -> None:
    """Until every worker process has joined the consumer group."""
    for _ in range(600):
        if await client.scard(f"{keys.prefix}:bench:ready") >= workers:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("copier workers did not start")


async def _latencies(client: aioredis.Redis, keys: RedisKeys, sample: list[str]) -> dict[str, Any]:
    ck = CopierKeys.of(keys)
    values: list[float] = []
    for follower in sample:
        records: Any = await client.hgetall(ck.copies(follower))
        queued: Any = await client.hgetall(ck.queued_times(follower))
        for command_id, raw in records.items():
            record = orjson.loads(raw)
            q = queued.get(command_id)
            if q is not None:
                values.append(float(int(q) - record["intent_received_ms"]))
    return {
        "n": len(values),
        "p50_ms": percentile(values, 50),
        "p99_ms": percentile(values, 99),
        "max_ms": max(values) if values else None,
    }


async def loopback_latency(redis_url: str, intents: int) -> dict[str, Any]:
    """Intent received -> command queued -> delivered over a real `copygate serve` (loopback).

    One master and one follower EA over WebSocket; intents are sent one at a time
    (each after the previous command arrived), so there is no queueing.
    """
    from dataclasses import dataclass

    from bench._servers import gateway_process
    from tests.e2e.copier_harness import copies, setup
    from tests.e2e.harness import ADMIN_TOKEN, Admin

    @dataclass
    class _Server:
        base_url: str

        @property
        def ws_url(self) -> str:
            return self.base_url.replace("http", "ws") + "/ea-gateway/v1/stream"

    with gateway_process(
        redis_url, COPYGATE_HEARTBEAT_TIMEOUT_S="30", COPYGATE_ADMIN_TOKEN=ADMIN_TOKEN
    ) as (base_url, _env):
        server: Any = _Server(base_url)
        admin = Admin(base_url)
        _admin, master, followers = await setup(server, {"lat-f1": {}}, master="lat-m1")
        follower = followers["lat-f1"]
        try:
            for n in range(intents):
                await master.intent("open", 9000 + n, volume=0.1)
                await follower.fill(await follower.command(within=10))
            await asyncio.sleep(0.3)
            rows = await copies(admin, "lat-f1")
        finally:
            await master.disconnect()
            await follower.disconnect()
    queued = [float(r["latency_ms"]["received_to_queued"]) for r in rows]
    delivered = [
        float(r["times"]["command_delivered_ms"] - r["times"]["intent_received_ms"]) for r in rows
    ]
    return {
        "n": len(rows),
        "received_to_queued_p50_ms": percentile(queued, 50),
        "received_to_queued_p99_ms": percentile(queued, 99),
        "received_to_delivered_p50_ms": percentile(delivered, 50),
        "received_to_delivered_p99_ms": percentile(delivered, 99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--followers", type=int, default=1000)
    parser.add_argument("--intents", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--latency-intents", type=int, default=50)
    parser.add_argument(
        "--redis-url", default=os.environ.get("COPYGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/copier_throughput.json"))
    parser.add_argument(
        "--profile-worker",
        type=Path,
        help="cProfile each worker's loop into <path>.<pid> (slows the worker down)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(run_worker(args.redis_url, args.prefix, args.intents, args.profile_worker))
        return
    if args.quick:
        args.followers, args.intents, args.latency_intents = 50, 3, 3
    results = asyncio.run(run(args))
    print(f"loopback latency ({args.latency_intents} sequential intents) ...", flush=True)
    results["loopback_latency"] = asyncio.run(
        loopback_latency(args.redis_url, args.latency_intents)
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
