"""`RateLimiter` over Redis: fixed-window counters shared by every gateway node.

A window is ``now_ms // (window_s * 1000)``; its counter ``rate_limit(bucket, n)``
is INCRemented and given a TTL a little longer than the window in one MULTI, so
counters of past windows disappear on their own. The caller's clock decides the
window, so nodes should keep their clocks in step (NTP is enough: a skew only
moves the window edge).
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from gateway.store.keys import RedisKeys
from gateway.store.redis_errors import map_redis_errors

__all__ = ["RateWindow", "RedisRateLimiter"]

#: Extra seconds a window's counter outlives the window (clock skew between nodes).
_TTL_SLACK_S = 5


@dataclass(frozen=True, slots=True)
class RateWindow:
    """The fixed window one hit falls in: its counter's name, TTL and end.

    The rules of `RedisRateLimiter.hit` as a value, so that a Lua script which
    counts a hit among other work (`SessionStore.create_with_key`) uses the very
    same counter: INCR `counter`, EXPIRE it `ttl_s`, refuse above `limit`.
    """

    counter: str  #: the window's counter key
    limit: int  #: hits allowed in the window
    ttl_s: int  #: the counter's TTL (the window plus clock-skew slack)
    retry_after_s: int  #: whole seconds (at least 1) from the hit to the window's end

    @classmethod
    def of(
        cls, keys: RedisKeys, bucket: str, *, limit: int, window_s: int, now_ms: int
    ) -> RateWindow:
        """The window of a hit on `bucket` at `now_ms` (see `RedisRateLimiter.hit`)."""
        if limit < 0 or window_s < 1:
            raise ValueError("limit must be >= 0 and window_s >= 1")
        window_ms = window_s * 1000
        window = now_ms // window_ms
        remaining_ms = (window + 1) * window_ms - now_ms
        return cls(
            counter=keys.rate_limit(bucket, window),
            limit=limit,
            ttl_s=window_s + _TTL_SLACK_S,
            retry_after_s=max(1, -(-remaining_ms // 1000)),
        )


class RedisRateLimiter:
    """The `RateLimiter` port on a bytes-mode `redis.asyncio.Redis` (or fakeredis)."""

    def __init__(self, redis: aioredis.Redis, keys: RedisKeys) -> None:
        #: the client; fakeredis for the embedded store
        self._redis = redis
        #: key names under the configured prefix
        self._keys = keys

    async def hit(self, bucket: str, *, limit: int, window_s: int, now_ms: int) -> int | None:
        """Count one hit in the current window.

        Args:
            bucket: what is limited, e.g. ``"sessions:203.0.113.7"``.
            limit: hits allowed per window.
            window_s: window length in seconds (windows are aligned to the epoch).
            now_ms: the caller's clock.

        Returns:
            None if this hit is allowed, else the whole seconds (at least 1) until
            the window ends.
        """
        window = RateWindow.of(self._keys, bucket, limit=limit, window_s=window_s, now_ms=now_ms)
        with map_redis_errors("RedisRateLimiter.hit"):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(window.counter)
                pipe.expire(window.counter, window.ttl_s)
                count, _ = await pipe.execute()
        return None if int(count) <= limit else window.retry_after_s
