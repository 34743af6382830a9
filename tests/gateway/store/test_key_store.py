"""Contract of `RedisKeyStore`, against the embedded store and real Redis."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from gateway.errors import Conflict, NotFound, StoreUnavailable, TooManyPendingKeys
from gateway.store.key_store import RedisKeyStore
from gateway.store.keys import RedisKeys
from gateway.store.records import KeyRecord
from schemas.codes import KeyStatus

ACCOUNT = "demo-1001"


def make_key(
    key_id: str,
    *,
    account_id: str = ACCOUNT,
    status: KeyStatus = KeyStatus.PENDING,
    first_seen_ms: int = 1_000,
) -> KeyRecord:
    """A key record with a placeholder hash."""
    return KeyRecord(
        key_id=key_id,
        account_id=account_id,
        status=status,
        source="generated" if status is KeyStatus.PENDING else "provisioned",
        secret_hash=f"$argon2id$placeholder-{key_id}",
        first_seen_ms=first_seen_ms,
        client={"platform": "mt4", "terminal_build": 1440},
    )


@pytest.fixture
def store(redis_client: aioredis.Redis, keys: RedisKeys) -> RedisKeyStore:
    return RedisKeyStore(redis_client, keys)


@pytest.fixture
def down_store(down_client: aioredis.Redis, keys: RedisKeys) -> RedisKeyStore:
    """A store whose server cannot be reached (same flavour as `redis_client`)."""
    return RedisKeyStore(down_client, keys)


# ---- registration ------------------------------------------------------------------


async def test_register_pending_stores_record_fingerprint_and_indexes(
    store: RedisKeyStore,
) -> None:
    record = make_key("k_one")
    stored = await store.register_pending(record, fingerprint="fp-one", max_pending_keys=3)
    assert stored == record
    assert await store.get("k_one") == record
    assert await store.find_by_fingerprint(ACCOUNT, "fp-one") == record
    assert await store.list_by_status(KeyStatus.PENDING) == [record]
    assert await store.list_account_keys(ACCOUNT) == [record]


async def test_register_pending_returns_existing_key_when_fingerprint_known(
    store: RedisKeyStore,
) -> None:
    first = await store.register_pending(make_key("k_one"), fingerprint="fp", max_pending_keys=3)
    again = await store.register_pending(
        make_key("k_two", first_seen_ms=2_000), fingerprint="fp", max_pending_keys=3
    )
    assert again == first
    assert await store.get("k_two") is None
    assert [k.key_id for k in await store.list_account_keys(ACCOUNT)] == ["k_one"]


async def test_register_pending_raises_too_many_pending_keys_at_limit(
    store: RedisKeyStore,
) -> None:
    for n in range(2):
        await store.register_pending(make_key(f"k_{n}"), fingerprint=f"fp{n}", max_pending_keys=2)
    with pytest.raises(TooManyPendingKeys) as caught:
        await store.register_pending(make_key("k_2"), fingerprint="fp2", max_pending_keys=2)
    assert caught.value.retry_after_s > 0
    assert await store.get("k_2") is None
    assert await store.find_by_fingerprint(ACCOUNT, "fp2") is None


async def test_register_pending_returns_existing_key_even_when_at_limit(
    store: RedisKeyStore,
) -> None:
    first = await store.register_pending(make_key("k_0"), fingerprint="fp0", max_pending_keys=1)
    assert await store.register_pending(make_key("k_x"), fingerprint="fp0", max_pending_keys=1) == (
        first
    )


async def test_register_pending_counts_only_pending_keys_of_that_account(
    store: RedisKeyStore,
) -> None:
    await store.provision(make_key("k_ok", status=KeyStatus.APPROVED), fingerprint="fp-ok")
    await store.register_pending(make_key("k_rej"), fingerprint="fp-rej", max_pending_keys=1)
    await store.set_status("k_rej", KeyStatus.REJECTED, by="ops", now_ms=5)
    await store.register_pending(
        make_key("k_other", account_id="other-1"), fingerprint="fp-o", max_pending_keys=1
    )
    stored = await store.register_pending(
        make_key("k_new"), fingerprint="fp-new", max_pending_keys=1
    )
    assert stored.key_id == "k_new"


async def test_register_pending_refuses_a_record_that_is_not_pending(
    store: RedisKeyStore,
) -> None:
    with pytest.raises(ValueError, match="pending"):
        await store.register_pending(
            make_key("k_a", status=KeyStatus.APPROVED), fingerprint="fp", max_pending_keys=3
        )


async def test_concurrent_registrations_of_one_fingerprint_store_one_key(
    store: RedisKeyStore,
) -> None:
    results = await asyncio.gather(
        *(
            store.register_pending(make_key(f"k_{n}"), fingerprint="same", max_pending_keys=3)
            for n in range(5)
        )
    )
    assert len({r.key_id for r in results}) == 1
    assert len(await store.list_by_status(KeyStatus.PENDING)) == 1


# ---- fingerprints ------------------------------------------------------------------


async def test_find_by_fingerprint_returns_none_when_unknown(store: RedisKeyStore) -> None:
    assert await store.find_by_fingerprint(ACCOUNT, "nope") is None


async def test_find_by_fingerprint_is_scoped_to_the_account(store: RedisKeyStore) -> None:
    await store.register_pending(make_key("k_one"), fingerprint="fp", max_pending_keys=3)
    assert await store.find_by_fingerprint("other-1", "fp") is None


async def test_remember_fingerprint_points_a_second_fingerprint_at_the_key(
    store: RedisKeyStore,
) -> None:
    record = await store.provision(make_key("k_a", status=KeyStatus.APPROVED), fingerprint="old")
    await store.remember_fingerprint(ACCOUNT, "new", "k_a")
    assert await store.find_by_fingerprint(ACCOUNT, "new") == record
    assert await store.find_by_fingerprint(ACCOUNT, "old") == record


async def test_find_by_fingerprint_returns_none_when_the_key_is_gone(
    store: RedisKeyStore,
) -> None:
    await store.remember_fingerprint(ACCOUNT, "dangling", "k_missing")
    assert await store.find_by_fingerprint(ACCOUNT, "dangling") is None


# ---- provisioning, lookup, listing -------------------------------------------------


async def test_provision_stores_an_approved_key(store: RedisKeyStore) -> None:
    record = make_key("k_p", status=KeyStatus.APPROVED)
    assert await store.provision(record, fingerprint="fp") == record
    assert await store.get("k_p") == record
    assert await store.find_by_fingerprint(ACCOUNT, "fp") == record
    assert await store.list_by_status(KeyStatus.APPROVED) == [record]
    assert await store.list_by_status(KeyStatus.PENDING) == []


async def test_get_returns_none_for_an_unknown_key(store: RedisKeyStore) -> None:
    assert await store.get("k_unknown") is None


async def test_list_by_status_lists_oldest_first_across_accounts(store: RedisKeyStore) -> None:
    await store.register_pending(
        make_key("k_late", first_seen_ms=3_000), fingerprint="a", max_pending_keys=3
    )
    await store.register_pending(
        make_key("k_early", account_id="other-1", first_seen_ms=1_000),
        fingerprint="b",
        max_pending_keys=3,
    )
    await store.provision(
        make_key("k_mid", status=KeyStatus.APPROVED, first_seen_ms=2_000), fingerprint="c"
    )
    pending = await store.list_by_status(KeyStatus.PENDING)
    assert [k.key_id for k in pending] == ["k_early", "k_late"]
    everything = await store.list_by_status()
    assert [k.key_id for k in everything] == ["k_early", "k_mid", "k_late"]


async def test_list_account_keys_lists_every_status_of_that_account_only(
    store: RedisKeyStore,
) -> None:
    await store.provision(make_key("k_a", status=KeyStatus.APPROVED), fingerprint="a")
    await store.register_pending(
        make_key("k_b", first_seen_ms=2_000), fingerprint="b", max_pending_keys=3
    )
    await store.set_status("k_b", KeyStatus.REJECTED, by="ops", now_ms=9)
    await store.register_pending(
        make_key("k_c", account_id="other-1"), fingerprint="c", max_pending_keys=3
    )
    listed = await store.list_account_keys(ACCOUNT)
    assert [(k.key_id, k.status) for k in listed] == [
        ("k_a", KeyStatus.APPROVED),
        ("k_b", KeyStatus.REJECTED),
    ]


# ---- status changes and use --------------------------------------------------------


async def test_set_status_moves_the_key_between_status_indexes(store: RedisKeyStore) -> None:
    await store.register_pending(make_key("k_a"), fingerprint="fp", max_pending_keys=3)
    approved = await store.set_status("k_a", KeyStatus.APPROVED, by="backoffice", now_ms=7_000)
    assert approved.status is KeyStatus.APPROVED
    assert (approved.decided_ms, approved.decided_by) == (7_000, "backoffice")
    assert await store.get("k_a") == approved
    assert await store.list_by_status(KeyStatus.PENDING) == []
    assert await store.list_by_status(KeyStatus.APPROVED) == [approved]
    assert await store.find_by_fingerprint(ACCOUNT, "fp") == approved

    revoked = await store.set_status("k_a", KeyStatus.REVOKED, by="tenant", now_ms=8_000)
    assert await store.list_by_status(KeyStatus.APPROVED) == []
    assert await store.list_by_status(KeyStatus.REVOKED) == [revoked]


async def test_set_status_raises_not_found_for_an_unknown_key(store: RedisKeyStore) -> None:
    with pytest.raises(NotFound):
        await store.set_status("k_nope", KeyStatus.APPROVED, by="ops", now_ms=1)


async def test_concurrent_status_changes_leave_the_key_in_exactly_one_index(
    store: RedisKeyStore,
) -> None:
    await store.register_pending(make_key("k_a"), fingerprint="fp", max_pending_keys=3)
    outcomes = await asyncio.gather(
        store.set_status("k_a", KeyStatus.APPROVED, by="a", now_ms=1),
        store.set_status("k_a", KeyStatus.REJECTED, by="b", now_ms=2),
        store.touch("k_a", now_ms=3),
        return_exceptions=True,
    )
    # reject after approve is taken; approve after reject contradicts it (409)
    assert [type(o) for o in outcomes if isinstance(o, Exception)] in ([], [Conflict])
    final = await store.get("k_a")
    assert final is not None
    indexed = {s: [k.key_id for k in await store.list_by_status(s)] for s in KeyStatus}
    assert indexed[final.status] == ["k_a"]
    assert sum(len(ids) for ids in indexed.values()) == 1
    assert final.last_seen_ms == 3


async def test_touch_records_the_last_use_and_never_moves_it_back(store: RedisKeyStore) -> None:
    await store.provision(make_key("k_a", status=KeyStatus.APPROVED), fingerprint="fp")
    await store.touch("k_a", now_ms=5_000)
    await store.touch("k_a", now_ms=4_000)
    record = await store.get("k_a")
    assert record is not None
    assert record.last_seen_ms == 5_000
    assert record.status is KeyStatus.APPROVED


async def test_touch_ignores_an_unknown_key(store: RedisKeyStore) -> None:
    await store.touch("k_nope", now_ms=1)
    assert await store.get("k_nope") is None


# ---- store down ----------------------------------------------------------------------


async def test_every_operation_raises_store_unavailable_when_redis_is_down(
    down_store: RedisKeyStore,
) -> None:
    record = make_key("k_a")
    calls = [
        down_store.list_account_keys(ACCOUNT),
        down_store.find_by_fingerprint(ACCOUNT, "fp"),
        down_store.remember_fingerprint(ACCOUNT, "fp", "k_a"),
        down_store.register_pending(record, fingerprint="fp", max_pending_keys=3),
        down_store.provision(record, fingerprint="fp"),
        down_store.get("k_a"),
        down_store.list_by_status(KeyStatus.PENDING),
        down_store.set_status("k_a", KeyStatus.APPROVED, by="ops", now_ms=1),
        down_store.touch("k_a", now_ms=1),
    ]
    for call in calls:
        with pytest.raises(StoreUnavailable):
            await call
