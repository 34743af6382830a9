"""Contract of `RedisDeliveryLog`: numbering, holding, renumbering, fenced acks."""

from __future__ import annotations

import asyncio
from itertools import pairwise

import orjson
import pytest
import redis.asyncio as aioredis

from gateway.errors import DeliveryLogFull, FencingError, LimitExceeded
from gateway.store.keys import RedisKeys
from gateway.store.records import EnqueueResult, LogEntry
from gateway.store.sharded_bus import event_bus
from tests.gateway.store.world import Node, envelope


async def ids_read_by(node: Node, session_id: str, after_seq: int = 0) -> list[tuple[int, str]]:
    """(seq, envelope id) of what the session would receive after `after_seq`."""
    entries = await node.log.read("demo-1", session_id, after_seq=after_seq)
    return [(e.seq, orjson.loads(e.body)["id"]) for e in entries]


def ids(pairs: list[tuple[int, str]]) -> list[str]:
    return [envelope_id for _, envelope_id in pairs]


def assert_strictly_increasing(seqs: list[int]) -> None:
    assert all(a < b for a, b in pairwise(seqs)), seqs


# ---- enqueue ----------------------------------------------------------------------


async def test_enqueue_without_active_session_holds_the_message(node: Node) -> None:
    await node.open("p1", authenticated=False)
    assert await node.log.enqueue("demo-1", "m1", envelope("m1")) == EnqueueResult(seq=None)
    assert await node.log.pending_count("demo-1") == (0, 1)


async def test_enqueue_with_active_session_numbers_at_once(node: Node) -> None:
    await node.open("a1")
    first = await node.log.enqueue("demo-1", "m1", envelope("m1"))
    second = await node.log.enqueue("demo-1", "m2", envelope("m2"))
    assert first.seq is not None and second.seq == first.seq + 1
    assert await ids_read_by(node, "a1") == [(first.seq, "m1"), (second.seq, "m2")]
    assert await node.log.pending_count("demo-1") == (2, 0)


async def test_read_returns_the_body_exactly_and_with_seq_splices_it(node: Node) -> None:
    await node.open("a1")
    body = envelope("m1", volume=0.1, symbol="EURUSD")
    seq = (await node.log.enqueue("demo-1", "m1", body)).seq
    assert seq is not None

    [entry] = await node.log.read("demo-1", "a1", after_seq=0)

    assert entry == LogEntry(seq=seq, body=body)
    assert orjson.loads(entry.with_seq()) == {"seq": seq, **orjson.loads(body)}


async def test_duplicate_envelope_id_is_enqueued_once(node: Node) -> None:
    await node.open("p1", authenticated=False)
    await node.log.enqueue("demo-1", "held", envelope("held"))
    assert await node.log.enqueue("demo-1", "held", envelope("held")) == EnqueueResult(
        seq=None, duplicate=True
    )
    await node.open("a1")
    numbered = await node.log.enqueue("demo-1", "m1", envelope("m1"))
    again = await node.log.enqueue("demo-1", "m1", envelope("m1", changed=True))

    assert again == EnqueueResult(seq=numbered.seq, duplicate=True)
    assert ids(await ids_read_by(node, "a1")) == ["held", "m1"]


async def test_acknowledged_envelope_id_is_forgotten(node: Node) -> None:
    await node.open("a1")
    first = await node.log.enqueue("demo-1", "m1", envelope("m1"))
    assert first.seq is not None
    await ids_read_by(node, "a1")
    await node.log.ack("demo-1", "a1", first.seq)

    again = await node.log.enqueue("demo-1", "m1", envelope("m1"))

    assert again.duplicate is False and again.seq is not None and again.seq > first.seq


async def test_log_refuses_enqueue_when_full(redis_client: aioredis.Redis, keys: RedisKeys) -> None:
    node = Node.over(redis_client, keys, max_log_entries=3)
    await node.log.enqueue("demo-1", "h1", envelope("h1"))  # held
    await node.open("a1")
    await node.log.enqueue("demo-1", "m2", envelope("m2"))
    await node.log.enqueue("demo-1", "m3", envelope("m3"))

    with pytest.raises(DeliveryLogFull) as info:
        await node.log.enqueue("demo-1", "m4", envelope("m4"))

    assert isinstance(info.value, LimitExceeded) and info.value.retry_after_s > 0
    assert await node.log.pending_count("demo-1") == (3, 0)
    await ids_read_by(node, "a1")
    await node.log.ack("demo-1", "a1", 10**9)
    assert (await node.log.enqueue("demo-1", "m4", envelope("m4"))).seq is not None


