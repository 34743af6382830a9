"""Copier store-level tests run against the embedded store (fakeredis) and real Redis."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from gateway.store.keys import RedisKeys
from tests.copier.worker.world import World


@pytest.fixture
async def world(redis_client: aioredis.Redis, keys: RedisKeys) -> World:
    """One master and the copier over `redis_client`."""
    return await World.create(redis_client, keys)
