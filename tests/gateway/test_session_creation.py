"""`SessionService` creation and handshake: what a reconnect costs, and what it checks.

A verified key's reconnect is one store call (`create_with_key`: rate limit, key
status, creation) and no argon2; a WebSocket handshake is one store call
(`get_session_account`); the InitRequest that follows is one store call
(`record_init`: payload + fenced, clamped ack). Everything else takes the ordinary
path with its errors.
The stores are the embedded ones, each port wrapped in a call-counting fake.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from pydantic import SecretStr

from gateway.auth.session_key import AccountSessionKeyStrategy
from gateway.auth.strategies import AuthRegistry
from gateway.errors import InvalidCredentials, InvalidToken, RateLimited
from gateway.sessions import SessionService
from gateway.settings import Settings
from gateway.store.factory import StoreBundle, open_store
from gateway.store.records import AccountRecord
from gateway.telemetry import configure_telemetry
from schemas.codes import CloseReason, KeyStatus, Role, SessionState
from schemas.rest import SessionCreateRequest
from tests.clocks import SettableClock
from tests.gateway.auth.conftest import CountingHasher
from tests.gateway.counting import Counted

ACCOUNT = "demo-1001"
CLIENT_ADDR = "203.0.113.7"


@dataclass
class World:
    """A gateway's session service over the embedded store, with its call log."""

    service: SessionService
    strategy: AccountSessionKeyStrategy
    hasher: CountingHasher
    store: StoreBundle
    clock: SettableClock
    calls: list[str] = field(default_factory=list)

    async def create(self, key: str, account_id: str = ACCOUNT) -> Any:
        request = SessionCreateRequest.model_validate(
            {
                "account_id": account_id,
                "auth_method": "account_session_key",
                "credentials": {"key": key},
            }
        )
        self.calls.clear()
        return await self.service.create(request, CLIENT_ADDR)


@pytest.fixture
async def make_world() -> AsyncIterator[Callable[..., Any]]:
    made: list[World] = []

    async def make(**overrides: Any) -> World:
        settings = Settings(
            argon2_memory_kib=8,
            argon2_time_cost=1,
            auth_pepper=SecretStr("pepper-for-tests"),
            **overrides,
        )
        real = await open_store(settings)
        calls: list[str] = []
        store = replace(
            real,
            sessions=Counted("sessions", real.sessions, calls),
            key_store=Counted("key_store", real.key_store, calls),
            accounts=Counted("accounts", real.accounts, calls),
            rate_limiter=Counted("rate_limiter", real.rate_limiter, calls),
            intents=Counted("intents", real.intents, calls),
            delivery=Counted("delivery", real.delivery, calls),
        )
        hasher = CountingHasher(settings)
        strategy = AccountSessionKeyStrategy.from_settings(store.key_store, hasher, settings)
        clock = SettableClock()
        service = SessionService(
            settings=settings,
            store=store,
            auth=AuthRegistry([strategy]),
            telemetry=configure_telemetry("none"),
            clock=clock,
        )
        world = World(service, strategy, hasher, real, clock, calls)
        made.append(world)
        return world

    yield make
    for world in made:
        world.hasher.close()
        await world.store.aclose()


# ---- creation -----------------------------------------------------------------------


async def test_verified_key_reconnect_is_one_store_call_without_argon2(
    make_world: Callable[..., Any],
) -> None:
    world = await make_world()
    _, key = await world.strategy.provision_key(ACCOUNT, by="test", now_ms=1)
    argon2_before = world.hasher.argon2_calls

    created = await world.create(key)

    assert created.state is SessionState.AUTHENTICATED
    assert world.calls == ["sessions.create_with_key"]
    assert world.hasher.argon2_calls == argon2_before


