"""The store contract suite runs every test against the embedded store and real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import fakeredis
import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway.store.keys import RedisKeys
from tests.gateway.store.world import Node


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


@pytest.fixture
async def down_client(redis_client: aioredis.Redis) -> AsyncIterator[aioredis.Redis]:
    """A client whose server cannot be reached (same flavour as `redis_client`)."""
    if isinstance(redis_client, fakeredis.FakeAsyncRedis):
        server = fakeredis.FakeServer()
        server.connected = False
        client: aioredis.Redis = fakeredis.FakeAsyncRedis(server=server)
    else:  # a closed port, no retries
        client = aioredis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    yield client
    await client.aclose()
