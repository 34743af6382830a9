"""A bearer-token authentication adapter (e.g. JWTs from an identity provider).

Not registered by default. To use it, supply a `BearerTokenVerifier` (signature,
issuer, audience checks: whatever the token format needs) and register the
strategy; the session code does not change::

    registry.register(BearerTokenStrategy(MyJwtVerifier(...)))

The EA then sends ``{"auth_method": "bearer_token", "credentials": {"token": "..."}}``.
A verified token's subject is mapped to an account (by default the subject *is*
the account id); a token for another account than the requested one is refused.
Token sessions are authenticated at once: there is no pending state, since the
identity provider already vouched for the client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway.auth.strategies import AuthDecision, AuthOutcome, AuthRequest, require_string
from gateway.errors import InvalidCredentials, InvalidToken

__all__ = [
    "BEARER_TOKEN",
    "AccountResolver",
    "BearerTokenStrategy",
    "BearerTokenVerifier",
    "VerifiedToken",
    "subject_is_account",
]

#: The default ``auth_method`` name on the wire.
BEARER_TOKEN = "bearer_token"
#: Longest token accepted (characters); JWTs with many claims stay well below.
_TOKEN_MAX_LENGTH = 8192


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """What a verifier vouches for once a token's signature and claims check out."""

    subject: str  #: who the token was issued to (``sub``)
    expires_at_ms: int | None = None  #: expiry (``exp`` in ms), if the token has one
    scopes: frozenset[str] = frozenset()  #: granted scopes
    claims: Mapping[str, Any] = field(default_factory=dict)  #: every other claim


class BearerTokenVerifier(Protocol):
    """Checks a bearer token; the adapter's only dependency."""

    async def verify(self, token: str, *, now_ms: int) -> VerifiedToken:
        """Verify signature, issuer, audience and time validity of `token`.

        Raises:
            InvalidToken: the token is malformed, forged, expired or not for us.
        """
        ...


#: Maps a verified token to the account it may open (None: to no account).
AccountResolver = Callable[[VerifiedToken], Awaitable[str | None]]


async def subject_is_account(token: VerifiedToken) -> str | None:
    """The default mapping: the token's subject is the account id."""
    return token.subject


class BearerTokenStrategy:
    """`AuthStrategy` that accepts tokens a `BearerTokenVerifier` vouches for.

    Args:
        verifier: checks the token.
        account_resolver: maps the verified token to an account id.
        required_scopes: scopes the token must all carry (none by default).
        auth_method: the wire name to register under.
    """

    def __init__(
        self,
        verifier: BearerTokenVerifier,
        *,
        account_resolver: AccountResolver = subject_is_account,
        required_scopes: frozenset[str] = frozenset(),
        auth_method: str = BEARER_TOKEN,
    ) -> None:
        #: the token checker supplied by the deployment
        self._verifier = verifier
        #: token -> account id
        self._account_resolver = account_resolver
        #: scopes every accepted token carries
        self._required_scopes = required_scopes
        #: the ``auth_method`` this instance answers
        self._auth_method = auth_method

    @property
    def auth_method(self) -> str:
        """The ``auth_method`` this strategy answers."""
        return self._auth_method

    async def authenticate(self, request: AuthRequest) -> AuthOutcome:
        """Verify ``credentials.token`` and check it opens the requested account.

        Raises:
            InvalidCredentials: no token, a token the verifier refuses, an expired
                token, missing scopes, or a token for another account.
        """
        token = require_string(
            request.credentials, "token", min_length=1, max_length=_TOKEN_MAX_LENGTH
        )
        try:
            verified = await self._verifier.verify(token, now_ms=request.now_ms)
        except InvalidToken as exc:
            raise InvalidCredentials(f"bearer token refused: {exc}") from exc
        if verified.expires_at_ms is not None and verified.expires_at_ms <= request.now_ms:
            raise InvalidCredentials("bearer token has expired")
        missing = self._required_scopes - verified.scopes
        if missing:
            raise InvalidCredentials(f"bearer token lacks scopes: {', '.join(sorted(missing))}")
        if await self._account_resolver(verified) != request.account_id:
            raise InvalidCredentials("bearer token is not valid for this account")
        return AuthOutcome(
            decision=AuthDecision.AUTHENTICATED,
            account_id=request.account_id,
            auth_method=self._auth_method,
            principal=verified.subject,
            expires_at_ms=verified.expires_at_ms,
            attributes={"scopes": sorted(verified.scopes)},
        )
