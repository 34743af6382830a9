"""`account_session_key`: fast path, slow path, registration, refusals, provisioning."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from gateway.auth.session_key import AccountSessionKeyStrategy
from gateway.auth.strategies import AuthDecision, AuthRegistry, AuthRequest
from gateway.errors import InvalidCredentials, TooManyPendingKeys
from gateway.settings import Settings
from gateway.store.key_store import RedisKeyStore
from gateway.store.keys import RedisKeys
from schemas.codes import KeyStatus

if TYPE_CHECKING:
    from conftest import CountingHasher

ACCOUNT = "demo-1001"
SECRET = "ea-generated-secret-0123456789abcdef"
CLIENT = {"platform": "mt4", "ea_version": "1.0.0", "terminal_build": 1440}


def request(secret: Any = SECRET, *, account_id: str = ACCOUNT, now_ms: int = 1_000) -> AuthRequest:
    return AuthRequest(
        account_id=account_id, credentials={"key": secret}, now_ms=now_ms, client=CLIENT
    )


def restarted(
    strategy_store: RedisKeyStore, hasher: CountingHasher, settings: Settings
) -> AccountSessionKeyStrategy:
    """The strategy of a gateway restarted without a configured pepper (a new random one)."""
    fresh = settings.model_copy(update={"auth_pepper": SecretStr("another-process-pepper")})
    return AccountSessionKeyStrategy.from_settings(strategy_store, hasher, fresh)


# ---- new keys ----------------------------------------------------------------------


async def test_unknown_key_registers_pending(
    strategy: AccountSessionKeyStrategy, key_store: RedisKeyStore
) -> None:
    outcome = await strategy.authenticate(request())
    assert outcome.decision is AuthDecision.PENDING
    assert outcome.key_registered
    assert outcome.key_id is not None and outcome.key_id.startswith("k_")
    stored = await key_store.get(outcome.key_id)
    assert stored is not None
    assert (stored.status, stored.source, stored.account_id) == (
        KeyStatus.PENDING,
        "generated",
        ACCOUNT,
    )
    assert stored.client == CLIENT
    assert stored.first_seen_ms == 1_000
    assert stored.secret_hash.startswith("$argon2id$")


async def test_same_new_key_twice_registers_one_pending_key(
    strategy: AccountSessionKeyStrategy, key_store: RedisKeyStore, hasher: CountingHasher
) -> None:
    first = await strategy.authenticate(request(now_ms=1_000))
    calls = hasher.argon2_calls
    second = await strategy.authenticate(request(now_ms=2_000))
    assert second.decision is AuthDecision.PENDING
    assert second.key_id == first.key_id
    assert not second.key_registered
    assert hasher.argon2_calls == calls  # the pending key is found by its fingerprint
    assert len(await key_store.list_by_status(KeyStatus.PENDING)) == 1


async def test_same_new_key_sent_concurrently_registers_one_pending_key(
    strategy: AccountSessionKeyStrategy, key_store: RedisKeyStore
) -> None:
    outcomes = await asyncio.gather(*(strategy.authenticate(request()) for _ in range(4)))
    assert {o.decision for o in outcomes} == {AuthDecision.PENDING}
    assert len({o.key_id for o in outcomes}) == 1
    assert sum(o.key_registered for o in outcomes) == 1
    assert len(await key_store.list_account_keys(ACCOUNT)) == 1


async def test_pending_key_limit(
    strategy: AccountSessionKeyStrategy, hasher: CountingHasher, settings: Settings
) -> None:
    limit = settings.max_pending_keys_per_account
    for n in range(limit):
        await strategy.authenticate(request(f"{SECRET}-{n}"))
    hashes = hasher.hash_calls
    with pytest.raises(TooManyPendingKeys) as caught:
        await strategy.authenticate(request(f"{SECRET}-over"))
    assert caught.value.retry_after_s > 0
    assert hasher.hash_calls == hashes  # refused before paying for a hash
    # a pending key already registered still gets its pending session
    again = await strategy.authenticate(request(f"{SECRET}-0"))
    assert again.decision is AuthDecision.PENDING


async def test_pending_key_limit_holds_under_concurrent_registrations(
    strategy: AccountSessionKeyStrategy, key_store: RedisKeyStore, settings: Settings
) -> None:
    limit = settings.max_pending_keys_per_account
    results = await asyncio.gather(
        *(strategy.authenticate(request(f"{SECRET}-{n}")) for n in range(limit + 3)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, TooManyPendingKeys)]
    assert len(refused) == 3
    assert len(await key_store.list_by_status(KeyStatus.PENDING)) == limit


async def test_a_key_of_one_account_does_not_open_another(
    strategy: AccountSessionKeyStrategy,
) -> None:
    key_id, secret = await strategy.provision_key(ACCOUNT, "backoffice", 1_000)
    outcome = await strategy.authenticate(request(secret, account_id="demo-2002"))
    assert outcome.decision is AuthDecision.PENDING
    assert outcome.key_id != key_id
    assert outcome.account_id == "demo-2002"


# ---- known keys --------------------------------------------------------------------


async def test_approved_key_authenticates_without_argon2_on_reconnect(
    strategy: AccountSessionKeyStrategy, key_store: RedisKeyStore, hasher: CountingHasher
) -> None:
    key_id, secret = await strategy.provision_key(ACCOUNT, "backoffice", 1_000)
    calls = hasher.argon2_calls
    for now_ms in (2_000, 3_000):
        outcome = await strategy.authenticate(request(secret, now_ms=now_ms))
        assert outcome.decision is AuthDecision.AUTHENTICATED
        assert outcome.authenticated
        assert outcome.key_id == key_id
    assert hasher.argon2_calls == calls
    stored = await key_store.get(key_id)
    assert stored is not None and stored.last_seen_ms == 3_000  # uses are touched


async def test_pending_key_authenticates_once_approved(
    strategy: AccountSessionKeyStrategy, key_store: RedisKeyStore, hasher: CountingHasher
) -> None:
    pending = await strategy.authenticate(request())
    assert pending.key_id is not None
    await key_store.set_status(pending.key_id, KeyStatus.APPROVED, by="ops", now_ms=1_500)
    calls = hasher.argon2_calls
    outcome = await strategy.authenticate(request(now_ms=2_000))
    assert outcome.decision is AuthDecision.AUTHENTICATED
    assert outcome.key_id == pending.key_id
    assert hasher.argon2_calls == calls


@pytest.mark.parametrize("status", [KeyStatus.REJECTED, KeyStatus.REVOKED])
async def test_rejected_key_is_refused(
    strategy: AccountSessionKeyStrategy, key_store: RedisKeyStore, status: KeyStatus
) -> None:
    pending = await strategy.authenticate(request())
    assert pending.key_id is not None
    await key_store.set_status(pending.key_id, status, by="ops", now_ms=1_500)
    with pytest.raises(InvalidCredentials, match=status.value):
        await strategy.authenticate(request(now_ms=2_000))
    assert [k.key_id for k in await key_store.list_account_keys(ACCOUNT)] == [pending.key_id]


# ---- slow path (fingerprint unknown, e.g. after a restart with a new pepper) ----------


async def test_slow_path_verifies_once_then_remembers_the_fingerprint(
    strategy: AccountSessionKeyStrategy,
    key_store: RedisKeyStore,
    hasher: CountingHasher,
    settings: Settings,
) -> None:
    key_id, secret = await strategy.provision_key(ACCOUNT, "backoffice", 1_000)
    after_restart = restarted(key_store, hasher, settings)
    verifies = hasher.verify_calls
    outcome = await after_restart.authenticate(request(secret))
    assert (outcome.decision, outcome.key_id) == (AuthDecision.AUTHENTICATED, key_id)
    assert hasher.verify_calls == verifies + 1
    await after_restart.authenticate(request(secret))
    assert hasher.verify_calls == verifies + 1


async def test_slow_path_still_refuses_a_rejected_key(
    strategy: AccountSessionKeyStrategy,
    key_store: RedisKeyStore,
    hasher: CountingHasher,
    settings: Settings,
) -> None:
    pending = await strategy.authenticate(request())
    assert pending.key_id is not None
    await key_store.set_status(pending.key_id, KeyStatus.REJECTED, by="ops", now_ms=1_500)
    with pytest.raises(InvalidCredentials):
        await restarted(key_store, hasher, settings).authenticate(request())
    assert len(await key_store.list_account_keys(ACCOUNT)) == 1  # not re-registered


async def test_slow_path_verifies_at_most_max_verify_keys(
    key_store: RedisKeyStore, hasher: CountingHasher, settings: Settings
) -> None:
    provisioner = AccountSessionKeyStrategy.from_settings(key_store, hasher, settings)
    for n in range(5):
        await provisioner.provision_key(ACCOUNT, "backoffice", 1_000 + n)
    bounded = AccountSessionKeyStrategy(
        key_store,
        hasher,
        pepper=SecretStr("another-process-pepper"),
        max_pending_keys=3,
        max_verify_keys=2,
    )
    verifies = hasher.verify_calls
    outcome = await bounded.authenticate(request("an-unknown-secret-of-enough-length"))
    assert outcome.decision is AuthDecision.PENDING
    assert hasher.verify_calls == verifies + 2


# ---- credentials validation ----------------------------------------------------------


@pytest.mark.parametrize(
    ("credentials", "message"),
    [
        ({}, "credentials.key must be a string"),
        ({"key": 1234567890123456789}, "credentials.key must be a string"),
        ({"key": "x" * 15}, "16 to 256"),
        ({"key": "x" * 257}, "16 to 256"),
    ],
)
async def test_malformed_key_is_refused_with_a_clear_message(
    strategy: AccountSessionKeyStrategy,
    hasher: CountingHasher,
    credentials: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(InvalidCredentials, match=message):
        await strategy.authenticate(AuthRequest(ACCOUNT, credentials, now_ms=1))
    assert hasher.argon2_calls == 0


@pytest.mark.parametrize("length", [16, 256])
async def test_key_lengths_at_the_bounds_are_accepted(
    strategy: AccountSessionKeyStrategy, length: int
) -> None:
    outcome = await strategy.authenticate(request("k" * length))
    assert outcome.decision is AuthDecision.PENDING


# ---- provisioning ----------------------------------------------------------------


async def test_provision_key_stores_an_approved_key_and_returns_the_secret_once(
    strategy: AccountSessionKeyStrategy, key_store: RedisKeyStore
) -> None:
    key_id, secret = await strategy.provision_key(ACCOUNT, "backoffice", 5_000)
    assert key_id.startswith("k_")
    assert len(secret) >= 43  # 32 random bytes, url-safe base64
    stored = await key_store.get(key_id)
    assert stored is not None
    assert (stored.status, stored.source, stored.decided_by, stored.decided_ms) == (
        KeyStatus.APPROVED,
        "provisioned",
        "backoffice",
        5_000,
    )
    other_id, other_secret = await strategy.provision_key(ACCOUNT, "backoffice", 5_001)
    assert (other_id, other_secret) != (key_id, secret)


# ---- secrecy -----------------------------------------------------------------------


async def test_secret_never_appears_in_stored_records_or_logs(
    strategy: AccountSessionKeyStrategy,
    key_store: RedisKeyStore,
    redis_client: aioredis.Redis,
    keys: RedisKeys,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    pending = await strategy.authenticate(request())
    assert pending.key_id is not None
    await strategy.authenticate(request())
    _, provisioned = await strategy.provision_key(ACCOUNT, "backoffice", 1_000)
    await strategy.authenticate(request(provisioned))
    await key_store.set_status(pending.key_id, KeyStatus.REJECTED, by="ops", now_ms=2)
    with pytest.raises(InvalidCredentials) as refused:
        await strategy.authenticate(request())

    dump = b""
    async for name in redis_client.scan_iter(match=f"{keys.prefix}:*"):
        kind = await redis_client.type(name)
        if kind == b"hash":
            dump += b"".join(k + v for k, v in (await redis_client.hgetall(name)).items())
        elif kind == b"zset":
            dump += b"".join(await redis_client.zrange(name, 0, -1))
    assert dump  # something was stored
    logged = caplog.text + "".join(repr(r.args) for r in caplog.records)
    assert "registered pending key" in logged
    for secret in (SECRET, provisioned):
        assert secret.encode() not in dump
        assert secret not in logged
        assert secret not in str(refused.value)


# ---- registry ----------------------------------------------------------------------


async def test_session_key_strategy_is_reached_through_the_registry(
    strategy: AccountSessionKeyStrategy,
) -> None:
    registry = AuthRegistry([strategy])
    assert registry.methods == ("account_session_key",)
    outcome = await registry.authenticate("account_session_key", request())
    assert outcome.decision is AuthDecision.PENDING
    assert outcome.auth_method == "account_session_key"


# ---- fingerprints for the reconnect fast path ------------------------------------------


async def test_fingerprint_names_the_key_the_slow_path_verified(
    strategy: AccountSessionKeyStrategy, key_store: RedisKeyStore
) -> None:
    outcome = await strategy.authenticate(request())
    print_ = strategy.fingerprint(request())

    assert print_ is not None
    found = await key_store.find_by_fingerprint(ACCOUNT, print_)
    assert found is not None and found.key_id == outcome.key_id


async def test_fingerprint_is_bound_to_the_account_and_the_pepper(
    strategy: AccountSessionKeyStrategy,
    key_store: RedisKeyStore,
    hasher: CountingHasher,
    settings: Settings,
) -> None:
    mine = strategy.fingerprint(request())

    assert mine is not None and SECRET not in mine
    assert strategy.fingerprint(request(account_id="demo-other")) != mine
    assert restarted(key_store, hasher, settings).fingerprint(request()) != mine


@pytest.mark.parametrize("secret", ["short", "x" * 257, 42, None])
def test_malformed_key_has_no_fingerprint(strategy: AccountSessionKeyStrategy, secret: Any) -> None:
    assert strategy.fingerprint(request(secret)) is None
