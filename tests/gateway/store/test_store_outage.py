"""Every public store method raises `StoreUnavailable` when Redis cannot be reached."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from gateway.errors import StoreUnavailable
from gateway.store.keys import RedisKeys
from gateway.store.sharded_bus import event_bus
from tests.gateway.store.world import Node

CALLS: dict[str, Callable[[Node], Awaitable[Any]]] = {
    "create_session": lambda n: n.open("s1"),
    "promote": lambda n: n.sessions.promote("s1", now_ms=1, opening_messages=[]),
    "get_session": lambda n: n.sessions.get_session("s1"),
    "get_session_account": lambda n: n.sessions.get_session_account("s1"),
    "create_with_key": lambda n: n.sessions.create_with_key(
        account_id="a",
        fingerprint="fp",
        rate_bucket="b",
        rate_limit=1,
        rate_window_s=1,
        session_id="s1",
        token_hash="th",
        now_ms=1,
        heartbeat_timeout_ms=1,
        max_pending_sessions=1,
    ),
    "close_many": lambda n: n.sessions.close_many(["s1"], reason="preempted", now_ms=1),
    "list_sessions": lambda n: n.sessions.list_sessions(),
    "pending_sessions_for_key": lambda n: n.sessions.pending_sessions_for_key("a", "k"),
    "remember_ack": lambda n: n.sessions.remember_ack("s1", 1),
    "close_session": lambda n: n.sessions.close_session("s1", reason="preempted", now_ms=1),
    "touch": lambda n: n.sessions.touch("s1", now_ms=1, heartbeat_timeout_ms=1),
    "heartbeat": lambda n: n.sessions.heartbeat(
        "a", "s1", now_ms=1, heartbeat_timeout_ms=1, status=b"{}", ack_seq=0
    ),
    "record_init": lambda n: n.sessions.record_init("a", "s1", now_ms=1, payload=b"{}", ack_seq=0),
    "next_deadline_ms": lambda n: n.sessions.next_deadline_ms(),
    "close_expired": lambda n: n.sessions.close_expired(now_ms=1),
    "enqueue": lambda n: n.log.enqueue("a", "m1", b"{}"),
    "enqueue_many": lambda n: n.log.enqueue_many([("a", "m1", b"{}")]),
    "log_for_session": lambda n: n.log.log_for_session("a", "s1", b"{}"),
    "next_seq": lambda n: n.log.next_seq("a"),
    "read": lambda n: n.log.read("a", "s1", after_seq=0),
    "ack": lambda n: n.log.ack("a", "s1", 1),
    "pending_count": lambda n: n.log.pending_count("a"),
    "hold_intent": lambda n: n.sink.hold_intent("a", "s1", b"{}"),
    "publish_intent": lambda n: n.sink.publish_intent("a", "s1", b"{}"),
    "publish_ea_event": lambda n: n.sink.publish_ea_event("a", "s1", b"{}"),
    "record_ea_state": lambda n: n.sink.record_ea_state("a", kind="init", payload=b"{}", now_ms=1),
}


@pytest.mark.parametrize("method", sorted(CALLS))
async def test_redis_outage_raises_store_unavailable(
    down_client: aioredis.Redis, keys: RedisKeys, method: str
) -> None:
    node = Node.over(down_client, keys)
    with pytest.raises(StoreUnavailable) as info:
        await CALLS[method](node)
    assert info.value.__cause__ is not None


async def test_event_bus_publish_during_outage_raises_store_unavailable(
    down_client: aioredis.Redis, keys: RedisKeys
) -> None:
    bus = event_bus(down_client, keys)
    with pytest.raises(StoreUnavailable):
        await bus.publish("a", {"kind": "deliver"})
    await bus.aclose()


async def test_event_bus_subscription_waits_out_an_outage(
    down_client: aioredis.Redis, keys: RedisKeys
) -> None:
    """Subscribing never raises; the bus keeps reconnecting in the background."""
    bus = event_bus(down_client, keys, backoff_initial_s=0.01, backoff_max_s=0.02)
    events = bus.subscribe("a")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(events.ready(), 0.2)  # several reconnection attempts
    await bus.aclose()
    assert [e async for e in events] == []
