"""Contract of the event bus: one pub/sub connection, many subscribers, resync.

On the cluster the bus is `PartitionedEventBus` (sharded pub/sub), same contract.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import fakeredis
import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from gateway.store.event_bus import RESYNC, RedisEventBus, Subscription
from gateway.store.keys import RedisKeys
from gateway.store.sharded_bus import PartitionedEventBus, event_bus

EventBusImpl = RedisEventBus | PartitionedEventBus


@pytest.fixture
async def bus(redis_client: aioredis.Redis, keys: RedisKeys) -> AsyncIterator[EventBusImpl]:
    bus = event_bus(redis_client, keys)
    yield bus
    await bus.aclose()


async def next_event(events: Subscription, within_s: float = 2.0) -> dict[str, Any]:
    return await asyncio.wait_for(anext(events), within_s)


async def numsub(client: aioredis.Redis, keys: RedisKeys, account_id: str) -> int:
    channel = keys.account_events(account_id)
    if isinstance(client, RedisCluster):  # sharded: count on the shard's primary
        node = client.get_node_from_key(channel)
        shard = aioredis.Redis(host=node.host, port=node.port)
        try:
            [(_, count)] = await shard.pubsub_shardnumsub(channel)
        finally:
            await shard.aclose()
        return int(count)
    [(_, count)] = await client.pubsub_numsub(channel)
    return int(count)


async def eventually(check: Callable[[], Any], within_s: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition never became true"
        await asyncio.sleep(0.02)


async def test_event_bus_delivers_across_two_clients(
    redis_client: aioredis.Redis, keys: RedisKeys, make_client: Callable[[], aioredis.Redis]
) -> None:
    publisher = event_bus(redis_client, keys)
    listener = event_bus(make_client(), keys)
    try:
        async with listener.subscribe("demo-1") as events:
            await events.ready()
            await publisher.publish("demo-1", {"kind": "deliver"})
            assert await next_event(events) == {"kind": "deliver"}
    finally:
        await publisher.aclose()
        await listener.aclose()


async def test_every_subscriber_of_the_account_gets_the_event_and_no_one_else(
    bus: EventBusImpl,
) -> None:
    first, second, other = bus.subscribe("demo-1"), bus.subscribe("demo-1"), bus.subscribe("demo-2")
    for sub in (first, second, other):
        await sub.ready()

    await bus.publish("demo-1", {"kind": "closed", "session_id": "s1", "reason": "preempted"})
    await bus.publish("demo-2", {"kind": "deliver"})

    expected = {"kind": "closed", "session_id": "s1", "reason": "preempted"}
    assert await next_event(first) == expected
    assert await next_event(second) == expected
    assert await next_event(other) == {"kind": "deliver"}


async def test_many_subscribers_share_one_connection_and_one_channel_each(
    bus: EventBusImpl, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    subs = [bus.subscribe(f"acct-{i % 50}") for i in range(2_000)]
    await asyncio.gather(*(sub.ready() for sub in subs))

    assert bus.channel_count == 50
    assert await numsub(redis_client, keys, "acct-7") == 1
    await bus.publish("acct-7", {"kind": "deliver"})
    receivers = subs[7::50]
    assert [await next_event(sub) for sub in receivers] == [{"kind": "deliver"}] * len(receivers)
    assert all(sub._queue.empty() for i, sub in enumerate(subs) if i % 50 != 7)


async def test_closing_the_last_subscriber_unsubscribes_the_channel(
    bus: EventBusImpl, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    first, second = bus.subscribe("demo-1"), bus.subscribe("demo-1")
    await first.ready()
    first.close()
    await asyncio.sleep(0.05)
    assert await numsub(redis_client, keys, "demo-1") == 1

    second.close()

    async def unsubscribed() -> bool:
        return await numsub(redis_client, keys, "demo-1") == 0

    await eventually(unsubscribed)
    assert bus.channel_count == 0


async def test_a_closed_subscription_ends_its_iteration(bus: EventBusImpl) -> None:
    events = bus.subscribe("demo-1")
    await events.ready()
    waiter = asyncio.create_task(anext(events))
    await asyncio.sleep(0)
    await events.aclose()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiter, 2)
    assert [e async for e in events] == []


async def test_resubscribing_right_after_unsubscribing_still_receives(bus: EventBusImpl) -> None:
    for _ in range(5):
        bus.subscribe("demo-1").close()
    events = bus.subscribe("demo-1")
    await events.ready()
    await bus.publish("demo-1", {"kind": "deliver"})
    assert await next_event(events) == {"kind": "deliver"}


async def test_slow_subscriber_gets_resync_instead_of_an_endless_backlog(
    redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    bus = event_bus(redis_client, keys, queue_size=3)
    try:
        events = bus.subscribe("demo-1")
        await events.ready()
        for i in range(10):
            await bus.publish("demo-1", {"kind": "deliver", "n": i})
        await asyncio.sleep(0.1)
        backlog = [await next_event(events) for _ in range(events._queue.qsize())]
    finally:
        await bus.aclose()
    assert backlog == [{"kind": RESYNC}]


async def kill_pubsub_connection(
    redis_client: aioredis.Redis, bus_client: aioredis.Redis, client_name: str
) -> Callable[[], Any]:
    """Cut the bus's connection; returns what restores the server afterwards."""
    if isinstance(bus_client, fakeredis.FakeAsyncRedis):
        server = bus_client.connection_pool.connection_kwargs["server"]
        server.connected = False

        async def restore() -> None:
            await asyncio.sleep(0.3)  # several failed reconnection attempts
            server.connected = True

        return restore
    servers = [redis_client]
    if isinstance(redis_client, RedisCluster):  # the bus subscribes on one of the nodes
        servers = [aioredis.Redis(host=n.host, port=n.port) for n in redis_client.get_nodes()]
    for server in servers:
        for client in await server.client_list():
            subscribed = int(client.get("sub", 0)) + int(client.get("ssub", 0))
            if client.get("name") == client_name and subscribed > 0:
                await server.client_kill_filter(_id=client["id"])
        if server is not redis_client:
            await server.aclose()

    async def nothing() -> None:
        return None

    return nothing


