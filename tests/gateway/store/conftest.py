"""The store contract suite runs every test against the embedded store and real Redis."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable

import fakeredis
import pytest
import redis.asyncio as aioredis

from gateway.store.keys import RedisKeys
from tests.gateway.store.world import Node


@pytest.fixture(params=["embedded", "redis"])
async def redis_client(
    request: pytest.FixtureRequest, real_redis_url: str
) -> AsyncIterator[aioredis.Redis]:
    """A bytes-mode client: in-process fakeredis, or the real server (real Redis must be up)."""
    if request.param == "embedded":
        client: aioredis.Redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    else:
        client = aioredis.Redis.from_url(real_redis_url)
        await client.ping()  # a missing Redis fails the test; it is never skipped
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
async def make_client(
    redis_client: aioredis.Redis, real_redis_url: str
) -> AsyncIterator[Callable[[], aioredis.Redis]]:
    """Makes more clients of the server behind `redis_client` (another node's view)."""
    made: list[aioredis.Redis] = []

    def make() -> aioredis.Redis:
        client: aioredis.Redis
        if isinstance(redis_client, fakeredis.FakeAsyncRedis):
            server = redis_client.connection_pool.connection_kwargs["server"]
            client = fakeredis.FakeAsyncRedis(server=server)
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
