"""Contract of `RedisRateLimiter`, against the embedded store and real Redis."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from gateway.errors import StoreUnavailable
from gateway.store.keys import RedisKeys
from gateway.store.rate_limiter import RedisRateLimiter

#: 1_000 s after the epoch: the start of a 10 s window.
T0 = 1_000_000


@pytest.fixture
def limiter(redis_client: aioredis.Redis, keys: RedisKeys) -> RedisRateLimiter:
    return RedisRateLimiter(redis_client, keys)


@pytest.fixture
def down_limiter(down_client: aioredis.Redis, keys: RedisKeys) -> RedisRateLimiter:
    """A limiter whose server cannot be reached (same flavour as `redis_client`)."""
    return RedisRateLimiter(down_client, keys)


async def test_hits_up_to_the_limit_are_allowed(limiter: RedisRateLimiter) -> None:
    results = [await limiter.hit("ip:1", limit=3, window_s=10, now_ms=T0 + n) for n in range(3)]
    assert results == [None, None, None]


@pytest.mark.parametrize(
    ("now_ms", "retry_after_s"),
    [
        (T0 + 1_000, 9),  # 9 s of the window left
        (T0 + 8_500, 2),  # 1.5 s left rounds up
        (T0 + 9_999, 1),  # never less than 1
    ],
)
async def test_hit_over_the_limit_returns_seconds_until_the_window_ends(
    limiter: RedisRateLimiter, now_ms: int, retry_after_s: int
) -> None:
    for _ in range(2):
        assert await limiter.hit("ip:1", limit=2, window_s=10, now_ms=T0) is None
    assert await limiter.hit("ip:1", limit=2, window_s=10, now_ms=now_ms) == retry_after_s


async def test_the_next_window_starts_from_zero(limiter: RedisRateLimiter) -> None:
    assert await limiter.hit("ip:1", limit=1, window_s=10, now_ms=T0) is None
    assert await limiter.hit("ip:1", limit=1, window_s=10, now_ms=T0 + 5_000) is not None
    assert await limiter.hit("ip:1", limit=1, window_s=10, now_ms=T0 + 10_000) is None


async def test_buckets_are_counted_separately(limiter: RedisRateLimiter) -> None:
    assert await limiter.hit("ip:1", limit=1, window_s=10, now_ms=T0) is None
    assert await limiter.hit("ip:2", limit=1, window_s=10, now_ms=T0) is None
    assert await limiter.hit("ip:1", limit=1, window_s=10, now_ms=T0) == 10


async def test_window_counters_expire_on_their_own(
    limiter: RedisRateLimiter, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await limiter.hit("ip:1", limit=5, window_s=10, now_ms=T0)
    ttl = await redis_client.ttl(keys.rate_limit("ip:1", T0 // 10_000))
    assert 10 <= ttl <= 15


async def test_hit_raises_store_unavailable_when_redis_is_down(
    down_limiter: RedisRateLimiter,
) -> None:
    with pytest.raises(StoreUnavailable):
        await down_limiter.hit("ip:1", limit=1, window_s=10, now_ms=T0)
