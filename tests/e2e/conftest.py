"""Fixtures that start real servers on free ports against the real Redis."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.e2e.harness import Admin, Server, free_port, server_env

pytestmark = pytest.mark.e2e

ServerFactory = Callable[..., Server]


@pytest.fixture
def prefix() -> str:
    """A Redis key prefix unique to this test."""
    return f"cge2e-{secrets.token_hex(4)}"


@pytest.fixture
def start_server(
    tmp_path: Path, real_redis_url: str, prefix: str, redis_cleanup: aioredis.Redis
) -> Iterator[ServerFactory]:
    """Start `copygate serve` processes sharing this test's Redis prefix."""
    servers: list[Server] = []

    def start(*, redis: bool = True, port: int | None = None, **env: str) -> Server:
        server = Server(
            port or free_port(), server_env(real_redis_url if redis else None, prefix, **env)
        )
        server.start(tmp_path)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(start_server: ServerFactory) -> Server:
    return start_server()


@pytest.fixture
def admin(server: Server) -> Admin:
    return Admin(server.base_url)


@pytest.fixture
async def redis_cleanup(real_redis_url: str, prefix: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(real_redis_url)
    yield client
    async for name in client.scan_iter(match=f"{prefix}:*", count=1000):
        await client.delete(name)
    await client.aclose()
