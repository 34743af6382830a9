"""The Redis client of a process: one primary by URL, or the primary Sentinel names.

`connect(settings)` builds the bytes-mode client every store shares:

* ``COPYGATE_REDIS_URL`` alone: that server (a single primary);
* ``COPYGATE_REDIS_SENTINELS`` (``host:port,host:port,...``) with
  ``COPYGATE_REDIS_SENTINEL_MASTER``: redis-py's Sentinel client, which asks the
  sentinels for the current primary before each new connection and drops the
  connections of a demoted one, so a failover is survived with a reconnect.
  ``COPYGATE_REDIS_URL`` then only contributes its password and database number;
* ``COPYGATE_REDIS_CLUSTER=true``: redis-py's cluster client
  (`redis.asyncio.cluster.RedisCluster`), ``COPYGATE_REDIS_URL`` naming any node;
  it discovers the others and follows slot moves and failovers (MOVED/ASK).
  The stores type it as `redis.asyncio.Redis`: they only use commands and
  pipelines both clients have (and transactions within one slot).

Both single-server pools queue callers at their connection cap instead of failing
(`QueuedConnectionPool`).
"""

from __future__ import annotations

import asyncio
from typing import Any, cast
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool

from gateway.settings import Settings

__all__ = [
    "REDIS_MAX_CONNECTIONS",
    "QueuedConnectionPool",
    "QueuedSentinelConnectionPool",
    "aclose_client",
    "connect",
    "is_cluster_client",
    "subscriber_client",
]

#: Redis connections one process opens at most (the event bus's pub/sub one included).
REDIS_MAX_CONNECTIONS = 256


class _QueuedSlots:
    """At `max_connections` a caller waits its turn (FIFO) instead of failing.

    redis-py holds one connection per command in flight. A loaded gateway has one
    command in flight per busy session (10,000 sessions heartbeating while the event
    loop is behind), far more than Redis should see as clients. redis-py's default
    pool then refuses the command ("Too many connections", which closed EAs with
    store_unavailable); its `BlockingConnectionPool` loses wake-ups under contention
    (waiters time out although connections are free). An `asyncio.Semaphore` in front
    of the pool queues callers fairly instead.
    """

    max_connections: int

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: one slot per connection the pool may hand out
        self._slots = asyncio.Semaphore(self.max_connections)
        #: ids of the connections handed out, each holding one slot
        self._holding: set[int] = set()

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        await self._slots.acquire()
        try:
            connection = await super().get_connection(*args, **kwargs)  # type: ignore[misc]
        except BaseException:
            self._slots.release()  # the parent released the connection, if it had one
            raise
        self._holding.add(id(connection))
        return connection

    async def release(self, connection: Any) -> None:
        try:
            await super().release(connection)  # type: ignore[misc]
        finally:
            if id(connection) in self._holding:
                self._holding.discard(id(connection))
                self._slots.release()


class QueuedConnectionPool(_QueuedSlots, aioredis.ConnectionPool):
    """redis-py's pool, except that at `max_connections` a caller waits its turn."""


class QueuedSentinelConnectionPool(_QueuedSlots, SentinelConnectionPool):
    """redis-py's Sentinel pool (connects to the current primary), queued the same way."""


def connect(settings: Settings) -> aioredis.Redis:
    """The client of `settings` (not yet connected: the first command connects).

    Raises:
        ValueError: neither ``redis_url`` nor ``redis_sentinels`` is set.
    """
    if settings.redis_cluster and settings.redis_url is not None:
        return _cluster_client(settings.redis_url)
    sentinels = settings.sentinel_addresses
    if sentinels:
        return _sentinel_client(settings, sentinels)
    if settings.redis_url is None:
        raise ValueError("no Redis configured (COPYGATE_REDIS_URL or COPYGATE_REDIS_SENTINELS)")
    return aioredis.Redis.from_pool(
        QueuedConnectionPool.from_url(settings.redis_url, max_connections=REDIS_MAX_CONNECTIONS)
    )


def _cluster_client(url: str) -> aioredis.Redis:
    client = RedisCluster.from_url(
        url,
        max_connections=REDIS_MAX_CONNECTIONS,  # per node
        socket_connect_timeout=2.0,
    )
    return cast(aioredis.Redis, client)


def is_cluster_client(redis: aioredis.Redis) -> bool:
    """True for a client of `connect` with ``COPYGATE_REDIS_CLUSTER``."""
    return isinstance(redis, RedisCluster)


async def subscriber_client(
    redis: aioredis.Redis, attempt: int, shard_key: str | None = None
) -> aioredis.Redis:
    """The client whose connection carries the event bus's subscriptions.

    `redis` itself, except on Redis Cluster: there, a single-node client of one of
    the cluster's nodes (the next one at each `attempt`, so a dead node is left
    behind). Classic pub/sub messages reach every node of a cluster, so any node
    will do; with `shard_key` (sharded pub/sub), the primary that owns that key's
    slot, looked up again (slot map refreshed) after a failed attempt. Close that
    client after use (`redis` is returned as is otherwise).
    """
    if not isinstance(redis, RedisCluster):
        return redis
    await redis.initialize()  # learns the nodes, if no command did yet
    if shard_key is not None:
        if attempt:
            await redis.nodes_manager.initialize()  # a failover or slot move: ask again
        node = redis.get_node_from_key(shard_key)
    else:
        nodes = redis.get_nodes()
        node = nodes[attempt % len(nodes)]
    kwargs = node.connection_kwargs
    return aioredis.Redis(
        host=node.host,
        port=node.port,
        username=kwargs.get("username"),
        password=kwargs.get("password"),
        client_name=kwargs.get("client_name"),
        socket_connect_timeout=2.0,
    )


def _sentinel_client(settings: Settings, sentinels: list[tuple[str, int]]) -> aioredis.Redis:
    options: dict[str, Any] = {"socket_connect_timeout": 2.0}
    if settings.redis_url is not None:
        url = urlsplit(settings.redis_url)
        if url.password:
            options["password"] = url.password
        if url.username:
            options["username"] = url.username
        if url.path.strip("/"):
            options["db"] = int(url.path.strip("/"))
    sentinel_type: Any = Sentinel  # its __init__ is untyped before redis-py 8.2
    manager = sentinel_type(sentinels, sentinel_kwargs={"socket_connect_timeout": 1.0}, **options)
    client: aioredis.Redis = manager.master_for(
        settings.redis_sentinel_master,
        connection_pool_class=QueuedSentinelConnectionPool,
        max_connections=REDIS_MAX_CONNECTIONS,
    )
    return client


async def aclose_client(redis: aioredis.Redis) -> None:
    """Close a client of `connect`, and its connections to the sentinels if any."""
    if isinstance(redis, RedisCluster):
        await redis.aclose()
        return
    pool = redis.connection_pool
    await redis.aclose()
    if isinstance(pool, SentinelConnectionPool):
        for sentinel in pool.sentinel_manager.sentinels:
            await sentinel.aclose()
