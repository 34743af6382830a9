"""Copier store-level tests run against the embedded store (fakeredis), real Redis and
a real Redis Cluster (the store contract suite's `redis_client` and `keys`)."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from gateway.store.keys import RedisKeys
from tests.copier.worker.world import World
from tests.gateway.store.conftest import keys, redis_client

__all__ = ["keys", "redis_client", "world"]  # the store suite's fixtures, used here


@pytest.fixture
async def world(redis_client: aioredis.Redis, keys: RedisKeys) -> World:
    """One master and the copier over `redis_client`."""
    return await World.create(redis_client, keys)