async def test_subscribers_get_resync_after_the_connection_drops(
    redis_client: aioredis.Redis, keys: RedisKeys, named_client: Callable[[str], aioredis.Redis]
) -> None:
    name = f"cgtest-bus-{secrets.token_hex(3)}"
    bus_client = named_client(name)
    bus = event_bus(
        bus_client, keys, ping_interval_s=0.1, backoff_initial_s=0.01, backoff_max_s=0.05
    )
    try:
        first, second, other = (bus.subscribe(a) for a in ("demo-1", "demo-1", "demo-2"))
        for sub in (first, second, other):
            await sub.ready()

        restore = await kill_pubsub_connection(redis_client, bus_client, name)
        await restore()

        for sub in (first, second, other):
            assert await next_event(sub, within_s=5) == {"kind": RESYNC}
        await first.ready()
        await bus.publish("demo-1", {"kind": "deliver"})
        assert await next_event(first) == {"kind": "deliver"}
        assert await next_event(second) == {"kind": "deliver"}
    finally:
        await bus.aclose()
        await bus_client.aclose()


async def test_a_listener_gets_its_accounts_events_through_its_callback(
    bus: EventBusImpl,
) -> None:
    seen: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    listener = bus.listen("demo-1", seen.append)
    other = bus.listen("demo-2", others.append)
    await listener.ready()
    await other.ready()

    await bus.publish("demo-1", {"kind": "deliver"})
    await bus.publish("demo-1", {"kind": "closed", "session_id": "s1", "reason": "preempted"})

    await eventually(lambda: _async(len(seen) == 2))
    assert seen == [
        {"kind": "deliver"},
        {"kind": "closed", "session_id": "s1", "reason": "preempted"},
    ]
    assert others == []


async def test_listeners_and_subscriptions_share_one_channel(
    bus: EventBusImpl, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    seen: list[dict[str, Any]] = []
    listener = bus.listen("demo-1", seen.append)
    events = bus.subscribe("demo-1")
    await listener.ready()
    await events.ready()

    await bus.publish("demo-1", {"kind": "deliver"})

    assert await next_event(events) == {"kind": "deliver"}
    assert seen == [{"kind": "deliver"}]
    assert bus.channel_count == 1 and await numsub(redis_client, keys, "demo-1") == 1


async def test_a_closed_listener_is_not_called_any_more(bus: EventBusImpl) -> None:
    closed_seen: list[dict[str, Any]] = []
    open_seen: list[dict[str, Any]] = []
    closed = bus.listen("demo-1", closed_seen.append)
    still_open = bus.listen("demo-1", open_seen.append)
    await closed.ready()
    await still_open.ready()
    closed.close()

    await bus.publish("demo-1", {"kind": "deliver"})

    await eventually(lambda: _async(open_seen == [{"kind": "deliver"}]))
    assert closed_seen == []


async def test_closing_the_last_listener_unsubscribes_the_channel(
    bus: EventBusImpl, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    listener = bus.listen("demo-1", lambda event: None)
    await listener.ready()
    assert await numsub(redis_client, keys, "demo-1") == 1

    listener.close()

    async def unsubscribed() -> bool:
        return await numsub(redis_client, keys, "demo-1") == 0

    await eventually(unsubscribed)
    assert bus.channel_count == 0


async def test_a_failing_listener_does_not_keep_events_from_the_others(
    bus: EventBusImpl,
) -> None:
    def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("bug in a callback")

    seen: list[dict[str, Any]] = []
    for listener in (bus.listen("demo-1", broken), bus.listen("demo-1", seen.append)):
        await listener.ready()

    await bus.publish("demo-1", {"kind": "deliver"})
    await bus.publish("demo-1", {"kind": "deliver"})

    await eventually(lambda: _async(len(seen) == 2))


async def test_listeners_get_resync_after_the_connection_drops(
    redis_client: aioredis.Redis, keys: RedisKeys, named_client: Callable[[str], aioredis.Redis]
) -> None:
    name = f"cgtest-bus-{secrets.token_hex(3)}"
    bus_client = named_client(name)
    bus = event_bus(
        bus_client, keys, ping_interval_s=0.1, backoff_initial_s=0.01, backoff_max_s=0.05
    )
    seen: list[dict[str, Any]] = []
    try:
        listener = bus.listen("demo-1", seen.append)
        await listener.ready()

        restore = await kill_pubsub_connection(redis_client, bus_client, name)
        await restore()

        await eventually(lambda: _async(seen == [{"kind": RESYNC}]), within_s=5)
        await listener.ready()
        await bus.publish("demo-1", {"kind": "deliver"})
        await eventually(lambda: _async(seen[-1:] == [{"kind": "deliver"}]))
    finally:
        await bus.aclose()
        await bus_client.aclose()


async def _async(value: bool) -> bool:
    return value
