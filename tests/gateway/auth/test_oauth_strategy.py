"""`OAuthClientCredentialsStrategy` with a fake introspector, plugged into `AuthRegistry`."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.auth.oauth import OAuthClientCredentialsStrategy, TokenIntrospection
from gateway.auth.session_key import AccountSessionKeyStrategy
from gateway.auth.strategies import AuthDecision, AuthRegistry, AuthRequest
from gateway.errors import InvalidCredentials, InvalidToken

NOW = 1_763_800_000_000
EXP_S = NOW // 1000 + 3600

RESPONSES: dict[str, dict[str, Any]] = {
    "at-demo-1": {
        "active": True,
        "client_id": "demo-1",
        "sub": "demo-1",
        "scope": "copygate:ea openid",
        "exp": EXP_S,
        "aud": "copygate",
        "tenant": "acme",
    },
    "at-inactive": {"active": False},
    "at-expired": {"active": True, "client_id": "demo-1", "exp": NOW // 1000 - 1},
    "at-demo-2": {"active": True, "client_id": "demo-2", "scope": "copygate:ea"},
    "at-other-aud": {"active": True, "client_id": "demo-1", "aud": ["billing"]},
    "at-broken": {"client_id": "demo-1"},
}


class FakeIntrospector:
    """Answers from a fixed table, like an RFC 7662 endpoint would."""

    async def introspect(self, token: str) -> TokenIntrospection:
        return TokenIntrospection.from_response(RESPONSES.get(token, {"active": False}))


def request(token: object, account_id: str = "demo-1") -> AuthRequest:
    return AuthRequest(account_id, {"access_token": token}, now_ms=NOW)


@pytest.fixture
def registry(strategy: AccountSessionKeyStrategy) -> AuthRegistry:
    registry = AuthRegistry([strategy])
    registry.register(
        OAuthClientCredentialsStrategy(
            FakeIntrospector(), required_scopes=frozenset({"copygate:ea"})
        )
    )
    return registry


def test_introspection_response_is_parsed_per_rfc_7662() -> None:
    info = TokenIntrospection.from_response(RESPONSES["at-demo-1"])
    assert info.active
    assert (info.client_id, info.subject) == ("demo-1", "demo-1")
    assert info.scopes == frozenset({"copygate:ea", "openid"})
    assert info.expires_at_ms == EXP_S * 1000
    assert info.audience == ("copygate",)
    assert info.extra == {"tenant": "acme"}


def test_introspection_response_without_active_is_refused() -> None:
    with pytest.raises(InvalidToken):
        TokenIntrospection.from_response(RESPONSES["at-broken"])


async def test_oauth_strategy_plugs_into_the_registry_and_authenticates(
    registry: AuthRegistry,
) -> None:
    assert registry.methods == ("account_session_key", "oauth_client_credentials")
    outcome = await registry.authenticate("oauth_client_credentials", request("at-demo-1"))
    assert outcome.decision is AuthDecision.AUTHENTICATED
    assert (outcome.account_id, outcome.principal) == ("demo-1", "demo-1")
    assert outcome.expires_at_ms == EXP_S * 1000


@pytest.mark.parametrize(
    ("token", "account_id", "message"),
    [
        ("at-inactive", "demo-1", "not active"),
        ("at-unknown", "demo-1", "not active"),
        ("at-expired", "demo-1", "expired"),
        ("at-demo-2", "demo-1", "not valid for this account"),
        ("at-other-aud", "demo-1", "lacks scopes"),
        (None, "demo-1", "must be a string"),
    ],
)
async def test_oauth_strategy_refuses_bad_tokens(
    registry: AuthRegistry, token: object, account_id: str, message: str
) -> None:
    with pytest.raises(InvalidCredentials, match=message):
        await registry.authenticate("oauth_client_credentials", request(token, account_id))


async def test_oauth_strategy_checks_the_audience_when_configured() -> None:
    strategy = OAuthClientCredentialsStrategy(FakeIntrospector(), audience="copygate")
    assert (await strategy.authenticate(request("at-demo-1"))).authenticated
    with pytest.raises(InvalidCredentials, match="not meant for this gateway"):
        await strategy.authenticate(request("at-other-aud"))


async def test_oauth_strategy_turns_an_unusable_answer_into_invalid_credentials() -> None:
    strategy = OAuthClientCredentialsStrategy(FakeIntrospector())
    with pytest.raises(InvalidCredentials, match="could not be checked"):
        await strategy.authenticate(request("at-broken"))
