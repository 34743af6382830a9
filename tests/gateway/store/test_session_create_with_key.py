"""Contract of `SessionStore.create_with_key`: the reconnect fast path.

One call counts the creation in the rate-limit window, finds the key by its keyed
fingerprint, applies the key's status (approved / pending / refused) and creates the
session exactly as `create_session` would.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import redis.asyncio as aioredis

from gateway.errors import RateLimited, TooManyPendingSessions
from gateway.store.key_record_json import encode_key
from gateway.store.key_store import RedisKeyStore
from gateway.store.keys import RedisKeys
from gateway.store.rate_limiter import RedisRateLimiter
from gateway.store.records import KeyedCreation, KeyRecord
from schemas.codes import KeyStatus, SessionState
from tests.gateway.store.world import HEARTBEAT_TIMEOUT_MS, Node

ACCOUNT = "demo-1"
#: 1_000 s after the epoch: the start of a 10 s rate-limit window.
T0 = 1_000_000
CLIENT = {"platform": "mt4", "terminal_build": 1440}


@pytest.fixture
def key_store(redis_client: aioredis.Redis, keys: RedisKeys) -> RedisKeyStore:
    return RedisKeyStore(redis_client, keys)


async def add_key(
    key_store: RedisKeyStore,
    key_id: str,
    status: KeyStatus,
    *,
    fingerprint: str | None = None,
    last_seen_ms: int | None = None,
    client: dict[str, object] | None = None,
) -> KeyRecord:
    """A stored key of ACCOUNT known by `fingerprint` (default ``fp-<key id>``)."""
    record = KeyRecord(
        key_id=key_id,
        account_id=ACCOUNT,
        status=status,
        source="provisioned",
        secret_hash=f"$argon2id$placeholder-{key_id}",
        first_seen_ms=500,
        last_seen_ms=last_seen_ms,
        client=client,
    )
    await key_store.provision(record, fingerprint=fingerprint or f"fp-{key_id}")
    return record


async def reconnect(
    node: Node,
    session_id: str,
    fingerprint: str,
    *,
    account_id: str = ACCOUNT,
    now_ms: int = T0,
    limit: int = 100,
    max_pending: int = 3,
) -> KeyedCreation:
    return await node.sessions.create_with_key(
        account_id=account_id,
        fingerprint=fingerprint,
        rate_bucket="session-create:203.0.113.7",
        rate_limit=limit,
        rate_window_s=10,
        session_id=session_id,
        token_hash=f"hash-of-{session_id}",
        now_ms=now_ms,
        heartbeat_timeout_ms=HEARTBEAT_TIMEOUT_MS,
        max_pending_sessions=max_pending,
        client=CLIENT,
    )


# ---- approved keys ----------------------------------------------------------------


async def test_approved_key_opens_an_authenticated_session_like_create_session(
    node: Node, key_store: RedisKeyStore
) -> None:
    await add_key(key_store, "k_a", KeyStatus.APPROVED)

    result = await reconnect(node, "s1", "fp-k_a", now_ms=T0 + 5)

    assert (result.key_id, result.key_status) == ("k_a", KeyStatus.APPROVED)
    assert result.created is not None and result.created.preempted == ()
    record = result.created.session
    assert (record.session_id, record.account_id, record.state) == (
        "s1",
        ACCOUNT,
        SessionState.AUTHENTICATED,
    )
    assert (record.key_id, record.token_hash, record.generation) == ("k_a", "hash-of-s1", 1)
    assert (record.created_ms, record.client) == (T0 + 5, CLIENT)
    assert await node.sessions.get_session("s1") == record
    assert await node.sessions.next_deadline_ms() == T0 + 5 + HEARTBEAT_TIMEOUT_MS


async def test_approved_key_preempts_every_other_live_session_of_the_account(
    node: Node, key_store: RedisKeyStore
) -> None:
    await add_key(key_store, "k_a", KeyStatus.APPROVED)
    await node.open("old", now_ms=T0 - 10)
    await node.open("other-account", account_id="demo-2", now_ms=T0 - 10)

    result = await reconnect(node, "new", "fp-k_a")

    assert result.created is not None and result.created.preempted == ("old",)
    old = await node.sessions.get_session("old")
    assert old is not None and (old.state, old.closed_reason) == (SessionState.CLOSED, "preempted")
    assert [r.session_id for r in await node.sessions.list_sessions()] == ["other-account", "new"]


async def test_approved_key_is_touched_and_the_rest_of_its_record_is_kept(
    node: Node, key_store: RedisKeyStore, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    telemetry = {"platform": "mt4", "last_seen_ms": 7, "note": 'a/b "q"'}
    before = await add_key(key_store, "k_a", KeyStatus.APPROVED, client=telemetry)

    await reconnect(node, "s1", "fp-k_a", now_ms=T0 + 42)

    raw = await redis_client.hget(keys.account_keys(ACCOUNT), "k_a")
    assert raw == encode_key(replace(before, last_seen_ms=T0 + 42))  # byte for byte
    after = await key_store.get("k_a")
    assert after is not None and after.client == telemetry


async def test_key_touch_never_moves_last_seen_back(node: Node, key_store: RedisKeyStore) -> None:
    await add_key(key_store, "k_a", KeyStatus.APPROVED, last_seen_ms=T0 + 9_000)

    await reconnect(node, "s1", "fp-k_a", now_ms=T0)

    after = await key_store.get("k_a")
    assert after is not None and after.last_seen_ms == T0 + 9_000


# ---- pending and refused keys ---------------------------------------------------------


async def test_pending_key_opens_a_pending_session_that_preempts_nothing(
    node: Node, key_store: RedisKeyStore
) -> None:
    before = await add_key(key_store, "k_p", KeyStatus.PENDING)
    await node.open("live", now_ms=T0 - 10)

    result = await reconnect(node, "s1", "fp-k_p")

    assert (result.key_id, result.key_status) == ("k_p", KeyStatus.PENDING)
    assert result.created is not None and result.created.preempted == ()
    assert result.created.session.state is SessionState.PENDING
    assert result.created.session.key_id == "k_p"
    assert await key_store.get("k_p") == before  # a pending key is not touched
    assert {r.session_id for r in await node.sessions.list_sessions(ACCOUNT)} == {"live", "s1"}


async def test_pending_key_beyond_the_pending_session_limit_is_refused(
    node: Node, key_store: RedisKeyStore
) -> None:
    await add_key(key_store, "k_p", KeyStatus.PENDING)
    await reconnect(node, "p1", "fp-k_p", max_pending=1)

    with pytest.raises(TooManyPendingSessions):
        await reconnect(node, "p2", "fp-k_p", max_pending=1)

    assert [r.session_id for r in await node.sessions.list_sessions(ACCOUNT)] == ["p1"]


@pytest.mark.parametrize("status", [KeyStatus.REJECTED, KeyStatus.REVOKED])
async def test_refused_key_creates_nothing_and_says_why(
    node: Node, key_store: RedisKeyStore, status: KeyStatus
) -> None:
    before = await add_key(key_store, "k_r", status)
    await node.open("live", now_ms=T0 - 10)

    result = await reconnect(node, "s1", "fp-k_r")

    assert result == KeyedCreation(key_id="k_r", key_status=status, created=None)
    assert await node.sessions.get_session("s1") is None
    assert [r.session_id for r in await node.sessions.list_sessions(ACCOUNT)] == ["live"]
    assert await key_store.get("k_r") == before


# ---- unknown fingerprints -------------------------------------------------------------


async def test_unknown_fingerprint_creates_nothing(node: Node, key_store: RedisKeyStore) -> None:
    await add_key(key_store, "k_a", KeyStatus.APPROVED)

    result = await reconnect(node, "s1", "fp-never-seen")

    assert result == KeyedCreation(key_id=None, key_status=None, created=None)
    assert await node.sessions.get_session("s1") is None


async def test_fingerprint_of_another_account_is_unknown(
    node: Node, key_store: RedisKeyStore
) -> None:
    await add_key(key_store, "k_a", KeyStatus.APPROVED)

    result = await reconnect(node, "s1", "fp-k_a", account_id="demo-2")

    assert result.key_id is None and result.created is None
    assert await node.sessions.list_sessions() == []


async def test_fingerprint_of_a_deleted_key_record_is_unknown(
    node: Node, key_store: RedisKeyStore, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await add_key(key_store, "k_a", KeyStatus.APPROVED)
    await redis_client.hdel(keys.account_keys(ACCOUNT), "k_a")

    result = await reconnect(node, "s1", "fp-k_a")

    assert result.key_id is None and result.created is None


# ---- rate limit ---------------------------------------------------------------------


async def test_creation_counts_in_the_same_window_as_the_rate_limiter(
    node: Node, key_store: RedisKeyStore, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    limiter = RedisRateLimiter(redis_client, keys)
    await add_key(key_store, "k_a", KeyStatus.APPROVED)
    await reconnect(node, "s1", "fp-k_a", limit=2)
    await reconnect(node, "s2", "fp-never-seen", limit=2)  # unknown keys count too

    retry_after = await limiter.hit(
        "session-create:203.0.113.7", limit=2, window_s=10, now_ms=T0 + 3_000
    )

    assert retry_after == 7


async def test_full_window_refuses_before_anything_else(
    node: Node, key_store: RedisKeyStore
) -> None:
    before = await add_key(key_store, "k_a", KeyStatus.APPROVED)
    await reconnect(node, "s1", "fp-k_a", limit=1, now_ms=T0)

    with pytest.raises(RateLimited) as info:
        await reconnect(node, "s2", "fp-k_a", limit=1, now_ms=T0 + 2_500)

    assert info.value.retry_after_s == 8
    assert await node.sessions.get_session("s2") is None
    s1 = await node.sessions.get_session("s1")
    assert s1 is not None and s1.state is SessionState.AUTHENTICATED  # not preempted
    touched = await key_store.get("k_a")
    assert touched is not None and touched.last_seen_ms == T0 != before.last_seen_ms


async def test_next_window_allows_again(node: Node, key_store: RedisKeyStore) -> None:
    await add_key(key_store, "k_a", KeyStatus.APPROVED)
    await reconnect(node, "s1", "fp-k_a", limit=1, now_ms=T0)

    result = await reconnect(node, "s2", "fp-k_a", limit=1, now_ms=T0 + 10_000)

    assert result.created is not None
