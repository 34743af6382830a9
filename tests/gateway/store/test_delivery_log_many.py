"""Contract of `DeliveryLog.enqueue_many`: many items, many accounts, one call, each
item exactly as `enqueue` would treat it."""

from __future__ import annotations

import asyncio

import orjson
import pytest
import redis.asyncio as aioredis

from gateway.store.delivery_log import ENQUEUE_CHUNK
from gateway.store.keys import RedisKeys
from gateway.store.records import EnqueueResult
from gateway.store.sharded_bus import event_bus
from tests.gateway.store.world import Node, envelope


async def read_ids(node: Node, account: str, session_id: str) -> list[tuple[int, str]]:
    entries = await node.log.read(account, session_id, after_seq=0, limit=10_000)
    return [(e.seq, orjson.loads(e.body)["id"]) for e in entries]


async def test_enqueue_many_numbers_each_active_account_in_item_order(node: Node) -> None:
    await node.open("a1", account_id="acc-1")
    await node.open("b1", account_id="acc-2")

    results = await node.log.enqueue_many(
        [
            ("acc-1", "m1", envelope("m1")),
            ("acc-2", "n1", envelope("n1")),
            ("acc-1", "m2", envelope("m2")),
        ]
    )

    first, other, second = results
    assert first.seq is not None and second.seq == first.seq + 1
    assert other.seq is not None and not any(r.duplicate or r.full for r in results)
    assert await read_ids(node, "acc-1", "a1") == [(first.seq, "m1"), (second.seq, "m2")]
    assert await read_ids(node, "acc-2", "b1") == [(other.seq, "n1")]


async def test_enqueue_many_holds_messages_of_accounts_without_active_session(
    node: Node,
) -> None:
    await node.open("a1", account_id="acc-1")

    results = await node.log.enqueue_many(
        [("acc-1", "m1", envelope("m1")), ("acc-off", "h1", envelope("h1"))]
    )

    assert results[0].seq is not None
    assert results[1] == EnqueueResult(seq=None)
    assert await node.log.pending_count("acc-off") == (0, 1)
    await node.open("o1", account_id="acc-off")
    assert [i for _, i in await read_ids(node, "acc-off", "o1")] == ["h1"]


async def test_enqueue_many_drops_ids_already_queued_like_enqueue(node: Node) -> None:
    await node.open("a1", account_id="acc-1")
    queued = await node.log.enqueue("acc-1", "m1", envelope("m1"))

    results = await node.log.enqueue_many(
        [
            ("acc-1", "m1", envelope("m1", changed=True)),
            ("acc-1", "m2", envelope("m2")),
            ("acc-1", "m2", envelope("m2", changed=True)),
        ]
    )

    assert results[0] == EnqueueResult(seq=queued.seq, duplicate=True)
    assert results[1].seq is not None and not results[1].duplicate
    assert results[2] == EnqueueResult(seq=results[1].seq, duplicate=True)
    assert [i for _, i in await read_ids(node, "acc-1", "a1")] == ["m1", "m2"]


async def test_enqueue_many_reports_full_logs_without_holding_back_other_items(
    redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    node = Node.over(redis_client, keys, max_log_entries=2)
    await node.open("a1", account_id="acc-1")
    await node.open("b1", account_id="acc-2")

    results = await node.log.enqueue_many(
        [
            ("acc-1", "m1", envelope("m1")),
            ("acc-1", "m2", envelope("m2")),
            ("acc-1", "m3", envelope("m3")),
            ("acc-2", "n1", envelope("n1")),
        ]
    )

    assert [r.full for r in results] == [False, False, True, False]
    assert results[2] == EnqueueResult(seq=None, full=True)
    assert await node.log.pending_count("acc-1") == (2, 0)
    assert [i for _, i in await read_ids(node, "acc-2", "b1")] == ["n1"]


async def test_enqueue_many_of_nothing_is_nothing(node: Node) -> None:
    assert await node.log.enqueue_many([]) == []


async def test_enqueue_many_splits_long_batches_and_keeps_their_order(
    redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    node = Node.over(redis_client, keys, max_log_entries=10 * ENQUEUE_CHUNK)
    await node.open("a1", account_id="acc-1")
    count = ENQUEUE_CHUNK + 7

    results = await node.log.enqueue_many(
        [("acc-1", f"m{n}", envelope(f"m{n}")) for n in range(count)]
    )

    seqs = [r.seq for r in results]
    assert seqs == list(range(seqs[0] or 0, (seqs[0] or 0) + count))
    ids = [i for _, i in await read_ids(node, "acc-1", "a1")]
    assert ids == [f"m{n}" for n in range(count)]


@pytest.mark.parametrize("numbered", [1, 3])
async def test_enqueue_many_announces_deliver_once_per_account_with_its_highest_seq(
    node: Node, redis_client: aioredis.Redis, keys: RedisKeys, numbered: int
) -> None:
    await node.open("a1", account_id="acc-1")
    bus = event_bus(redis_client, keys)
    try:
        async with bus.subscribe("acc-1") as events:
            await events.ready()
            results = await node.log.enqueue_many(
                [("acc-1", f"m{n}", envelope(f"m{n}")) for n in range(numbered)]
            )
            announced = await asyncio.wait_for(anext(events), 2)
            assert announced == {"kind": "deliver", "seq": results[-1].seq}
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(anext(events), 0.2)
    finally:
        await bus.aclose()
