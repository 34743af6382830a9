"""The backlog monitor's loop stops even when a cancelled Redis call surfaces as a RedisError."""

from __future__ import annotations

import asyncio

import fakeredis
import redis.exceptions as rex

from gateway.admission import AdmissionLimits
from gateway.backlog_monitor import BacklogMonitor
from gateway.store.keys import RedisKeys


class _CancelBecomesRedisError(BacklogMonitor):
    """A refresh whose Redis call turns its cancellation into a ConnectionError."""

    async def refresh(self) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise rex.ConnectionError("connection closed while reading") from None


async def test_a_monitor_stops_when_the_cancelled_refresh_raises_a_redis_error() -> None:
    monitor = _CancelBecomesRedisError(
        fakeredis.FakeAsyncRedis(),
        RedisKeys(prefix="cg-stop"),
        AdmissionLimits(max_waiting=10),
        lambda: 0,
        refresh_ms=10,
    )
    monitor.start()
    await asyncio.sleep(0.05)
    await asyncio.wait_for(monitor.stop(), timeout=2)
