"""`EventBus` on Redis Cluster: sharded pub/sub, one `RedisEventBus` per partition.

On a cluster the scripts announce events with ``SPUBLISH`` on the account's
channel, which carries the account's partition tag: the message stays on the
shard (primary and replicas) that owns the partition's slot instead of being
broadcast to every node. A subscriber must then ``SSUBSCRIBE`` on that shard.
`PartitionedEventBus` keeps one `RedisEventBus` in sharded mode per partition
that has subscribers; each holds one connection to the node that owns its
partition's slot, found again (slot map refreshed) at every reconnection, so a
failover or a slot move costs a reconnection and a ``resync``, as a dropped
connection does on a single Redis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from gateway.store.event_bus import Listener, RedisEventBus, Subscription
from gateway.store.keys import RedisKeys
from gateway.store.redis_errors import translates_redis_errors

__all__ = ["PartitionedEventBus", "event_bus"]


class PartitionedEventBus:
    """The `EventBus` of a process on Redis Cluster (see the module docstring)."""

    def __init__(self, redis: aioredis.Redis, keys: RedisKeys, **options: Any) -> None:
        self._redis = redis  #: the cluster client
        self._keys = keys  #: key names (partitioned layout)
        self._options = options  #: `RedisEventBus` options of every partition's bus
        self._buses: dict[int, RedisEventBus] = {}  #: partition -> its bus, made on demand

    def _bus(self, account_id: str) -> RedisEventBus:
        partition = self._keys.partition_of(account_id)
        bus = self._buses.get(partition)
        if bus is None:
            bus = RedisEventBus(self._redis, self._keys, partition=partition, **self._options)
            self._buses[partition] = bus
        return bus

    @translates_redis_errors
    async def publish(self, account_id: str, event: dict[str, Any]) -> None:
        """Announce an event on the account's shard (``SPUBLISH``)."""
        await self._bus(account_id).publish(account_id, event)

    def subscribe(self, account_id: str) -> Subscription:
        """See `RedisEventBus.subscribe`."""
        return self._bus(account_id).subscribe(account_id)

    def listen(self, account_id: str, callback: Callable[[dict[str, Any]], None]) -> Listener:
        """See `RedisEventBus.listen`."""
        return self._bus(account_id).listen(account_id, callback)

    async def aclose(self) -> None:
        """Close every partition's bus."""
        for bus in self._buses.values():
            await bus.aclose()

    @property
    def channel_count(self) -> int:
        """Channels with at least one subscriber, over all partitions."""
        return sum(bus.channel_count for bus in self._buses.values())


def event_bus(
    redis: aioredis.Redis, keys: RedisKeys, **options: Any
) -> RedisEventBus | PartitionedEventBus:
    """The event bus of a process: one connection on a single Redis, sharded on a cluster."""
    if keys.cluster:
        return PartitionedEventBus(redis, keys, **options)
    return RedisEventBus(redis, keys, **options)
