"""Contract of `RedisSessionStore`: creation, preemption, promotion, heartbeats, closing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from gateway.errors import FencingError, TooManyPendingSessions
from gateway.store.keys import RedisKeys
from gateway.store.sharded_bus import event_bus
from schemas.codes import SessionState
from tests.gateway.store.world import HEARTBEAT_TIMEOUT_MS, Node


async def state_of(node: Node, session_id: str) -> tuple[SessionState, str | None]:
    record = await node.sessions.get_session(session_id)
    assert record is not None
    return record.state, record.closed_reason


# ---- creation ---------------------------------------------------------------------


async def test_created_session_round_trips_every_field(node: Node) -> None:
    client = {"platform": "mt4", "ea_version": "1.0.0", "terminal_build": 1440}
    created = await node.sessions.create_session(
        account_id="demo-1",
        session_id="s1",
        token_hash="th",
        key_id=None,
        authenticated=False,
        now_ms=1_763_800_000_123,
        heartbeat_timeout_ms=15_000,
        max_pending_sessions=3,
        client=client,
    )
    record = created.session
    assert (record.session_id, record.account_id, record.state) == ("s1", "demo-1", "pending")
    assert (record.key_id, record.generation, record.token_hash) == (None, 0, "th")
    assert (record.created_ms, record.last_heartbeat_ms) == (1_763_800_000_123,) * 2
    assert (record.closed_reason, record.closed_ms, record.client) == (None, None, client)
    assert await node.sessions.get_session("s1") == record


async def test_get_session_returns_none_for_unknown_id(node: Node) -> None:
    assert await node.sessions.get_session("nope") is None


async def test_authenticated_session_preempts_every_live_session(node: Node) -> None:
    await node.open("p1", authenticated=False, key_id="k-a")
    await node.open("a1")
    await node.open("p2", authenticated=False, key_id="k-b")

    created = await node.open("a2")

    assert set(created.preempted) == {"a1", "p2"}
    assert created.session.state is SessionState.AUTHENTICATED
    for sid in ("a1", "p1", "p2"):
        assert await state_of(node, sid) == (SessionState.CLOSED, "preempted")
    assert [r.session_id for r in await node.sessions.list_sessions("demo-1")] == ["a2"]


async def test_pending_session_never_preempts(node: Node) -> None:
    await node.open("a1")
    created = await node.open("p1", authenticated=False)

    assert created.preempted == ()
    assert await state_of(node, "a1") == (SessionState.AUTHENTICATED, None)
    live = await node.sessions.list_sessions("demo-1")
    assert [(r.session_id, r.state) for r in live] == [("a1", "authenticated"), ("p1", "pending")]


async def test_preemption_stays_within_the_account(node: Node) -> None:
    await node.open("a1", account_id="demo-1")
    created = await node.open("b1", account_id="demo-2")
    assert created.preempted == ()
    assert await state_of(node, "a1") == (SessionState.AUTHENTICATED, None)


async def test_pending_session_beyond_the_limit_is_refused(node: Node) -> None:
    await node.open("p1", authenticated=False, max_pending=2)
    await node.open("p2", authenticated=False, max_pending=2)
    with pytest.raises(TooManyPendingSessions) as info:
        await node.open("p3", authenticated=False, max_pending=2)
    assert info.value.retry_after_s == HEARTBEAT_TIMEOUT_MS // 1000
    assert await node.sessions.get_session("p3") is None


async def test_authenticated_session_is_accepted_when_pending_limit_is_reached(node: Node) -> None:
    await node.open("p1", authenticated=False, max_pending=1)
    created = await node.open("a1", max_pending=1)
    assert created.preempted == ("p1",)


async def test_generation_grows_with_every_activation(node: Node) -> None:
    first = await node.open("a1")
    await node.open("p1", authenticated=False)
    promoted = await node.sessions.promote("p1", now_ms=2_000, opening_messages=[])
    third = await node.open("a3")
    assert promoted is not None
    assert first.session.generation < promoted.session.generation < third.session.generation


# ---- promotion --------------------------------------------------------------------


async def test_promotion_activates_and_preempts_every_other_live_session(node: Node) -> None:
    await node.open("a1")
    await node.open("p1", authenticated=False, key_id="k-a")
    await node.open("p2", authenticated=False, key_id="k-b")

    result = await node.sessions.promote("p1", now_ms=2_000, opening_messages=[])

    assert result is not None
    assert result.session.state is SessionState.AUTHENTICATED
    assert set(result.preempted) == {"a1", "p2"}
    assert result.released_intents == 0
    assert await state_of(node, "p2") == (SessionState.CLOSED, "preempted")


@pytest.mark.parametrize("situation", ["authenticated", "closed", "unknown"])
async def test_promote_changes_nothing_when_session_is_not_pending(
    node: Node, situation: str
) -> None:
    await node.open("a1")
    if situation == "closed":
        await node.open("p1", authenticated=False)
        await node.sessions.close_session("p1", reason="client_shutdown", now_ms=1_500)
    sid = {"authenticated": "a1", "closed": "p1", "unknown": "zz"}[situation]

    assert await node.sessions.promote(sid, now_ms=2_000, opening_messages=[b"{}"]) is None
    assert await state_of(node, "a1") == (SessionState.AUTHENTICATED, None)


# ---- listing ----------------------------------------------------------------------


async def test_list_sessions_without_account_lists_every_live_session(node: Node) -> None:
    await node.open("a1", account_id="demo-1")
    await node.open("b1", account_id="demo-2", authenticated=False)
    await node.open("b2", account_id="demo-2")  # preempts b1
    listed = {r.session_id for r in await node.sessions.list_sessions()}
    assert listed == {"a1", "b2"}


async def test_pending_sessions_for_key_lists_that_keys_sessions_oldest_first(node: Node) -> None:
    await node.open("p2", authenticated=False, key_id="k-a", now_ms=2_000)
    await node.open("p1", authenticated=False, key_id="k-a", now_ms=1_000)
    await node.open("p3", authenticated=False, key_id="k-b", now_ms=3_000)
    assert await node.sessions.pending_sessions_for_key("demo-1", "k-a") == ["p1", "p2"]


# ---- closing ----------------------------------------------------------------------


async def test_closed_session_keeps_its_record_with_reason_for_the_ttl(
    redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    node = Node.over(redis_client, keys, closed_session_ttl_s=600)
    await node.open("a1")

    closed = await node.sessions.close_session("a1", reason="client_shutdown", now_ms=5_000)

    assert closed is not None
    assert closed.state is SessionState.CLOSED
    assert (closed.closed_reason, closed.closed_ms) == ("client_shutdown", 5_000)
    assert await node.sessions.get_session("a1") == closed
    assert 0 < await redis_client.ttl(keys.session("demo-1", "a1")) <= 600
    assert await node.sessions.list_sessions("demo-1") == []
    assert await node.sessions.next_deadline_ms() is None


async def test_close_session_returns_none_when_it_was_not_live(node: Node) -> None:
    await node.open("a1")
    await node.sessions.close_session("a1", reason="client_shutdown", now_ms=5_000)
    assert await node.sessions.close_session("a1", reason="preempted", now_ms=6_000) is None
    assert await node.sessions.close_session("nope", reason="preempted", now_ms=6_000) is None
    assert await state_of(node, "a1") == (SessionState.CLOSED, "client_shutdown")


async def test_closing_is_announced_on_the_account_channel(
    node: Node, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    bus = event_bus(redis_client, keys)
    try:
        async with bus.subscribe("demo-1") as events:
            await events.ready()
            await node.open("p1", authenticated=False)
            await node.open("a1")
            await node.sessions.close_session("a1", reason="closed_by_operator", now_ms=2_000)
            got = [await asyncio.wait_for(anext(events), 2) for _ in range(3)]
    finally:
        await bus.aclose()
    assert got == [
        {"kind": "closed", "session_id": "p1", "reason": "preempted"},
        {"kind": "deliver"},
        {"kind": "closed", "session_id": "a1", "reason": "closed_by_operator"},
    ]


# ---- heartbeats -------------------------------------------------------------------


async def test_touch_pushes_the_deadline_and_records_the_heartbeat(node: Node) -> None:
    await node.open("a1", now_ms=1_000)
    assert await node.sessions.next_deadline_ms() == 1_000 + HEARTBEAT_TIMEOUT_MS

    await node.sessions.touch("a1", now_ms=4_000, heartbeat_timeout_ms=3_000)

    assert await node.sessions.next_deadline_ms() == 7_000
    record = await node.sessions.get_session("a1")
    assert record is not None and record.last_heartbeat_ms == 4_000


async def test_touch_of_a_closed_session_is_fenced_with_its_reason(node: Node) -> None:
    await node.open("a1")
    await node.open("a2")
    with pytest.raises(FencingError) as info:
        await node.sessions.touch("a1", now_ms=2_000, heartbeat_timeout_ms=3_000)
    assert (info.value.session_id, info.value.reason) == ("a1", "preempted")
    with pytest.raises(FencingError):
        await node.sessions.touch("unknown", now_ms=2_000, heartbeat_timeout_ms=3_000)


async def test_next_deadline_is_the_earliest_of_all_accounts(node: Node) -> None:
    await node.open("a1", account_id="demo-1", now_ms=5_000)
    await node.open("b1", account_id="demo-2", now_ms=2_000)
    assert await node.sessions.next_deadline_ms() == 2_000 + HEARTBEAT_TIMEOUT_MS


async def test_sessions_past_their_deadline_close_with_heartbeat_timeout(node: Node) -> None:
    await node.open("a1", now_ms=1_000)  # deadline 16_000
    await node.open("b1", account_id="demo-2", now_ms=10_000)  # deadline 25_000

    assert await node.sessions.close_expired(now_ms=16_000) == []  # deadline < now only
    closed = await node.sessions.close_expired(now_ms=16_001)

    assert [(r.session_id, r.closed_reason, r.closed_ms) for r in closed] == [
        ("a1", "heartbeat_timeout", 16_001)
    ]
    assert await state_of(node, "b1") == (SessionState.AUTHENTICATED, None)
    assert await node.sessions.next_deadline_ms() == 25_000


async def test_expired_sessions_close_exactly_once_under_concurrent_monitors(
    redis_client: aioredis.Redis, keys: RedisKeys, make_client: Callable[[], aioredis.Redis]
) -> None:
    first = Node.over(redis_client, keys)
    for i in range(60):
        await first.open(
            f"s{i}",
            account_id=f"acct-{i % 7}",
            authenticated=i % 2 == 0,
            now_ms=1_000 + i,
            max_pending=100,
        )
    live_before = await first.sessions.list_sessions()
    monitors = [first] + [Node.over(make_client(), keys) for _ in range(4)]

    batches = await asyncio.gather(
        *(m.sessions.close_expired(now_ms=10**9, limit=7) for m in monitors for _ in range(5))
    )
    batches.append(await first.sessions.close_expired(now_ms=10**9))

    closed = [r.session_id for batch in batches for r in batch]
    assert sorted(closed) == sorted(r.session_id for r in live_before)
    assert len(closed) == len(set(closed))
    assert await first.sessions.list_sessions() == []


async def test_expired_closed_records_leave_the_session_index(
    redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    node = Node.over(redis_client, keys, closed_session_ttl_s=60)
    await node.open("a1", now_ms=1_000)
    await node.sessions.close_session("a1", reason="client_shutdown", now_ms=2_000)
    await node.sessions.close_expired(now_ms=2_000 + 59_000)
    index = keys.session_index(keys.partition_of("a1"))  # one index on a single Redis
    assert await redis_client.hexists(index, "a1")

    await node.sessions.close_expired(now_ms=2_000 + 60_000)

    assert not await redis_client.hexists(index, "a1")
    assert not await redis_client.exists(keys.closed_sessions(keys.partition_of("demo-1")))


# ---- live counts by state ---------------------------------------------------------


async def test_store_counts_live_sessions_by_state_at_every_state_change(node: Node) -> None:
    def counts(pending: int, authenticated: int) -> dict[SessionState, int]:
        return {SessionState.PENDING: pending, SessionState.AUTHENTICATED: authenticated}

    assert await node.sessions.count_by_state() == counts(0, 0)
    await node.open("p1", authenticated=False, key_id="k-a")
    await node.open("p2", authenticated=False, key_id="k-b")
    await node.open("x1", account_id="demo-2")
    assert await node.sessions.count_by_state() == counts(2, 1)

    await node.sessions.promote("p1", now_ms=2_000, opening_messages=[])  # preempts p2
    assert await node.sessions.count_by_state() == counts(0, 2)

    await node.sessions.close_session("x1", reason="client_shutdown", now_ms=3_000)
    await node.sessions.close_session("x1", reason="client_shutdown", now_ms=3_001)  # no-op
    assert await node.sessions.count_by_state() == counts(0, 1)

    await node.open("p3", authenticated=False, key_id="k-c", account_id="demo-3")
    await node.sessions.close_expired(now_ms=1_000 + HEARTBEAT_TIMEOUT_MS + 1)
    assert await node.sessions.count_by_state() == counts(0, 0)


async def test_store_leaves_counts_alone_when_a_session_from_before_counting_changes_state(
    node: Node, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await node.open("old-p", authenticated=False, key_id="k-a")
    await node.open("old-a", account_id="demo-2")
    for account, sid in (("demo-1", "old-p"), ("demo-2", "old-a")):  # as an older version wrote
        await redis_client.hdel(keys.session(account, sid), "counted")
    for partition in range(keys.partition_count):
        await redis_client.delete(keys.session_counts(partition))
    await node.open("new", account_id="demo-3")

    await node.sessions.promote("old-p", now_ms=2_000, opening_messages=[])
    await node.sessions.close_session("old-a", reason="client_shutdown", now_ms=2_000)

    assert await node.sessions.count_by_state() == {
        SessionState.PENDING: 0,
        SessionState.AUTHENTICATED: 1,
    }
