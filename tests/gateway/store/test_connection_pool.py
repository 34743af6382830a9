"""`QueuedConnectionPool`: at its cap, commands wait their turn instead of failing."""

from __future__ import annotations

import asyncio
import contextlib
import secrets

import redis.asyncio as aioredis

from gateway.store.factory import QueuedConnectionPool


async def test_commands_beyond_the_cap_queue_and_all_succeed(real_redis_url: str) -> None:
    pool = QueuedConnectionPool.from_url(real_redis_url, max_connections=2)
    client = aioredis.Redis.from_pool(pool)
    key = f"cgtest-pool-{secrets.token_hex(4)}"
    try:
        results = await asyncio.gather(*(client.incr(key) for _ in range(200)))
        opened = len(pool._available_connections) + len(pool._in_use_connections)
    finally:
        await client.delete(key)
        await client.aclose()

    assert sorted(results) == list(range(1, 201))
    assert opened <= 2


async def test_a_failed_connection_gives_its_slot_back() -> None:
    pool = QueuedConnectionPool.from_url("redis://127.0.0.1:1/0", max_connections=1)
    client = aioredis.Redis.from_pool(pool)
    try:
        for _ in range(3):  # would hang on the second attempt if the slot leaked
            with contextlib.suppress(ConnectionError, OSError, aioredis.ConnectionError):
                await asyncio.wait_for(client.ping(), 5)
    finally:
        await client.aclose()
    assert pool._slots._value == 1
