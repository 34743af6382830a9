"""Contract of `RedisIntentSink`: held intents, fenced stream appends, EA state."""

from __future__ import annotations

import orjson
import pytest
import redis.asyncio as aioredis

from gateway.errors import FencingError, LimitExceeded
from gateway.store.keys import RedisKeys
from tests.gateway.store.world import Node


def intent(ticket: int) -> bytes:
    return orjson.dumps(
        {
            "type": "OrderIntent",
            "id": f"i{ticket}",
            "ts": 1,
            "payload": {"action": "open", "ticket": ticket},
        }
    )


async def stream(redis_client: aioredis.Redis, name: str) -> list[dict[str, str]]:
    """Every entry of a stream, fields decoded."""
    entries = await redis_client.xrange(name)
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]


async def test_held_intents_reach_stream_in_order_on_promotion(
    node: Node, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await node.open("p1", authenticated=False)
    for ticket in (3, 1, 2):
        await node.sink.hold_intent("demo-1", "p1", intent(ticket))
    assert await stream(redis_client, keys.intent_stream(keys.partition_of("demo-1"))) == []

    result = await node.sessions.promote("p1", now_ms=2_000, opening_messages=[])

    assert result is not None and result.released_intents == 3
    assert await stream(redis_client, keys.intent_stream(keys.partition_of("demo-1"))) == [
        {"account_id": "demo-1", "session_id": "p1", "body": intent(t).decode()} for t in (3, 1, 2)
    ]
    assert await redis_client.llen(keys.held_intents("demo-1")) == 0


async def test_held_intents_of_a_preempted_session_are_never_released(
    node: Node, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await node.open("p1", authenticated=False, key_id="k-a")
    await node.open("p2", authenticated=False, key_id="k-b")
    await node.sink.hold_intent("demo-1", "p1", intent(1))
    await node.sink.hold_intent("demo-1", "p2", intent(2))

    result = await node.sessions.promote("p2", now_ms=2_000, opening_messages=[])

    assert result is not None and result.released_intents == 1
    assert [
        e["body"]
        for e in await stream(redis_client, keys.intent_stream(keys.partition_of("demo-1")))
    ] == [intent(2).decode()]
    assert await redis_client.llen(keys.held_intents("demo-1")) == 0


async def test_held_intents_of_a_closed_pending_session_are_dropped(
    node: Node, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await node.open("p1", authenticated=False)
    await node.sink.hold_intent("demo-1", "p1", intent(1))
    await node.sessions.close_session("p1", reason="client_shutdown", now_ms=2_000)
    assert await redis_client.llen(keys.held_intents("demo-1")) == 0


@pytest.mark.parametrize("situation", ["authenticated", "closed", "unknown"])
async def test_hold_intent_requires_a_live_pending_session(node: Node, situation: str) -> None:
    await node.open("a1")
    if situation == "closed":
        await node.open("p1", authenticated=False)
        await node.sessions.close_session("p1", reason="client_shutdown", now_ms=2_000)
    sid = {"authenticated": "a1", "closed": "p1", "unknown": "zz"}[situation]
    with pytest.raises(FencingError):
        await node.sink.hold_intent("demo-1", sid, intent(1))


async def test_hold_intent_refuses_when_the_account_holds_too_many(
    redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    node = Node.over(redis_client, keys, max_held_intents=2)
    await node.open("p1", authenticated=False)
    await node.sink.hold_intent("demo-1", "p1", intent(1))
    await node.sink.hold_intent("demo-1", "p1", intent(2))
    with pytest.raises(LimitExceeded):
        await node.sink.hold_intent("demo-1", "p1", intent(3))


async def test_publish_intent_appends_for_the_active_session(
    node: Node, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await node.open("a1")
    first = await node.sink.publish_intent("demo-1", "a1", intent(1))
    second = await node.sink.publish_intent("demo-1", "a1", intent(2))
    entries = await redis_client.xrange(keys.intent_stream(keys.partition_of("demo-1")))
    assert [entry_id.decode() for entry_id, _ in entries] == [first, second]
    assert [
        e["body"]
        for e in await stream(redis_client, keys.intent_stream(keys.partition_of("demo-1")))
    ] == [
        intent(1).decode(),
        intent(2).decode(),
    ]


async def test_publish_in_order_appends_a_sessions_run_of_intents_and_reports_in_order(
    node: Node, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await node.open("a1")
    report = b'{"type":"ExecutionReport","id":"r1","ts":1,"payload":{"command_id":"c1"}}'
    items = [("intents", intent(n)) for n in range(5)] + [("ea_inbox", report)]
    ids = await node.sink.publish_in_order("demo-1", "a1", items)
    partition = keys.partition_of("demo-1")
    entries = await redis_client.xrange(keys.intent_stream(partition))
    assert [entry_id.decode() for entry_id, _ in entries] == ids[:5]
    assert [e["body"] for e in await stream(redis_client, keys.intent_stream(partition))] == [
        intent(n).decode() for n in range(5)
    ]
    assert [e["body"] for e in await stream(redis_client, keys.ea_inbox_stream(partition))] == [
        report.decode()
    ]


async def test_publish_in_order_by_a_preempted_session_appends_nothing_and_says_why(
    node: Node, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await node.open("a1")
    await node.open("a2")
    results = await node.sink.publish_in_order(
        "demo-1", "a1", [("intents", intent(1)), ("intents", intent(2))]
    )
    assert [type(r) for r in results] == [FencingError, FencingError]
    assert all(isinstance(r, FencingError) and r.reason == "preempted" for r in results)
    assert await redis_client.xlen(keys.intent_stream(keys.partition_of("demo-1"))) == 0


@pytest.mark.parametrize("method", ["publish_intent", "publish_ea_event"])
async def test_stream_append_by_preempted_session_is_fenced(
    node: Node, redis_client: aioredis.Redis, keys: RedisKeys, method: str
) -> None:
    await node.open("a1")
    await node.open("a2")
    with pytest.raises(FencingError) as info:
        await getattr(node.sink, method)("demo-1", "a1", intent(1))
    assert info.value.reason == "preempted"
    assert await redis_client.xlen(keys.intent_stream(keys.partition_of("demo-1"))) == 0
    assert await redis_client.xlen(keys.ea_inbox_stream(keys.partition_of("demo-1"))) == 0


async def test_publish_intent_by_pending_session_is_fenced(node: Node) -> None:
    await node.open("p1", authenticated=False)
    with pytest.raises(FencingError):
        await node.sink.publish_intent("demo-1", "p1", intent(1))


async def test_publish_ea_event_goes_to_the_ea_inbox_stream(
    node: Node, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await node.open("a1")
    report = b'{"type":"ExecutionReport","id":"r1","ts":1,"payload":{"command_id":"c1"}}'
    await node.sink.publish_ea_event("demo-1", "a1", report)
    assert await stream(redis_client, keys.ea_inbox_stream(keys.partition_of("demo-1"))) == [
        {"account_id": "demo-1", "session_id": "a1", "body": report.decode()}
    ]
    assert await redis_client.xlen(keys.intent_stream(keys.partition_of("demo-1"))) == 0


async def test_appends_never_trim_an_intent_the_copier_has_not_finished(
    node: Node, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    # an approximate MAXLEN dropped the oldest entries, read or not: acknowledged
    # intents were lost once the copier fell that far behind
    stream_name = keys.intent_stream(keys.partition_of("demo-1"))
    await node.open("a1")
    await node.sink.publish_intent("demo-1", "a1", intent(0))
    await redis_client.xgroup_create(stream_name, "copiers", id="0")
    await redis_client.xreadgroup("copiers", "c1", {stream_name: ">"}, count=1)  # pending
    for ticket in range(1, 400):
        await node.sink.publish_intent("demo-1", "a1", intent(ticket))
    assert await redis_client.xlen(stream_name) == 400


async def test_an_explicit_stream_maxlen_still_trims_by_length(
    redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    # the opt-in length bound drops entries whether read or not; copygate sets none
    node = Node.over(redis_client, keys, stream_maxlen=10)
    await node.open("a1")
    for ticket in range(400):
        await node.sink.publish_intent("demo-1", "a1", intent(ticket))
    # approximate trimming drops whole macro nodes (100 entries on Redis 7)
    assert await redis_client.xlen(keys.intent_stream(keys.partition_of("demo-1"))) <= 10 + 100


async def test_record_ea_state_keeps_the_last_payload_of_each_kind(
    node: Node, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await node.sink.record_ea_state("demo-1", kind="init", payload=b'{"ack_seq":0}', now_ms=1)
    await node.sink.record_ea_state("demo-1", kind="status", payload=b'{"ack_seq":1}', now_ms=2)
    await node.sink.record_ea_state("demo-1", kind="status", payload=b'{"ack_seq":2}', now_ms=3)
    assert await redis_client.hgetall(keys.ea_state("demo-1")) == {
        b"init": b'{"ack_seq":0}',
        b"init_ms": b"1",
        b"status": b'{"ack_seq":2}',
        b"status_ms": b"3",
    }


async def test_record_ea_state_rejects_an_unknown_kind(node: Node) -> None:
    with pytest.raises(ValueError):
        await node.sink.record_ea_state("demo-1", kind="other", payload=b"{}", now_ms=1)
