"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator

import fakeredis
import pytest
import redis.asyncio as aioredis

from gateway.store.keys import RedisKeys
from tests import redis_topologies as topologies
from tests.redis_topologies import ClusterNodes, SentinelGroup

REDIS_URL = os.environ.get("COPYGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def real_redis_url() -> str:
    """URL of the real Redis the integration tests use (must be reachable)."""
    return REDIS_URL


@pytest.fixture(params=["embedded", "redis"])
async def redis_client(
    request: pytest.FixtureRequest, real_redis_url: str
) -> AsyncIterator[aioredis.Redis]:
    """A bytes-mode client: in-process fakeredis (the embedded store), or the real server.

    Store-level suites run every test against both. A missing real Redis fails the
    test; it is never skipped.
    """
    if request.param == "embedded":
        client: aioredis.Redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    else:
        client = aioredis.Redis.from_url(real_redis_url)
        await client.ping()
    yield client
    await client.aclose()


@pytest.fixture
async def keys(redis_client: aioredis.Redis) -> AsyncIterator[RedisKeys]:
    """Key names under a prefix unique to this test; everything under it is deleted after."""
    prefix = f"cgtest-{secrets.token_hex(4)}"
    yield RedisKeys(prefix=prefix)
    async for name in redis_client.scan_iter(match=f"{prefix}:*", count=1000):
        await redis_client.delete(name)


@pytest.fixture
def sentinel_group() -> Iterator[SentinelGroup]:
    """A fresh primary + replica + three sentinels (tests may kill the primary)."""
    with topologies.sentinel_group() as group:
        yield group


@pytest.fixture(scope="session")
def redis_cluster_nodes() -> Iterator[ClusterNodes]:
    """A real 3-primary/3-replica Redis Cluster, shared by the whole session."""
    with topologies.redis_cluster() as nodes:
        yield nodes
