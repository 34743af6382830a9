"""Property: `enqueue_many` is `enqueue` item by item, whatever the batch holds.

Batches of items of active and inactive accounts, in runs and interleaved, with
envelope ids repeated within and across batches, against a log cap small enough
to fill: the results and the logs left behind are exactly those of calling
`enqueue` once per item in order (a full log's `DeliveryLogFull` being the item's
``full=True``).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence

import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import DeliveryLogFull
from gateway.store.keys import RedisKeys
from gateway.store.records import EnqueueResult
from tests.gateway.store.world import Node, envelope

ACTIVE = ("acc-1", "acc-2")
ACCOUNTS = (*ACTIVE, "acc-off")
CAP = 4

ITEM = st.tuples(st.sampled_from(ACCOUNTS), st.integers(0, 5))
BATCHES = st.lists(st.lists(ITEM, max_size=12), min_size=1, max_size=3)


async def fresh_node(client: aioredis.Redis, keys: RedisKeys) -> Node:
    """A node over its own namespace with every `ACTIVE` account's session open."""
    namespace = dataclasses.replace(keys, prefix=f"{keys.prefix}:{secrets.token_hex(3)}")
    node = Node.over(client, namespace, max_log_entries=CAP)
    for account in ACTIVE:
        await node.open(f"s-{account}", account_id=account)
    return node


async def one_by_one(node: Node, items: Sequence[tuple[str, str, bytes]]) -> list[EnqueueResult]:
    results = []
    for account, envelope_id, body in items:
        try:
            results.append(await node.log.enqueue(account, envelope_id, body))
        except DeliveryLogFull:
            results.append(EnqueueResult(seq=None, full=True))
    return results


async def logs_of(node: Node) -> dict[str, object]:
    logs: dict[str, object] = {}
    for account in ACTIVE:
        entries = await node.log.read(account, f"s-{account}", after_seq=0, limit=100)
        logs[account] = [(e.seq, e.body) for e in entries]
    logs["acc-off"] = await node.log.pending_count("acc-off")
    return logs


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=BATCHES)
async def test_enqueue_many_gives_the_results_and_logs_of_enqueue_item_by_item(
    redis_client: aioredis.Redis, keys: RedisKeys, batches: list[list[tuple[str, int]]]
) -> None:
    batched, single = await fresh_node(redis_client, keys), await fresh_node(redis_client, keys)
    for number, batch in enumerate(batches):
        items = [
            (account, f"m{n}", envelope(f"m{n}", batch=number, item=index))
            for index, (account, n) in enumerate(batch)
        ]

        assert await batched.log.enqueue_many(items) == await one_by_one(single, items)
    assert await logs_of(batched) == await logs_of(single)
