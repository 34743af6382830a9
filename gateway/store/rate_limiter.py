"""`RateLimiter` over Redis: sliding-window limits shared by every gateway node.

A bucket keeps the times of its allowed hits in a sorted set (``rate_limit(bucket)``);
a hit first drops the times older than the window, then is allowed (and logged)
only if fewer than `limit` remain. So no window of `window_s` seconds, wherever it
starts, ever holds more than `limit` allowed hits (a fixed epoch window let a client
through twice across a boundary). It is one Lua function (``rate_hit`` in
``lua/_lib.lua``), run by ``rate_hit.lua`` here and by ``create_session.lua`` for the
reconnect fast path, so both count in the same log, atomically. The log expires a
window after its last hit. The caller's clock decides; nodes keep their clocks in
step (NTP is enough: a skew shifts a hit by the skew).

Memory: at most `limit` members per active bucket (one per allowed hit).
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from gateway.store.keys import RedisKeys
from gateway.store.redis_errors import map_redis_errors
from gateway.store.scripts import Scripts

__all__ = ["RateWindow", "RedisRateLimiter", "retry_after_s"]


def retry_after_s(wait_ms: int) -> int:
    """Whole seconds (at least 1) for a `Retry-After` of `wait_ms` milliseconds."""
    return max(1, -(-int(wait_ms) // 1000))


@dataclass(frozen=True, slots=True)
class RateWindow:
    """One bucket's sliding window: the arguments of the ``rate_hit`` Lua function.

    The rules of `RedisRateLimiter.hit` as a value, so that a Lua script which
    counts a hit among other work (`SessionStore.create_with_key`) uses the very
    same log.
    """

    log: str  #: the bucket's hit log (sorted set of hit times)
    limit: int  #: hits allowed in any window
    window_ms: int  #: the window's length

    @classmethod
    def of(cls, keys: RedisKeys, bucket: str, *, limit: int, window_s: int) -> RateWindow:
        """The window of `bucket` (see `RedisRateLimiter.hit`)."""
        if limit < 0 or window_s < 1:
            raise ValueError("limit must be >= 0 and window_s >= 1")
        return cls(log=keys.rate_limit(bucket), limit=limit, window_ms=window_s * 1000)


class RedisRateLimiter:
    """The `RateLimiter` port on a bytes-mode `redis.asyncio.Redis` (or fakeredis)."""

    def __init__(
        self, redis: aioredis.Redis, keys: RedisKeys, scripts: Scripts | None = None
    ) -> None:
        #: key names under the configured prefix
        self._keys = keys
        #: the Lua scripts (``rate_hit``); the store's shared ones when given
        self._scripts = scripts or Scripts(redis, keys)

    async def hit(self, bucket: str, *, limit: int, window_s: int, now_ms: int) -> int | None:
        """Count one hit in the sliding window ending now.

        Args:
            bucket: what is limited, e.g. ``"sessions:203.0.113.7"``.
            limit: hits allowed in any window of `window_s` seconds.
            window_s: the window's length in seconds.
            now_ms: the caller's clock.

        Returns:
            None if this hit is allowed, else the whole seconds (at least 1) until
            the oldest hit in the window leaves it (then one more is allowed).
        """
        window = RateWindow.of(self._keys, bucket, limit=limit, window_s=window_s)
        with map_redis_errors("RedisRateLimiter.hit"):
            wait = await self._scripts.run(
                "rate_hit", [window.log], now_ms, window.window_ms, window.limit
            )
        return None if int(wait) == 0 else retry_after_s(int(wait))
