"""Contract of `RedisRateLimiter` (sliding window), against the embedded store and real Redis."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import StoreUnavailable
from gateway.store.keys import RedisKeys
from gateway.store.rate_limiter import RedisRateLimiter

#: 1_000 s after the epoch: the start of a 10 s epoch-aligned window.
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
        (T0 + 1_000, 9),  # the oldest hit leaves the window in 9 s
        (T0 + 8_500, 2),  # 1.5 s rounds up
        (T0 + 9_999, 1),  # never less than 1
    ],
)
async def test_hit_over_the_limit_returns_seconds_until_the_oldest_hit_leaves(
    limiter: RedisRateLimiter, now_ms: int, retry_after_s: int
) -> None:
    for _ in range(2):
        assert await limiter.hit("ip:1", limit=2, window_s=10, now_ms=T0) is None
    assert await limiter.hit("ip:1", limit=2, window_s=10, now_ms=now_ms) == retry_after_s


async def test_a_hit_is_allowed_again_once_the_oldest_leaves_the_window(
    limiter: RedisRateLimiter,
) -> None:
    assert await limiter.hit("ip:1", limit=1, window_s=10, now_ms=T0) is None
    assert await limiter.hit("ip:1", limit=1, window_s=10, now_ms=T0 + 5_000) is not None
    assert await limiter.hit("ip:1", limit=1, window_s=10, now_ms=T0 + 10_000) is None


async def test_a_client_gets_no_more_than_the_limit_across_an_epoch_boundary(
    limiter: RedisRateLimiter,
) -> None:
    """Issue 13, item 5: a fixed window let 2 x limit through around its edge."""
    late = [await limiter.hit("ip:1", limit=3, window_s=10, now_ms=T0 + 9_900) for _ in range(3)]
    early = [await limiter.hit("ip:1", limit=3, window_s=10, now_ms=T0 + 10_100) for _ in range(3)]
    assert late == [None, None, None]
    assert early == [10, 10, 10]


async def test_refused_hits_do_not_extend_the_wait(limiter: RedisRateLimiter) -> None:
    assert await limiter.hit("ip:1", limit=1, window_s=10, now_ms=T0) is None
    for n in range(5):
        assert await limiter.hit("ip:1", limit=1, window_s=10, now_ms=T0 + n * 1_000) is not None
    assert await limiter.hit("ip:1", limit=1, window_s=10, now_ms=T0 + 10_000) is None


async def test_buckets_are_counted_separately(limiter: RedisRateLimiter) -> None:
    assert await limiter.hit("ip:1", limit=1, window_s=10, now_ms=T0) is None
    assert await limiter.hit("ip:2", limit=1, window_s=10, now_ms=T0) is None
    assert await limiter.hit("ip:1", limit=1, window_s=10, now_ms=T0) == 10


async def test_the_hit_log_expires_a_window_after_the_last_hit(
    limiter: RedisRateLimiter, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await limiter.hit("ip:1", limit=5, window_s=10, now_ms=T0)
    ttl_ms = await redis_client.pttl(keys.rate_limit("ip:1"))
    assert 0 < ttl_ms <= 10_000


async def test_hit_raises_store_unavailable_when_redis_is_down(
    down_limiter: RedisRateLimiter,
) -> None:
    with pytest.raises(StoreUnavailable):
        await down_limiter.hit("ip:1", limit=1, window_s=10, now_ms=T0)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(gaps=st.lists(st.integers(min_value=0, max_value=4_000), min_size=1, max_size=30))
async def test_no_window_ever_holds_more_than_the_limit(
    limiter: RedisRateLimiter, gaps: list[int]
) -> None:
    bucket = f"prop:{id(gaps)}:{len(gaps)}:{sum(gaps)}"
    now, allowed = T0, []
    for gap in gaps:
        now += gap
        if await limiter.hit(bucket, limit=3, window_s=5, now_ms=now) is None:
            allowed.append(now)
    for start in allowed:
        assert sum(1 for t in allowed if start <= t < start + 5_000) <= 3
