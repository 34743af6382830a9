"""Contract of `SessionStore.record_init`: the InitRequest payload + ack in one atomic
call, for the account's active session only (what `heartbeat` is for a StatusHeartbeat)."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from gateway.errors import FencingError
from gateway.store.intent_sink import RedisIntentSink
from gateway.store.keys import RedisKeys
from tests.gateway.store.world import Node, envelope

INIT = b'{"ack_seq":0,"account":{"balance":1000,"equity":1000}}'


async def init(node: Node, session_id: str, *, now_ms: int = 4_000, ack_seq: int = 0) -> int:
    return await node.sessions.record_init(
        "demo-1", session_id, now_ms=now_ms, payload=INIT, ack_seq=ack_seq
    )


async def test_init_keeps_the_payload_like_record_ea_state(
    node: Node, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await node.open("a1")
    await RedisIntentSink(redis_client, keys).record_ea_state(
        "demo-2", kind="init", payload=INIT, now_ms=4_000
    )

    await init(node, "a1", now_ms=4_000)

    state = await redis_client.hgetall(keys.ea_state("demo-1"))
    assert state == await redis_client.hgetall(keys.ea_state("demo-2"))
    assert state == {b"init": INIT, b"init_ms": b"4000"}


async def test_init_acknowledges_clamped_to_what_was_read(node: Node) -> None:
    await node.open("a1")
    for n in range(3):
        await node.log.enqueue("demo-1", f"m{n}", envelope(f"m{n}"))
    [first, *_] = await node.log.read("demo-1", "a1", after_seq=0, limit=1)

    acked = await init(node, "a1", ack_seq=10**9)

    assert acked == first.seq
    assert [e.seq for e in await node.log.read("demo-1", "a1", after_seq=0)] == [
        first.seq + 1,
        first.seq + 2,
    ]


async def test_init_does_not_count_as_a_heartbeat(node: Node) -> None:
    await node.open("a1", now_ms=1_000)

    await init(node, "a1", now_ms=4_000)

    record = await node.sessions.get_session("a1")
    assert record is not None and record.last_heartbeat_ms == 1_000


async def test_init_of_a_session_that_is_not_active_is_fenced_and_changes_nothing(
    node: Node, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await node.open("a1")
    await node.open("a2")  # preempts a1
    await node.open("p1", authenticated=False)

    with pytest.raises(FencingError) as info:
        await init(node, "a1")
    assert (info.value.session_id, info.value.reason) == ("a1", "preempted")
    with pytest.raises(FencingError) as pending:
        await init(node, "p1")
    assert pending.value.reason is None

    assert await redis_client.hgetall(keys.ea_state("demo-1")) == {}