async def test_new_key_is_registered_once_then_reconnects_by_its_fingerprint(
    make_world: Callable[..., Any],
) -> None:
    world = await make_world()
    key = "ea-generated-secret-0123456789abcdef"

    first = await world.create(key)
    assert first.state is SessionState.PENDING
    assert world.calls[0] == "sessions.create_with_key"  # the unknown fingerprint
    assert "rate_limiter.hit" not in world.calls  # counted by that call already
    argon2_after_first = world.hasher.argon2_calls
    assert argon2_after_first == 1  # the new key's hash

    second = await world.create(key)
    assert second.state is SessionState.PENDING
    assert world.calls == ["sessions.create_with_key"]
    assert world.hasher.argon2_calls == argon2_after_first
    sessions = await world.store.sessions.list_sessions(ACCOUNT)
    assert len({record.key_id for record in sessions}) == 1


@pytest.mark.parametrize("status", [KeyStatus.REJECTED, KeyStatus.REVOKED])
async def test_refused_key_is_refused_on_reconnect_and_opens_nothing(
    make_world: Callable[..., Any], status: KeyStatus
) -> None:
    world = await make_world()
    key_id, key = await world.strategy.provision_key(ACCOUNT, by="test", now_ms=1)
    await world.store.key_store.set_status(key_id, status, by="test", now_ms=2)

    with pytest.raises(InvalidCredentials) as refused:
        await world.create(key)

    assert str(refused.value) == f"this key was {status.value} for the account"
    assert world.calls == ["sessions.create_with_key"]
    assert await world.store.sessions.list_sessions(ACCOUNT) == []


async def test_verified_key_reconnects_are_rate_limited(make_world: Callable[..., Any]) -> None:
    world = await make_world(session_create_limit=2, session_create_window_s=10)
    _, key = await world.strategy.provision_key(ACCOUNT, by="test", now_ms=1)
    await world.create(key)
    await world.create(key)

    with pytest.raises(RateLimited) as info:
        await world.create(key)

    assert info.value.retry_after_s == 10
    assert len(await world.store.sessions.list_sessions(ACCOUNT)) == 1


@pytest.mark.parametrize("key", ["short", 42])
async def test_malformed_key_is_counted_then_refused_as_before(
    make_world: Callable[..., Any], key: Any
) -> None:
    world = await make_world(session_create_limit=1, session_create_window_s=10)

    with pytest.raises(InvalidCredentials, match=r"credentials\.key must be"):
        await world.create(key)
    assert world.calls == ["rate_limiter.hit"]
    with pytest.raises(RateLimited):
        await world.create(key)


# ---- WebSocket handshake ----------------------------------------------------------------


async def test_handshake_is_one_store_call_with_the_accounts_role(
    make_world: Callable[..., Any],
) -> None:
    world = await make_world()
    await world.store.accounts.put_account(AccountRecord(ACCOUNT, "t1", Role.MASTER))
    _, key = await world.strategy.provision_key(ACCOUNT, by="test", now_ms=1)
    created = await world.create(key)
    world.calls.clear()

    record = await world.service.resolve_token(created.session_token)
    proto = await world.service.open_protocol(record)

    assert world.calls == ["sessions.get_session_account"]
    assert (proto.session_id, proto.role, proto.state) == (
        created.session_id,
        Role.MASTER,
        SessionState.AUTHENTICATED,
    )


async def test_handshake_sees_a_session_preempted_since_its_creation(
    make_world: Callable[..., Any],
) -> None:
    world = await make_world()
    _, key = await world.strategy.provision_key(ACCOUNT, by="test", now_ms=1)
    old = await world.create(key)
    await world.create(key)

    record = await world.service.resolve_token(old.session_token)

    assert (record.state, record.closed_reason) == (SessionState.CLOSED, "preempted")


