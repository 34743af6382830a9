"""The store contract suite runs every test against the embedded store, real Redis and
a real Redis Cluster (3 primaries, 3 replicas, started once per test session).

On the cluster the stores use redis-py's cluster client and the partitioned key
layout (`RedisKeys(partitions=...)`), exactly as ``COPYGATE_REDIS_CLUSTER=true``
makes `open_store` do.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import fakeredis
import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway.store.keys import RedisKeys
from tests.gateway.store.world import Node
from tests.redis_topologies import ClusterNodes

#: Partitions of the cluster layout in the contract suite (the default of the setting).
CLUSTER_PARTITIONS = 16


def cluster_client(nodes: ClusterNodes, **options: Any) -> aioredis.Redis:
    """A cluster client of the session's cluster, typed as the stores take it."""
    return cast(aioredis.Redis, RedisCluster.from_url(nodes.url, **options))


@pytest.fixture
def named_client(
    request: pytest.FixtureRequest, redis_client: aioredis.Redis, real_redis_url: str
) -> Callable[[str], aioredis.Redis]:
    """Makes a client (same flavour and server as `redis_client`) with a client name."""

    def make(name: str) -> aioredis.Redis:
        if isinstance(redis_client, fakeredis.FakeAsyncRedis):
            server = redis_client.connection_pool.connection_kwargs["server"]
            return fakeredis.FakeAsyncRedis(server=server)
        if isinstance(redis_client, RedisCluster):
            nodes = request.getfixturevalue("redis_cluster_nodes")
            return cluster_client(nodes, client_name=name)
        return aioredis.Redis.from_url(real_redis_url, client_name=name)

    return make


@pytest.fixture(params=["embedded", "redis", "cluster"])
async def redis_client(
    request: pytest.FixtureRequest, real_redis_url: str
) -> AsyncIterator[aioredis.Redis]:
    """A bytes-mode client: the embedded store, the real server, or the real cluster.

    A missing real Redis (or a cluster that does not start) fails the test; it is
    never skipped.
    """
    client: aioredis.Redis
    if request.param == "embedded":
        client = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    elif request.param == "redis":
        client = aioredis.Redis.from_url(real_redis_url)
    else:
        client = cluster_client(request.getfixturevalue("redis_cluster_nodes"))
    await client.ping()
    yield client
    await client.aclose()


@pytest.fixture
async def keys(redis_client: aioredis.Redis) -> AsyncIterator[RedisKeys]:
    """Key names under a prefix unique to this test (partitioned on the cluster)."""
    prefix = f"cgtest-{secrets.token_hex(4)}"
    cluster = isinstance(redis_client, RedisCluster)
    yield RedisKeys(prefix=prefix, partitions=CLUSTER_PARTITIONS if cluster else None)
    async for name in redis_client.scan_iter(match=f"{prefix}:*", count=1000):
        await redis_client.delete(name)


@pytest.fixture
async def make_client(
    request: pytest.FixtureRequest, redis_client: aioredis.Redis, real_redis_url: str
) -> AsyncIterator[Callable[[], aioredis.Redis]]:
    """Makes more clients of the server behind `redis_client` (another node's view)."""
    made: list[aioredis.Redis] = []

    def make() -> aioredis.Redis:
        client: aioredis.Redis
        if isinstance(redis_client, fakeredis.FakeAsyncRedis):
            server = redis_client.connection_pool.connection_kwargs["server"]
            client = fakeredis.FakeAsyncRedis(server=server)
        elif isinstance(redis_client, RedisCluster):
            client = cluster_client(request.getfixturevalue("redis_cluster_nodes"))
        else:
            client = aioredis.Redis.from_url(real_redis_url)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
def node(redis_client: aioredis.Redis, keys: RedisKeys) -> Node:
    """The session-side stores over `redis_client`."""
    return Node.over(redis_client, keys)


@pytest.fixture
async def down_client(redis_client: aioredis.Redis) -> AsyncIterator[aioredis.Redis]:
    """A client whose server cannot be reached (same flavour as `redis_client`)."""
    if isinstance(redis_client, fakeredis.FakeAsyncRedis):
        server = fakeredis.FakeServer()
        server.connected = False
        client: aioredis.Redis = fakeredis.FakeAsyncRedis(server=server)
    elif isinstance(redis_client, RedisCluster):  # a cluster none of whose nodes answers
        client = cast(aioredis.Redis, RedisCluster(host="127.0.0.1", port=1))
    else:  # a closed port, no retries
        client = aioredis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    yield client
    await client.aclose()
