"""`DeliveryTimestamps`: the first hand-out time of each OrderCommand, off the read path.

A read returns as soon as the log is read: the ``HSETNX`` pipeline runs after it,
in a task of its own, so a transport writes the frames first. The recorded time is
still the hand-out time (taken when the read returned), the first hand-out wins,
and a failed recording never fails a delivery. Runs against both stores.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from copier.delivery_hook import DeliveryTimestamps
from copier.keys import CopierKeys
from gateway.store.keys import RedisKeys
from gateway.store.records import LogRead
from tests.clocks import SettableClock
from tests.e2e.harness import free_port
from tests.gateway.store.world import Node, envelope

ACCOUNT = "demo-1"


@dataclass
class World:
    node: Node
    hook: DeliveryTimestamps
    clock: SettableClock
    redis: aioredis.Redis
    delivered_key: str

    async def delivered_times(self) -> dict[bytes, bytes]:
        times: dict[bytes, bytes] = await self.redis.hgetall(self.delivered_key)
        return times

    def read(self, after_seq: int = 0) -> LogRead:
        return LogRead(account_id=ACCOUNT, session_id="s1", after_seq=after_seq)


@pytest.fixture
async def world(redis_client: aioredis.Redis, keys: RedisKeys) -> World:
    node = Node.over(redis_client, keys)
    await node.open("s1", account_id=ACCOUNT)
    clock = SettableClock(now=5_000)
    ckeys = CopierKeys.of(keys)
    hook = DeliveryTimestamps(node.log, redis_client, ckeys, clock, keys.ea_inbox_stream())
    return World(node, hook, clock, redis_client, ckeys.delivered_times(ACCOUNT))


async def test_read_many_returns_before_the_times_are_written_and_they_are_the_hand_out_time(
    world: World,
) -> None:
    await world.node.log.enqueue(ACCOUNT, "cmd-1", envelope("cmd-1"))
    await world.node.log.enqueue(ACCOUNT, "cmd-2", envelope("cmd-2"))

    [batch] = await world.hook.read_many([world.read()])
    assert world.hook.recording == 1  # the read did not wait for the pipeline
    world.clock.now = 9_000  # later than the hand-out
    await world.hook.settled()

    assert [e.seq for e in batch.entries] == [1, 2]
    assert world.hook.recording == 0
    assert await world.delivered_times() == {b"cmd-1": b"5000", b"cmd-2": b"5000"}
    assert await world.redis.ttl(world.delivered_key) > 0


async def test_read_records_the_hand_out_time_the_same_way(world: World) -> None:
    await world.node.log.enqueue(ACCOUNT, "cmd-1", envelope("cmd-1"))

    entries = await world.hook.read(ACCOUNT, "s1", after_seq=0)
    world.clock.now = 9_000
    await world.hook.settled()

    assert [e.seq for e in entries] == [1]
    assert await world.delivered_times() == {b"cmd-1": b"5000"}


async def test_a_command_handed_out_again_keeps_its_first_time(world: World) -> None:
    await world.node.log.enqueue(ACCOUNT, "cmd-1", envelope("cmd-1"))
    await world.hook.read_many([world.read()])
    await world.hook.settled()
    world.clock.now = 7_000

    await world.hook.read_many([world.read()])  # not acknowledged: handed out again
    await world.hook.settled()

    assert await world.delivered_times() == {b"cmd-1": b"5000"}


async def test_one_read_many_records_the_commands_of_every_account_it_read(
    world: World, keys: RedisKeys
) -> None:
    await world.node.open("s2", account_id="demo-2")
    await world.node.log.enqueue(ACCOUNT, "cmd-1", envelope("cmd-1"))
    await world.node.log.enqueue("demo-2", "cmd-2", envelope("cmd-2"))
    await world.node.log.enqueue("demo-2", "cmd-3", envelope("cmd-3"))

    await world.hook.read_many(
        [world.read(), LogRead(account_id="demo-2", session_id="s2", after_seq=0)]
    )
    await world.hook.settled()

    other = CopierKeys.of(keys).delivered_times("demo-2")
    assert await world.delivered_times() == {b"cmd-1": b"5000"}
    assert await world.redis.hgetall(other) == {b"cmd-2": b"5000", b"cmd-3": b"5000"}
    assert await world.redis.ttl(other) > 0


async def test_reads_without_commands_write_nothing(world: World) -> None:
    await world.node.log.enqueue(ACCOUNT, "alert-1", envelope("alert-1", kind="ErrorAlert"))

    [batch] = await world.hook.read_many([world.read()])

    assert len(batch.entries) == 1
    assert world.hook.recording == 0
    assert await world.delivered_times() == {}


@pytest.fixture
async def unreachable() -> AsyncIterator[aioredis.Redis]:
    """A client of a Redis that is not there (nothing listens on the port)."""
    client = aioredis.Redis(port=free_port(), socket_connect_timeout=1)
    yield client
    await client.aclose()


async def test_a_failed_recording_is_logged_and_never_fails_the_read(
    world: World,
    keys: RedisKeys,
    unreachable: aioredis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hook = DeliveryTimestamps(
        world.node.log, unreachable, CopierKeys.of(keys), world.clock, keys.ea_inbox_stream()
    )
    await world.node.log.enqueue(ACCOUNT, "cmd-1", envelope("cmd-1"))

    with caplog.at_level(logging.WARNING, logger="copygate.copier"):
        [batch] = await hook.read_many([world.read()])
        await hook.settled()

    assert [e.seq for e in batch.entries] == [1]
    assert "delivery times not recorded" in caplog.text
