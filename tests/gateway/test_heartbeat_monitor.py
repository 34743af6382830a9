"""The heartbeat monitor closes silent sessions exactly at `last heartbeat + timeout`."""

from __future__ import annotations

import fakeredis
import pytest
from opentelemetry import metrics, trace

from gateway.heartbeat import HeartbeatMonitor
from gateway.store.keys import RedisKeys
from gateway.store.session_store import RedisSessionStore
from gateway.telemetry import Telemetry
from schemas.codes import SessionState
from tests.clocks import SettableClock

T0 = 1_763_800_000_000
TIMEOUT_MS = 3000


@pytest.fixture
def store() -> RedisSessionStore:
    return RedisSessionStore(fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer()), RedisKeys())


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(now=T0)


@pytest.fixture
def monitor(store: RedisSessionStore, clock: SettableClock) -> HeartbeatMonitor:
    telemetry = Telemetry(trace.get_tracer("t"), metrics.get_meter("t"))
    return HeartbeatMonitor(store, telemetry, clock, idle_check_s=3.0, tick_ms=5)


async def create(store: RedisSessionStore, sid: str, now: int) -> None:
    await store.create_session(
        account_id=f"acct-{sid}",
        session_id=sid,
        token_hash="h",
        key_id="k",
        authenticated=True,
        now_ms=now,
        heartbeat_timeout_ms=TIMEOUT_MS,
        max_pending_sessions=3,
    )


async def test_monitor_sleeps_until_the_earliest_deadline(
    store: RedisSessionStore, monitor: HeartbeatMonitor, clock: SettableClock
) -> None:
    await create(store, "s1", T0)
    clock.now = T0 + 1000
    assert await monitor.sweep() == pytest.approx((TIMEOUT_MS - 1000 + 5) / 1000)


async def test_session_is_alive_at_the_timeout_and_closed_just_after(
    store: RedisSessionStore, monitor: HeartbeatMonitor, clock: SettableClock
) -> None:
    await create(store, "s1", T0)
    clock.now = T0 + TIMEOUT_MS
    await monitor.sweep()
    assert (await store.get_session("s1")).state is SessionState.AUTHENTICATED  # type: ignore[union-attr]
    clock.now = T0 + TIMEOUT_MS + 1
    await monitor.sweep()
    record = await store.get_session("s1")
    assert record is not None and record.state is SessionState.CLOSED
    assert record.closed_reason == "heartbeat_timeout"


async def test_heartbeat_pushes_the_deadline_later(
    store: RedisSessionStore, monitor: HeartbeatMonitor, clock: SettableClock
) -> None:
    await create(store, "s1", T0)
    await store.touch("s1", now_ms=T0 + 2000, heartbeat_timeout_ms=TIMEOUT_MS)
    clock.now = T0 + TIMEOUT_MS + 500
    assert await monitor.sweep() == pytest.approx((2000 - 500 + 5) / 1000)
    assert (await store.get_session("s1")).state is SessionState.AUTHENTICATED  # type: ignore[union-attr]


async def test_idle_monitor_checks_again_after_one_timeout(monitor: HeartbeatMonitor) -> None:
    assert await monitor.sweep() == 3.0


async def test_many_sessions_close_in_one_sweep(
    store: RedisSessionStore, monitor: HeartbeatMonitor, clock: SettableClock
) -> None:
    for n in range(50):
        await create(store, f"s{n}", T0 + n)
    clock.now = T0 + TIMEOUT_MS + 100
    assert await monitor.sweep() == 0.0
    assert await store.list_sessions() == []
