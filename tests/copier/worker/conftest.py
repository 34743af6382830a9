"""Copier store-level tests run against the embedded store (fakeredis) and real Redis."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import fakeredis
import pytest
import redis.asyncio as aioredis

from gateway.store.keys import RedisKeys
from tests.copier.worker.world import World


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
    prefix = f"cgcopier-{secrets.token_hex(4)}"
    yield RedisKeys(prefix=prefix)
    async for name in redis_client.scan_iter(match=f"{prefix}:*", count=1000):
        await redis_client.delete(name)


@pytest.fixture
async def world(redis_client: aioredis.Redis, keys: RedisKeys) -> World:
    """One master and the copier over `redis_client`."""
    return await World.create(redis_client, keys)
