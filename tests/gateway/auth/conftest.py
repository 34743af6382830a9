"""Fixtures of the auth tests: the real Redis stores over fakeredis, cheap argon2."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import fakeredis
import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from gateway.auth.hashing import SecretHasher
from gateway.auth.session_key import AccountSessionKeyStrategy
from gateway.settings import Settings
from gateway.store.admin_token_store import RedisAdminTokenStore
from gateway.store.key_store import RedisKeyStore
from gateway.store.keys import RedisKeys


class CountingHasher(SecretHasher):
    """A real `SecretHasher` that counts its argon2 calls (a fake, not a mock)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        #: argon2 hash computations so far
        self.hash_calls = 0
        #: argon2 verifications so far
        self.verify_calls = 0

    @property
    def argon2_calls(self) -> int:
        """Hashes plus verifications."""
        return self.hash_calls + self.verify_calls

    async def hash(self, secret: str) -> str:
        self.hash_calls += 1
        return await super().hash(secret)

    async def verify(self, secret_hash: str, secret: str) -> bool:
        self.verify_calls += 1
        return await super().verify(secret_hash, secret)


@pytest.fixture
def settings() -> Settings:
    """Cheap argon2 (unit tests), a fixed pepper, the default limits."""
    return Settings(
        argon2_memory_kib=8,
        argon2_time_cost=1,
        auth_pepper=SecretStr("pepper-for-tests"),
        admin_token=SecretStr("bootstrap-admin-token-for-tests"),
    )


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client: aioredis.Redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    yield client
    await client.aclose()


@pytest.fixture
def keys() -> RedisKeys:
    return RedisKeys(prefix=f"cgtest-{secrets.token_hex(4)}")


@pytest.fixture
def key_store(redis_client: aioredis.Redis, keys: RedisKeys) -> RedisKeyStore:
    return RedisKeyStore(redis_client, keys)


@pytest.fixture
def admin_token_store(redis_client: aioredis.Redis, keys: RedisKeys) -> RedisAdminTokenStore:
    return RedisAdminTokenStore(redis_client, keys)


@pytest.fixture
def hasher(settings: Settings) -> Iterator[CountingHasher]:
    counting = CountingHasher(settings)
    yield counting
    counting.close()


@pytest.fixture
def strategy(
    key_store: RedisKeyStore, hasher: CountingHasher, settings: Settings
) -> AccountSessionKeyStrategy:
    return AccountSessionKeyStrategy.from_settings(key_store, hasher, settings)
