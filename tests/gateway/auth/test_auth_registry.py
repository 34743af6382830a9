"""`AuthRegistry`: method lookup and the guarantees it gives the session code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from gateway.auth.strategies import AuthDecision, AuthOutcome, AuthRegistry, AuthRequest
from gateway.errors import InvalidCredentials, UnsupportedAuthMethod


@dataclass
class FixedStrategy:
    """A strategy that answers every request with one outcome for one account."""

    auth_method: str
    account_id: str = "demo-1"

    async def authenticate(self, request: AuthRequest) -> AuthOutcome:
        return AuthOutcome(AuthDecision.AUTHENTICATED, self.account_id, self.auth_method)


def request(account_id: str = "demo-1", credentials: Any = None) -> AuthRequest:
    return AuthRequest(account_id, credentials if credentials is not None else {}, now_ms=1)


async def test_registry_dispatches_on_the_auth_method() -> None:
    registry = AuthRegistry([FixedStrategy("one"), FixedStrategy("two")])
    assert registry.methods == ("one", "two")
    assert "two" in registry
    outcome = await registry.authenticate("two", request())
    assert outcome.auth_method == "two"


async def test_registry_raises_unsupported_auth_method_naming_the_supported_ones() -> None:
    registry = AuthRegistry([FixedStrategy("one")])
    with pytest.raises(UnsupportedAuthMethod, match=r"'password'.*supported: one"):
        await registry.authenticate("password", request())


def test_registry_refuses_a_second_strategy_for_a_method_unless_replacing() -> None:
    registry = AuthRegistry([FixedStrategy("one")])
    with pytest.raises(ValueError, match="already registered"):
        registry.register(FixedStrategy("one"))
    replacement = FixedStrategy("one", account_id="demo-2")
    registry.register(replacement, replace=True)
    assert registry.get("one") is replacement


async def test_registry_refuses_an_outcome_for_another_account() -> None:
    registry = AuthRegistry([FixedStrategy("one", account_id="demo-other")])
    with pytest.raises(InvalidCredentials, match="not valid for this account"):
        await registry.authenticate("one", request("demo-1"))


async def test_registry_refuses_credentials_that_are_not_an_object() -> None:
    registry = AuthRegistry([FixedStrategy("one")])
    with pytest.raises(InvalidCredentials, match="JSON object"):
        await registry.authenticate("one", request(credentials=["key"]))


@dataclass
class FingerprintedStrategy(FixedStrategy):
    """A strategy that knows credentials by a fingerprint (the reconnect fast path)."""

    def fingerprint(self, request: AuthRequest) -> str | None:
        key = request.credentials.get("key")
        return f"fp:{request.account_id}:{key}" if isinstance(key, str) else None


def test_registry_fingerprints_only_through_strategies_that_have_fingerprints() -> None:
    registry = AuthRegistry([FixedStrategy("plain"), FingerprintedStrategy("keyed")])

    assert registry.fingerprint("keyed", request(credentials={"key": "s"})) == "fp:demo-1:s"
    assert registry.fingerprint("keyed", request(credentials={"key": 1})) is None
    assert registry.fingerprint("keyed", request(credentials=["key"])) is None
    assert registry.fingerprint("plain", request(credentials={"key": "s"})) is None
    assert registry.fingerprint("password", request(credentials={"key": "s"})) is None


def test_replacing_a_strategy_replaces_its_fingerprints() -> None:
    registry = AuthRegistry([FingerprintedStrategy("one")])

    registry.register(FixedStrategy("one"), replace=True)

    assert registry.fingerprint("one", request(credentials={"key": "s"})) is None
