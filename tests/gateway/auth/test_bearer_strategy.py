"""`BearerTokenStrategy` with a small fake verifier, plugged into `AuthRegistry`."""

from __future__ import annotations

import pytest

from gateway.auth.bearer import BearerTokenStrategy, VerifiedToken
from gateway.auth.session_key import AccountSessionKeyStrategy
from gateway.auth.strategies import AuthDecision, AuthRegistry, AuthRequest
from gateway.errors import InvalidCredentials, InvalidToken

NOW = 1_763_800_000_000


class FakeVerifier:
    """Knows a fixed set of tokens (a stand-in for a JWT library plus JWKS)."""

    def __init__(self, tokens: dict[str, VerifiedToken]) -> None:
        self.tokens = tokens  #: token -> what it vouches for
        self.seen_now_ms: list[int] = []  #: clocks it was asked with

    async def verify(self, token: str, *, now_ms: int) -> VerifiedToken:
        self.seen_now_ms.append(now_ms)
        try:
            return self.tokens[token]
        except KeyError:
            raise InvalidToken("signature does not verify") from None


TOKENS = {
    "tok-demo-1": VerifiedToken("demo-1", expires_at_ms=NOW + 60_000, scopes=frozenset({"ea"})),
    "tok-expired": VerifiedToken("demo-1", expires_at_ms=NOW),
    "tok-demo-2": VerifiedToken("demo-2"),
    "tok-by-claim": VerifiedToken("user-42", claims={"mt4_account": "demo-1"}),
}


def request(token: object, account_id: str = "demo-1") -> AuthRequest:
    return AuthRequest(account_id, {"token": token}, now_ms=NOW)


@pytest.fixture
def registry(strategy: AccountSessionKeyStrategy) -> AuthRegistry:
    """The default session-key method plus the bearer adapter: no session-code change."""
    registry = AuthRegistry([strategy])
    registry.register(BearerTokenStrategy(FakeVerifier(TOKENS)))
    return registry


async def test_bearer_strategy_plugs_into_the_registry_and_authenticates(
    registry: AuthRegistry,
) -> None:
    assert registry.methods == ("account_session_key", "bearer_token")
    outcome = await registry.authenticate("bearer_token", request("tok-demo-1"))
    assert outcome.decision is AuthDecision.AUTHENTICATED
    assert (outcome.account_id, outcome.principal, outcome.key_id) == ("demo-1", "demo-1", None)
    assert outcome.expires_at_ms == NOW + 60_000
    assert outcome.auth_method == "bearer_token"


@pytest.mark.parametrize(
    ("token", "account_id", "message"),
    [
        ("tok-unknown", "demo-1", "refused: signature does not verify"),
        ("tok-expired", "demo-1", "expired"),
        ("tok-demo-2", "demo-1", "not valid for this account"),
        ("", "demo-1", "1 to 8192"),
        (42, "demo-1", "must be a string"),
    ],
)
async def test_bearer_strategy_refuses_bad_tokens(
    registry: AuthRegistry, token: object, account_id: str, message: str
) -> None:
    with pytest.raises(InvalidCredentials, match=message):
        await registry.authenticate("bearer_token", request(token, account_id))


async def test_bearer_strategy_passes_the_request_clock_to_the_verifier() -> None:
    verifier = FakeVerifier(TOKENS)
    await BearerTokenStrategy(verifier).authenticate(request("tok-demo-1"))
    assert verifier.seen_now_ms == [NOW]


async def test_bearer_strategy_requires_the_configured_scopes() -> None:
    strategy = BearerTokenStrategy(FakeVerifier(TOKENS), required_scopes=frozenset({"ea", "x"}))
    with pytest.raises(InvalidCredentials, match="lacks scopes: x"):
        await strategy.authenticate(request("tok-demo-1"))


async def test_bearer_strategy_maps_the_subject_with_a_custom_resolver() -> None:
    async def by_claim(token: VerifiedToken) -> str | None:
        return token.claims.get("mt4_account")

    strategy = BearerTokenStrategy(
        FakeVerifier(TOKENS), account_resolver=by_claim, auth_method="corp_jwt"
    )
    registry = AuthRegistry([strategy])
    outcome = await registry.authenticate("corp_jwt", request("tok-by-claim"))
    assert (outcome.account_id, outcome.principal) == ("demo-1", "user-42")
