"""Contract of `RedisAdminTokenStore`, against the embedded store and real Redis."""

from __future__ import annotations

import hashlib

import pytest
import redis.asyncio as aioredis

from gateway.errors import StoreUnavailable
from gateway.store.admin_token_store import RedisAdminTokenStore
from gateway.store.keys import RedisKeys
from gateway.store.records import AdminTokenRecord
from schemas.codes import AdminRole

SECRET = "cga_an-admin-token-secret"
TOKEN_HASH = hashlib.sha256(SECRET.encode()).hexdigest()


@pytest.fixture
def store(redis_client: aioredis.Redis, keys: RedisKeys) -> RedisAdminTokenStore:
    return RedisAdminTokenStore(redis_client, keys)


@pytest.fixture
def down_store(down_client: aioredis.Redis, keys: RedisKeys) -> RedisAdminTokenStore:
    """A store whose server cannot be reached (same flavour as `redis_client`)."""
    return RedisAdminTokenStore(down_client, keys)


async def test_add_token_then_find_token_returns_the_record(store: RedisAdminTokenStore) -> None:
    record = AdminTokenRecord(
        token_id="t_1",
        role=AdminRole.TENANT_ADMIN,
        tenant_id="tenant-a",
        label="ops laptop",
        created_ms=1_000,
        extra={"note": "x"},
    )
    await store.add_token(TOKEN_HASH, record)
    assert await store.find_token(TOKEN_HASH) == record


async def test_find_token_returns_none_for_an_unknown_hash(store: RedisAdminTokenStore) -> None:
    assert await store.find_token(hashlib.sha256(b"other").hexdigest()) is None


async def test_the_token_secret_is_never_stored(
    store: RedisAdminTokenStore, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await store.add_token(TOKEN_HASH, AdminTokenRecord("t_1", AdminRole.BACKOFFICE, None))
    stored = await redis_client.hgetall(keys.admin_tokens())
    assert SECRET.encode() not in b"".join(k + v for k, v in stored.items())


async def test_every_operation_raises_store_unavailable_when_redis_is_down(
    down_store: RedisAdminTokenStore,
) -> None:
    with pytest.raises(StoreUnavailable):
        await down_store.add_token(TOKEN_HASH, AdminTokenRecord("t", AdminRole.BACKOFFICE, None))
    with pytest.raises(StoreUnavailable):
        await down_store.find_token(TOKEN_HASH)


async def test_revoke_token_deletes_only_the_named_tenants_token(
    store: RedisAdminTokenStore,
) -> None:
    record = AdminTokenRecord("t_1", AdminRole.TENANT_ADMIN, "tenant-a", created_ms=1)
    await store.add_token("digest-1", record)
    assert await store.revoke_token("t_1", "tenant-b") is None
    assert await store.find_token("digest-1") == record
    assert await store.revoke_token("t_1", "tenant-a") == record
    assert await store.find_token("digest-1") is None
    assert await store.revoke_token("t_1", "tenant-a") is None
