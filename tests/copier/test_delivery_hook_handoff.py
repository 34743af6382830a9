"""`DeliveryTimestamps.enqueue_many` and the local handoff (the copier's side).

Once `enqueue_many` returned (the entries are durable, with their seqs), each
account's new entries are offered to this process's connections (`LocalDelivery`,
here the in-memory fake). Never offered: an expired open (the log read replaces
it by its alert), entries held for want of an active session, duplicates. The
commands a connection was handed get their delivered time, as after a read.
"""

from __future__ import annotations

import orjson
import pytest
import redis.asyncio as aioredis

from copier.delivery_hook import DeliveryTimestamps
from copier.keys import CopierKeys
from gateway.store.keys import RedisKeys
from tests.clocks import SettableClock
from tests.copier.local_delivery import InMemoryLocalDelivery
from tests.gateway.store.world import Node, envelope

NOW = 5_000


@pytest.fixture
async def node(redis_client: aioredis.Redis, keys: RedisKeys) -> Node:
    node = Node.over(redis_client, keys)
    await node.open("s1", account_id="f1")
    await node.open("s2", account_id="f2")
    return node


@pytest.fixture
def local() -> InMemoryLocalDelivery:
    return InMemoryLocalDelivery(f1=0, f2=0)


@pytest.fixture
def hook(
    node: Node, redis_client: aioredis.Redis, keys: RedisKeys, local: InMemoryLocalDelivery
) -> DeliveryTimestamps:
    clock = SettableClock(now=NOW)
    return DeliveryTimestamps(
        node.log, redis_client, CopierKeys.of(keys), clock, keys.ea_inbox_stream(), local
    )


def command(command_id: str, expires_at: int | None = None) -> bytes:
    if expires_at is None:
        return envelope(command_id, command_id=command_id)
    return envelope(command_id, command_id=command_id, expires_at=expires_at)


async def test_what_enqueue_many_logged_is_offered_per_account_with_its_seqs(
    hook: DeliveryTimestamps, local: InMemoryLocalDelivery
) -> None:
    items = [("f1", "c1", command("c1")), ("f2", "c2", command("c2")), ("f1", "c3", command("c3"))]

    results = await hook.enqueue_many(items)

    offered = {o.account_id: [(e.seq, e.body) for e in o.entries] for o in local.offers}
    assert offered == {
        "f1": [(results[0].seq, items[0][2]), (results[2].seq, items[2][2])],
        "f2": [(results[1].seq, items[1][2])],
    }
    assert local.written == local.offers


async def test_an_expired_open_is_never_handed_and_the_log_read_replaces_it(
    hook: DeliveryTimestamps, local: InMemoryLocalDelivery
) -> None:
    await hook.enqueue_many(
        [("f1", "late", command("late", expires_at=NOW - 1)), ("f1", "ok", command("ok"))]
    )

    assert local.offers == []
    read = await hook.read("f1", "s1", after_seq=0)
    alert = orjson.loads(read[0].body)
    assert (alert["type"], alert["payload"]["code"]) == ("ErrorAlert", "signal_expired")


async def test_an_open_still_in_time_is_handed(
    hook: DeliveryTimestamps, local: InMemoryLocalDelivery
) -> None:
    await hook.enqueue_many([("f1", "c1", command("c1", expires_at=NOW + 1))])

    assert [o.account_id for o in local.written] == ["f1"]


async def test_held_and_duplicate_entries_leave_their_account_to_the_log_read(
    hook: DeliveryTimestamps, local: InMemoryLocalDelivery
) -> None:
    await hook.enqueue_many([("f1", "c1", command("c1"))])
    local.offers.clear()

    await hook.enqueue_many(
        [
            ("f1", "c1", command("c1")),  # a duplicate of an older entry
            ("f1", "c2", command("c2")),
            ("nobody", "c3", command("c3")),  # no active session: held
            ("f2", "c4", command("c4")),
        ]
    )

    assert [o.account_id for o in local.offers] == ["f2"]


async def test_handed_commands_get_their_hand_out_time_as_delivered(
    hook: DeliveryTimestamps, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await hook.enqueue_many([("f1", "c1", command("c1")), ("f1", "n1", envelope("n1", "Note"))])
    await hook.settled()

    times = await redis_client.hgetall(CopierKeys.of(keys).delivered_times("f1"))
    assert times == {b"c1": b"%d" % NOW}


async def test_a_gap_is_not_handed_and_records_no_delivered_time(
    hook: DeliveryTimestamps,
    local: InMemoryLocalDelivery,
    redis_client: aioredis.Redis,
    keys: RedisKeys,
) -> None:
    local.sent_upto["f1"] = 7  # the connection is elsewhere in the sequence

    await hook.enqueue_many([("f1", "c1", command("c1"))])
    await hook.settled()

    assert local.written == [] and len(local.offers) == 1
    assert await redis_client.hgetall(CopierKeys.of(keys).delivered_times("f1")) == {}