async def test_enqueue_announces_deliver(
    node: Node, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await node.open("a1")
    bus = event_bus(redis_client, keys)
    try:
        async with bus.subscribe("demo-1") as events:
            await events.ready()
            await node.log.enqueue("demo-1", "m1", envelope("m1"))
            assert await asyncio.wait_for(anext(events), 2) == {"kind": "deliver"}
    finally:
        await bus.aclose()


# ---- activation -------------------------------------------------------------------


async def test_held_messages_are_numbered_after_activation(node: Node) -> None:
    await node.log.enqueue("demo-1", "m1", envelope("m1"))
    await node.log.enqueue("demo-1", "m2", envelope("m2"))
    await node.log.next_seq("demo-1")  # a seq handed out meanwhile, e.g. to an ErrorAlert
    await node.open("a1")

    got = await ids_read_by(node, "a1")

    assert ids(got) == ["m1", "m2"]
    assert [seq for seq, _ in got] == [2, 3]
    assert await node.log.pending_count("demo-1") == (2, 0)


async def test_promotion_logs_opening_messages_before_backlog(node: Node) -> None:
    await node.open("a1")
    await node.log.enqueue("demo-1", "unacked", envelope("unacked"))
    await node.sessions.close_session("a1", reason="heartbeat_timeout", now_ms=2_000)
    await node.log.enqueue("demo-1", "held", envelope("held"))
    await node.open("p1", authenticated=False)
    opening = [envelope("ssc", "SessionStateChange"), envelope("ack", "InitAck")]

    result = await node.sessions.promote("p1", now_ms=3_000, opening_messages=opening)

    assert result is not None
    got = await ids_read_by(node, "p1")
    assert ids(got) == ["ssc", "ack", "unacked", "held"]
    assert_strictly_increasing([seq for seq, _ in got])


async def test_unacked_messages_keep_their_seq_on_a_new_authenticated_session(
    node: Node,
) -> None:
    await node.open("a1")
    for i in range(3):
        await node.log.enqueue("demo-1", f"m{i}", envelope(f"m{i}"))
    await ids_read_by(node, "a1")
    await node.log.ack("demo-1", "a1", 1)
    before = await ids_read_by(node, "a1")

    await node.open("a2")

    assert await ids_read_by(node, "a2") == before == [(2, "m1"), (3, "m2")]
    await node.log.ack("demo-1", "a2", 2)  # the new EA's ack_seq still means the same
    assert ids(await ids_read_by(node, "a2")) == ["m2"]


async def test_unacked_messages_are_renumbered_after_opening_messages_on_promotion(
    node: Node,
) -> None:
    await node.open("a1")
    for i in range(3):
        await node.log.enqueue("demo-1", f"m{i}", envelope(f"m{i}"))
    await ids_read_by(node, "a1")
    await node.log.ack("demo-1", "a1", 1)
    before = await ids_read_by(node, "a1")
    await node.open("p1", authenticated=False)

    await node.sessions.promote("p1", now_ms=2_000, opening_messages=[envelope("ssc")])

    after = await ids_read_by(node, "p1")
    assert ids(after) == ["ssc", *ids(before)] == ["ssc", "m1", "m2"]
    assert min(seq for seq, _ in after) > max(seq for seq, _ in before)
    assert_strictly_increasing([seq for seq, _ in after])


async def test_promotion_drops_what_the_pending_session_reported_as_processed(
    node: Node,
) -> None:
    await node.open("a1")
    for i in range(3):
        await node.log.enqueue("demo-1", f"m{i}", envelope(f"m{i}"))
    read = await ids_read_by(node, "a1")
    await node.open("p1", authenticated=False)
    await node.sessions.remember_ack("p1", read[1][0])
    await node.sessions.remember_ack("p1", read[0][0])  # the highest report wins

    await node.sessions.promote("p1", now_ms=2_000, opening_messages=[envelope("ssc")])

    assert ids(await ids_read_by(node, "p1")) == ["ssc", "m2"]


async def test_remembered_ack_is_clamped_to_what_was_handed_out(node: Node) -> None:
    await node.open("a1")
    for i in range(3):
        await node.log.enqueue("demo-1", f"m{i}", envelope(f"m{i}"))
    await node.log.read("demo-1", "a1", after_seq=0, limit=1)  # only m0 was handed out
    await node.open("p1", authenticated=False)
    await node.sessions.remember_ack("p1", 10**9)

    await node.sessions.promote("p1", now_ms=2_000, opening_messages=[])

    assert ids(await ids_read_by(node, "p1")) == ["m1", "m2"]


async def test_remember_ack_is_ignored_for_a_session_that_is_not_pending(node: Node) -> None:
    await node.open("a1")
    await node.log.enqueue("demo-1", "m0", envelope("m0"))
    await ids_read_by(node, "a1")
    await node.sessions.remember_ack("a1", 10)
    await node.sessions.remember_ack("unknown", 10)
    assert ids(await ids_read_by(node, "a1")) == ["m0"]


async def test_messages_bound_to_a_closed_session_are_dropped_on_activation(node: Node) -> None:
    await node.open("a1")
    await node.log.log_for_session("demo-1", "a1", envelope("init-ack-a1", "InitAck"))
    await node.log.enqueue("demo-1", "m1", envelope("m1"))

    await node.open("a2")

    assert ids(await ids_read_by(node, "a2")) == ["m1"]
    assert await node.log.pending_count("demo-1") == (1, 0)


async def test_seq_is_never_reused_across_sessions(node: Node) -> None:
    seen: list[int] = []
    for round_no in range(4):
        sid = f"a{round_no}"
        await node.open(sid)
        for i in range(3):
            result = await node.log.enqueue("demo-1", f"m{round_no}-{i}", envelope("x"))
            assert result.seq is not None
            seen.append(result.seq)
        seen.append(await node.log.log_for_session("demo-1", sid, envelope(f"s{round_no}")))
        seen.append(await node.log.next_seq("demo-1"))
        await ids_read_by(node, sid)
        await node.log.ack("demo-1", sid, seen[-3])  # leaves the session message unacked
    assert_strictly_increasing(seen)


# ---- read and ack -----------------------------------------------------------------


async def test_read_returns_entries_after_the_given_seq_up_to_the_limit(node: Node) -> None:
    await node.open("a1")
    for i in range(5):
        await node.log.enqueue("demo-1", f"m{i}", envelope(f"m{i}"))
    entries = await node.log.read("demo-1", "a1", after_seq=2, limit=2)
    assert [e.seq for e in entries] == [3, 4]


@pytest.mark.parametrize("situation", ["pending", "preempted", "unknown"])
async def test_read_is_empty_for_a_session_that_is_not_active(node: Node, situation: str) -> None:
    await node.open("a1")
    await node.log.enqueue("demo-1", "m1", envelope("m1"))
    if situation == "pending":
        await node.open("other", authenticated=False)
    elif situation == "preempted":
        await node.open("a2")
    sid = {"pending": "other", "preempted": "a1", "unknown": "zz"}[situation]
    assert await node.log.read("demo-1", sid, after_seq=0) == []


async def test_ack_drops_acknowledged_entries_and_returns_acked_seq(node: Node) -> None:
    await node.open("a1")
    for i in range(3):
        await node.log.enqueue("demo-1", f"m{i}", envelope(f"m{i}"))
    await ids_read_by(node, "a1")
    assert await node.log.ack("demo-1", "a1", 2) == 2
    assert await node.log.pending_count("demo-1") == (1, 0)
    assert ids(await ids_read_by(node, "a1")) == ["m2"]


async def test_ack_clamps_to_the_highest_seq_returned_by_read(node: Node) -> None:
    await node.open("a1")
    await node.log.enqueue("demo-1", "m1", envelope("m1"))
    assert await node.log.ack("demo-1", "a1", 10**12) == 0  # nothing handed out yet
    await node.log.enqueue("demo-1", "m2", envelope("m2"))
    await node.log.read("demo-1", "a1", after_seq=0, limit=1)

    assert await node.log.ack("demo-1", "a1", 10**12) == 1

    later = await node.log.enqueue("demo-1", "m3", envelope("m3"))
    assert later.seq == 3
    assert ids(await ids_read_by(node, "a1", after_seq=1)) == ["m2", "m3"]


async def test_acked_seq_never_decreases(node: Node) -> None:
    await node.open("a1")
    for i in range(3):
        await node.log.enqueue("demo-1", f"m{i}", envelope(f"m{i}"))
    await ids_read_by(node, "a1")
    assert await node.log.ack("demo-1", "a1", 3) == 3
    assert await node.log.ack("demo-1", "a1", 1) == 3


async def test_ack_by_preempted_session_is_fenced(node: Node) -> None:
    await node.open("a1")
    await node.log.enqueue("demo-1", "m1", envelope("m1"))
    await node.open("a2")

    with pytest.raises(FencingError) as info:
        await node.log.ack("demo-1", "a1", 10)

    assert (info.value.session_id, info.value.reason) == ("a1", "preempted")
    assert await node.log.pending_count("demo-1") == (1, 0)


async def test_ack_by_pending_session_is_fenced_without_reason(node: Node) -> None:
    await node.open("p1", authenticated=False)
    with pytest.raises(FencingError) as info:
        await node.log.ack("demo-1", "p1", 1)
    assert info.value.reason is None


# ---- session-bound messages -------------------------------------------------------


async def test_log_for_session_numbers_a_message_only_that_session_receives(node: Node) -> None:
    await node.open("a1")
    seq = await node.log.log_for_session("demo-1", "a1", envelope("init-ack", "InitAck"))
    assert await ids_read_by(node, "a1") == [(seq, "init-ack")]


async def test_log_for_session_is_fenced_when_session_is_not_active(node: Node) -> None:
    await node.open("p1", authenticated=False)
    with pytest.raises(FencingError):
        await node.log.log_for_session("demo-1", "p1", envelope("x", "InitAck"))
    assert await node.log.pending_count("demo-1") == (0, 0)


async def test_next_seq_hands_out_a_fresh_seq_each_time(node: Node) -> None:
    assert [await node.log.next_seq("demo-1") for _ in range(3)] == [1, 2, 3]
    assert await node.log.next_seq("demo-2") == 1
