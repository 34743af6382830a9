"""What ``COPYGATE_REDIS_WAIT_REPLICAS=1`` costs: store script calls with and without WAIT.

Starts a primary, a replica and three sentinels (`tests.redis_topologies`), opens
the store through the sentinels twice (WAIT 0, then WAIT 1) and measures, on the
same primary:

* one call at a time: the latency of a delivery-log enqueue (one script call,
  one pipeline of one call, plus the WAIT when on), p50 / p99;
* many calls at once: enqueues issued concurrently (the store pipelines them,
  one WAIT per pipeline), calls per second.

Usage::

    .venv/bin/python bench/replica_wait.py            # 1,000 sequential, 20 x 1,000 concurrent
    .venv/bin/python bench/replica_wait.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._servers import percentile  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from gateway.store.factory import open_store  # noqa: E402
from tests.redis_topologies import sentinel_group  # noqa: E402


async def measure(sentinels: str, master: str, wait: int, sequential: int, rounds: int) -> Any:
    """Latency and throughput of enqueue calls with `wait` replicas confirming."""
    prefix = f"cgbench-{secrets.token_hex(3)}"
    settings = Settings(
        redis_sentinels=sentinels,
        redis_sentinel_master=master,
        redis_wait_replicas=wait,
        key_prefix=prefix,
    )
    store = await open_store(settings)
    try:
        latencies: list[float] = []
        for i in range(sequential):
            start = time.perf_counter()
            await store.delivery.enqueue(f"a{i % 200}", f"s{i}", b'{"id":"x"}')
            latencies.append((time.perf_counter() - start) * 1000)
        batch = 1000
        start = time.perf_counter()
        for r in range(rounds):
            await asyncio.gather(
                *(store.delivery.enqueue(f"b{i}", f"r{r}-{i}", b'{"id":"x"}') for i in range(batch))
            )
        elapsed = time.perf_counter() - start
        return {
            "wait_replicas": wait,
            "sequential_calls": sequential,
            "latency_p50_ms": round(percentile(latencies, 50), 3),
            "latency_p99_ms": round(percentile(latencies, 99), 3),
            "concurrent_calls": rounds * batch,
            "concurrent_calls_per_s": round(rounds * batch / elapsed),
        }
    finally:
        await store.redis.flushdb()
        await store.aclose()


async def run(sequential: int, rounds: int) -> list[Any]:
    with sentinel_group() as group:
        spec, master = group.sentinel_spec, group.master_name
        results = []
        for wait in (0, 1, 0, 1):  # interleaved: the machine's noise hits both
            results.append(await measure(spec, master, wait, sequential, rounds))
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args()
    sequential, rounds = (50, 1) if args.quick else (1000, 20)
    print(json.dumps(asyncio.run(run(sequential, rounds)), indent=2))


if __name__ == "__main__":
    main()
