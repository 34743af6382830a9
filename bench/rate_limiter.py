"""Cost per hit and memory of the sliding-window rate limiter, next to the old fixed window.

Sequential hits from one client against a Redis (default the local one), under a
fresh key prefix that is deleted afterwards:

- the sliding log (`RedisRateLimiter.hit`, one ``rate_hit`` script call), at the
  default limit (300 per 10 s) and with 10,000 hits inside one window;
- the former fixed window: ``INCR`` + ``EXPIRE`` in one MULTI.

Usage: python bench/rate_limiter.py [--redis-url URL] [--hits N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
from pathlib import Path

import redis.asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gateway.store.keys import RedisKeys
from gateway.store.rate_limiter import RedisRateLimiter


async def measure(redis_url: str, hits: int) -> dict[str, object]:
    redis = aioredis.Redis.from_url(redis_url)
    keys = RedisKeys(prefix=f"cgbench-rl-{secrets.token_hex(3)}")
    limiter = RedisRateLimiter(redis, keys)
    now = int(time.time() * 1000)
    result: dict[str, object] = {"hits": hits}
    try:
        for limit in (300, hits * 10):
            bucket = f"ip:{limit}"
            started = time.perf_counter()
            for n in range(hits):
                await limiter.hit(bucket, limit=limit, window_s=10, now_ms=now + n)
            elapsed = time.perf_counter() - started
            result[f"sliding_limit_{limit}"] = {
                "hits_per_s": round(hits / elapsed),
                "us_per_hit": round(elapsed / hits * 1e6),
                "members": await redis.zcard(keys.rate_limit(bucket)),
                "bytes": await redis.memory_usage(keys.rate_limit(bucket)),
            }
        counter = f"{keys.prefix}:fixed"
        started = time.perf_counter()
        for _ in range(hits):
            async with redis.pipeline(transaction=True) as pipe:
                pipe.incr(counter)
                pipe.expire(counter, 15)
                await pipe.execute()
        elapsed = time.perf_counter() - started
        result["fixed_window"] = {
            "hits_per_s": round(hits / elapsed),
            "us_per_hit": round(elapsed / hits * 1e6),
        }
    finally:
        async for name in redis.scan_iter(match=f"{keys.prefix}:*"):
            await redis.delete(name)
        await redis.aclose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--hits", type=int, default=10_000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.redis_url, args.hits)), indent=2))


if __name__ == "__main__":
    main()