async def test_open_protocol_reads_the_role_again_when_the_kept_one_is_old(
    make_world: Callable[..., Any],
) -> None:
    world = await make_world()
    await world.store.accounts.put_account(AccountRecord(ACCOUNT, "t1", Role.MASTER))
    _, key = await world.strategy.provision_key(ACCOUNT, by="test", now_ms=1)
    created = await world.create(key)
    record = await world.service.resolve_token(created.session_token)
    await world.store.accounts.put_account(AccountRecord(ACCOUNT, "t1", Role.FOLLOWER))
    world.clock.now += 60_000
    world.calls.clear()

    proto = await world.service.open_protocol(record)

    assert proto.role is Role.FOLLOWER
    assert world.calls == ["accounts.get_account"]


async def test_wrong_token_secret_is_refused(make_world: Callable[..., Any]) -> None:
    world = await make_world()
    _, key = await world.strategy.provision_key(ACCOUNT, by="test", now_ms=1)
    created = await world.create(key)
    session_id = created.session_token.partition(".")[0]

    with pytest.raises(InvalidToken, match="unknown session token"):
        await world.service.resolve_token(f"{session_id}.not-the-secret")


# ---- closing many ---------------------------------------------------------------------


async def test_close_many_closes_the_sessions_and_counts_each(
    make_world: Callable[..., Any],
) -> None:
    world = await make_world()
    ids = []
    for n in range(3):
        _, key = await world.strategy.provision_key(f"demo-{n}", by="test", now_ms=1)
        ids.append((await world.create(key, account_id=f"demo-{n}")).session_id)
    world.calls.clear()

    closed = await world.service.close_many(ids, CloseReason.SERVER_SHUTDOWN)

    assert [r.session_id for r in closed] == ids
    assert world.calls == ["sessions.close_many"]
    assert world.service.telemetry.counts["sessions_closed_server_shutdown"] == 3


# ---- InitRequest ------------------------------------------------------------------------


def _init_request(ack_seq: int) -> dict[str, Any]:
    return {
        "type": "InitRequest",
        "id": "init-1",
        "ts": 1,
        "payload": {
            "ack_seq": ack_seq,
            "account": {"balance": 1000, "equity": 1000, "currency": "USD", "leverage": 100},
        },
    }


async def _open(world: World) -> Any:
    _, key = await world.strategy.provision_key(ACCOUNT, by="test", now_ms=1)
    created = await world.create(key)
    return await world.service.open_protocol(
        await world.service.resolve_token(created.session_token)
    )


async def test_init_request_is_one_store_call_keeping_the_payload_and_the_ack(
    make_world: Callable[..., Any],
) -> None:
    world = await make_world()
    proto = await _open(world)
    log = world.store.delivery
    queued = await log.enqueue(ACCOUNT, "m1", b'{"type":"OrderCommand","id":"m1","ts":1}')
    first = queued.seq
    await log.enqueue(ACCOUNT, "m2", b'{"type":"OrderCommand","id":"m2","ts":1}')
    await log.read(ACCOUNT, proto.session_id, after_seq=0, limit=1)  # only m1 was handed out
    world.calls.clear()

    effects = proto.receive_object(_init_request(ack_seq=10**9), world.clock())
    applied = await world.service.apply(proto, effects)

    assert world.calls == ["sessions.record_init"]
    assert (applied.acked, applied.reported, applied.close) == (first, True, None)
    assert [e.type for e in applied.outgoing] == ["InitAck"]
    left = await log.read(ACCOUNT, proto.session_id, after_seq=0)
    assert [e.seq for e in left] == [first + 1]  # the ack was clamped to what was read


async def test_init_request_of_a_preempted_session_closes_it_with_the_reason(
    make_world: Callable[..., Any],
) -> None:
    world = await make_world()
    proto = await _open(world)
    _, key = await world.strategy.provision_key(ACCOUNT, by="test", now_ms=1)
    await world.create(key)  # a newer session preempts the first

    applied = await world.service.apply(
        proto, proto.receive_object(_init_request(ack_seq=0), world.clock())
    )

    assert applied.close is not None and applied.close.reason is CloseReason.PREEMPTED
    assert applied.acked is None
