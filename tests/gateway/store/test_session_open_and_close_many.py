"""Contract of `SessionStore.get_session_account` (a WebSocket handshake's one read) and
`SessionStore.close_many` (closing a node's sessions at shutdown in a few calls)."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from gateway.store import session_bulk_closing
from gateway.store.account_store import RedisAccountStore
from gateway.store.keys import RedisKeys
from gateway.store.records import AccountRecord
from gateway.store.sharded_bus import event_bus
from schemas.codes import Role, SessionState
from tests.gateway.store.world import Node

# ---- get_session_account ------------------------------------------------------------


async def test_session_comes_with_its_configured_account(
    node: Node, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    account = AccountRecord("demo-1", tenant_id="t1", role=Role.FOLLOWER, label="Bob")
    await RedisAccountStore(redis_client, keys).put_account(account)
    await node.open("a1")

    found = await node.sessions.get_session_account("a1")

    assert found == (await node.sessions.get_session("a1"), account)


async def test_session_of_an_unconfigured_account_comes_without_one(node: Node) -> None:
    await node.open("a1")  # the account hash holds session fields only

    found = await node.sessions.get_session_account("a1")

    assert found is not None and found[1] is None
    assert found[0].state is SessionState.AUTHENTICATED


async def test_closed_session_is_found_with_its_reason(node: Node) -> None:
    await node.open("a1")
    await node.open("a2")  # preempts a1

    found = await node.sessions.get_session_account("a1")

    assert found is not None
    assert (found[0].state, found[0].closed_reason) == (SessionState.CLOSED, "preempted")


async def test_unknown_session_is_not_found(node: Node) -> None:
    assert await node.sessions.get_session_account("nope") is None


async def test_expired_session_record_is_not_found(
    node: Node, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await node.open("a1")
    await redis_client.delete(keys.session("demo-1", "a1"))  # its TTL ran out

    assert await node.sessions.get_session_account("a1") is None


# ---- close_many ---------------------------------------------------------------------


async def test_close_many_closes_every_live_session_given_and_skips_the_rest(
    node: Node,
) -> None:
    await node.open("a1", account_id="demo-1")
    await node.open("a2", account_id="demo-2")
    await node.open("p3", account_id="demo-3", authenticated=False)
    await node.open("keep", account_id="demo-4")
    await node.sessions.close_session("a2", reason="client_shutdown", now_ms=2_000)

    closed = await node.sessions.close_many(
        ["p3", "a2", "nope", "a1"], reason="server_shutdown", now_ms=5_000
    )

    assert [(r.session_id, r.state, r.closed_reason, r.closed_ms) for r in closed] == [
        ("p3", SessionState.CLOSED, "server_shutdown", 5_000),
        ("a1", SessionState.CLOSED, "server_shutdown", 5_000),
    ]
    a2 = await node.sessions.get_session("a2")
    assert a2 is not None and a2.closed_reason == "client_shutdown"
    assert [r.session_id for r in await node.sessions.list_sessions()] == ["keep"]


async def test_close_many_frees_the_account_like_close_session(node: Node) -> None:
    await node.open("a1")
    await node.log.enqueue("demo-1", "m1", b'{"type":"OrderCommand","id":"m1","ts":1}')

    await node.sessions.close_many(["a1"], reason="server_shutdown", now_ms=5_000)

    assert await node.log.pending_count("demo-1") == (1, 0)
    held = await node.log.enqueue("demo-1", "m2", b'{"type":"OrderCommand","id":"m2","ts":1}')
    assert held.seq is None  # no active session any more: held
    assert await node.sessions.next_deadline_ms() is None


async def test_close_many_announces_each_close_on_its_account_channel(
    node: Node, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await node.open("a1", account_id="demo-1")
    await node.open("a2", account_id="demo-2")
    bus = event_bus(redis_client, keys)
    try:
        async with bus.subscribe("demo-1") as one, bus.subscribe("demo-2") as two:
            await one.ready()
            await two.ready()
            await node.sessions.close_many(["a1", "a2"], reason="server_shutdown", now_ms=5)
            got = [await asyncio.wait_for(anext(events), 2) for events in (one, two)]
    finally:
        await bus.aclose()
    assert got == [
        {"kind": "closed", "session_id": "a1", "reason": "server_shutdown"},
        {"kind": "closed", "session_id": "a2", "reason": "server_shutdown"},
    ]


async def test_close_many_works_through_more_ids_than_one_call_takes(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_bulk_closing, "CLOSE_MANY_CHUNK", 2)
    ids = [f"s{n}" for n in range(5)]
    for n, sid in enumerate(ids):
        await node.open(sid, account_id=f"demo-{n}")

    closed = await node.sessions.close_many(ids, reason="server_shutdown", now_ms=5_000)

    assert [r.session_id for r in closed] == ids
    assert await node.sessions.list_sessions() == []


async def test_close_many_of_nothing_closes_nothing(node: Node) -> None:
    await node.open("a1")

    assert await node.sessions.close_many([], reason="server_shutdown", now_ms=5_000) == []
    assert [r.session_id for r in await node.sessions.list_sessions()] == ["a1"]
