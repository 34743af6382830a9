"""Contract of `RedisAccountStore`, against the embedded store and real Redis."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from gateway.errors import StoreUnavailable
from gateway.store.account_store import RedisAccountStore
from gateway.store.keys import RedisKeys
from gateway.store.records import AccountRecord
from schemas.codes import Role


@pytest.fixture
def store(redis_client: aioredis.Redis, keys: RedisKeys) -> RedisAccountStore:
    return RedisAccountStore(redis_client, keys)


@pytest.fixture
def down_store(down_client: aioredis.Redis, keys: RedisKeys) -> RedisAccountStore:
    """A store whose server cannot be reached (same flavour as `redis_client`)."""
    return RedisAccountStore(down_client, keys)


async def test_put_account_then_get_returns_the_same_record(store: RedisAccountStore) -> None:
    record = AccountRecord("demo-1001", "tenant-a", Role.MASTER, label="Main", updated_ms=42)
    assert await store.put_account(record) == record
    assert await store.get_account("demo-1001") == record


async def test_get_account_returns_none_when_never_configured(store: RedisAccountStore) -> None:
    assert await store.get_account("demo-404") is None


async def test_get_account_ignores_session_fields_of_an_unconfigured_account(
    store: RedisAccountStore, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await redis_client.hset(keys.account("demo-1"), mapping={"gen": 3, "active_sid": "s1"})
    assert await store.get_account("demo-1") is None
    assert await store.list_accounts() == []


async def test_put_account_replaces_and_clears_the_label_without_touching_session_fields(
    store: RedisAccountStore, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await store.put_account(AccountRecord("demo-1", "tenant-a", Role.MASTER, label="old"))
    await redis_client.hset(keys.account("demo-1"), mapping={"gen": 3, "active_sid": "s1"})
    replaced = AccountRecord("demo-1", "tenant-b", Role.FOLLOWER, label=None, updated_ms=9)
    await store.put_account(replaced)
    assert await store.get_account("demo-1") == replaced
    assert await redis_client.hmget(keys.account("demo-1"), ["gen", "active_sid"]) == [
        b"3",
        b"s1",
    ]


async def test_list_accounts_filters_by_tenant_and_sorts_by_id(store: RedisAccountStore) -> None:
    b = AccountRecord("b-2", "tenant-a", Role.FOLLOWER)
    a = AccountRecord("a-1", "tenant-a", Role.MASTER)
    c = AccountRecord("c-3", "tenant-b", Role.FOLLOWER)
    for record in (b, c, a):
        await store.put_account(record)
    assert await store.list_accounts() == [a, b, c]
    assert await store.list_accounts("tenant-a") == [a, b]
    assert await store.list_accounts("tenant-z") == []


async def test_every_operation_raises_store_unavailable_when_redis_is_down(
    down_store: RedisAccountStore,
) -> None:
    calls = [
        down_store.put_account(AccountRecord("demo-1", "t", Role.MASTER)),
        down_store.get_account("demo-1"),
        down_store.list_accounts(),
    ]
    for call in calls:
        with pytest.raises(StoreUnavailable):
            await call


async def test_account_exists_when_only_a_key_or_session_field_is_stored(
    store: RedisAccountStore, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    assert not await store.account_exists("demo-1")
    await redis_client.hset(keys.account_keys("demo-1"), "k1", b"{}")
    await redis_client.hset(keys.account("demo-2"), mapping={"gen": 1})
    assert await store.account_exists("demo-1")
    assert await store.account_exists("demo-2")


async def test_create_account_refuses_an_account_that_exists_in_any_form(
    store: RedisAccountStore, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await redis_client.zadd(keys.account_sessions("taken"), {"s1": 1})
    assert not await store.create_account(AccountRecord("taken", "t1", Role.MASTER))
    assert await store.get_account("taken") is None
    fresh = AccountRecord("fresh", "t1", Role.MASTER, label="x", updated_ms=5)
    assert await store.create_account(fresh)
    assert await store.get_account("fresh") == fresh
    assert not await store.create_account(AccountRecord("fresh", "t2", Role.FOLLOWER))
    assert await store.get_account("fresh") == fresh
