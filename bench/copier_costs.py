"""Copier per-command costs, in process: deciding, commit encoding, `enqueue_many`.

Usage: python bench/copier_costs.py [--tree PATH] [--per-intent] [--redis-url URL]

Two measurements of what `bench/copier_throughput.py` spends per follower
command, without its noise (worker process, stream reads, other Redis calls):

- **decide + commit encoding** (no Redis): 1,000 followers of one master (mirror
  x1, one shared symbol spec and settings object, as the worker's store pools
  them), 20 opens decided 13 at a time per follower like a sharded fan-out
  step, with the round's `SharedPlans`, then every write encoded as its
  `COMMIT_MANY` argument. Reported in µs of this process's CPU per command,
  the median of 5 rounds. With ``--per-intent`` each intent gets its own
  `decide_signal` and the writes are merged (what the pump did before
  `decide_signals`).
- **enqueue_many** (Redis at `--redis-url`; use a private server, the script
  time is read from its ``INFO commandstats``): 1,000 accounts with an active
  session, 3 x 13 messages each, handed over 1,500 at a time like the outbox
  writer; reported per message: the client's CPU and Redis's script time.

``--tree`` imports the copier and gateway from another checkout (e.g. a
detached worktree of main) to compare before and after in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import secrets
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def decide_costs(per_intent: bool) -> dict[str, float]:
    from copier.core import MasterSignal
    from copier.core.shared_plans import SharedPlans
    from copier.keys import CopierKeys
    from copier.worker import decide
    from copier.worker.ops import commit_decision
    from copier.worker.state import FollowerRecord
    from gateway.store.keys import RedisKeys
    from schemas.codes import Action
    from schemas.subscriptions import SubscriptionView
    from tests.copier.core.builders import MASTER, NOW, intent, settings, spec

    keys = CopierKeys.of(RedisKeys("bench"))
    shared_settings, shared_spec = settings(), spec()
    view = SubscriptionView(follower_id="f", master_id=MASTER, updated_ms=1)
    followers = [f"f{n:05d}" for n in range(1000)]
    contexts = {
        f: decide.FollowerContext(equity=Decimal(10_000), symbols={"EURUSD": shared_spec})
        for f in followers
    }
    signals = [
        MasterSignal(MASTER, f"i-{n}", intent(Action.OPEN, 1000 + n), NOW, Decimal(10_000))
        for n in range(20)
    ]
    step = 13
    gc.freeze()
    deciding: list[float] = []
    encoding: list[float] = []
    blob_bytes = 0
    for _round in range(5):
        records = {f: FollowerRecord(f) for f in followers}
        decide_s = encode_s = 0.0
        blob_bytes = 0
        for start in range(0, len(signals), step):
            batch = signals[start : start + step]
            now = NOW + 10 + start
            began = time.process_time()
            shared = SharedPlans(now)
            writes = []
            for f in followers:
                if per_intent:
                    parts, record = [], records[f]
                    for signal in batch:
                        part = decide.decide_signal(
                            signal, shared_settings, record, contexts[f], now, shared=shared
                        )
                        parts.append(part)
                        record = part.after
                    writes.append(decide.merge_writes(parts))
                else:
                    writes.append(
                        decide.decide_signals(
                            batch, shared_settings, records[f], contexts[f], now, shared=shared
                        )
                    )
            decided = time.process_time()
            out: list[bytes] = []
            for write in writes:
                commit_decision(keys, write, {MASTER: view}, now, epoch="e", out=out)
                records[write.after.account_id] = write.after.with_version(write.before.version + 1)
            encode_s += time.process_time() - decided
            decide_s += decided - began
            blob_bytes += sum(len(part) for part in out)
        commands = len(followers) * len(signals)
        deciding.append(decide_s / commands * 1e6)
        encoding.append(encode_s / commands * 1e6)
    commands = len(followers) * len(signals)
    return {
        "decide_us_per_command": round(statistics.median(deciding), 2),
        "commit_encoding_us_per_command": round(statistics.median(encoding), 2),
        "commit_argument_bytes_per_command": round(blob_bytes / commands),
    }


async def enqueue_costs(redis_url: str) -> dict[str, float]:
    import redis.asyncio as aioredis
    from _servers import open_sessions

    from gateway.store.delivery_log import RedisDeliveryLog
    from gateway.store.keys import RedisKeys
    from gateway.store.session_store import RedisSessionStore

    client = aioredis.Redis.from_url(redis_url)
    keys = RedisKeys(f"cgcosts-{secrets.token_hex(3)}")
    sessions = RedisSessionStore(client, keys, closed_session_ttl_s=3600)
    accounts = [f"f{n:05d}" for n in range(1000)]
    try:
        await open_sessions(sessions, accounts)
        log = RedisDeliveryLog(client, keys, max_log_entries=100_000)
        body = (
            b'{"type":"OrderCommand","id":"cmd-%d-%s","ts":1,"payload":{"action":"open",'
            b'"ticket":123456,"symbol":"EURUSD","side":"buy","volume":0.1,"sl":1.09,'
            b'"tp":1.12,"magic":0,"comment":"copygate"}}'
        )
        before: Any = await client.info("commandstats")
        cpu = 0.0
        count = 0
        for round_ in range(3):
            items = [
                (a, f"cmd-{round_}-{i}-{a}", body % (i, a.encode()))
                for a in accounts
                for i in range(13)
            ]
            for start in range(0, len(items), 1500):
                batch = items[start : start + 1500]
                began = time.process_time()
                await log.enqueue_many(batch)
                cpu += time.process_time() - began
                count += len(batch)
        after: Any = await client.info("commandstats")
        script_us = after["cmdstat_evalsha"]["usec"] - before["cmdstat_evalsha"]["usec"]
        return {
            "messages": count,
            "client_cpu_us_per_message": round(cpu / count * 1e6, 2),
            "redis_script_us_per_message": round(script_us / count, 2),
        }
    finally:
        async for name in client.scan_iter(match=f"{keys.prefix}:*", count=5000):
            await client.delete(name)
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout to import from")
    parser.add_argument("--per-intent", action="store_true", help="one draft per intent, merged")
    parser.add_argument("--redis-url", help="also measure enqueue_many on this (private) Redis")
    args = parser.parse_args()
    sys.path.insert(0, str(args.tree.resolve()))
    sys.path.insert(1, str(ROOT))  # the test builders, when the tree has none
    result: dict[str, Any] = {"tree": str(args.tree), **decide_costs(args.per_intent)}
    if args.redis_url:
        result.update(asyncio.run(enqueue_costs(args.redis_url)))
    print(result)


if __name__ == "__main__":
    main()
