"""An OAuth 2.0 client-credentials adapter, checking access tokens by introspection.

Not registered by default. The EA (or a sidecar next to the terminal) obtains an
access token from the identity provider with the client-credentials grant
(RFC 6749 §4.4) and sends ``{"auth_method": "oauth_client_credentials",
"credentials": {"access_token": "..."}}``. The gateway asks the provider about
the token (RFC 7662 token introspection) through an `OAuthTokenIntrospector`
the deployment supplies, then maps the token's client to an account (by default
the OAuth ``client_id`` *is* the account id)::

    registry.register(OAuthClientCredentialsStrategy(MyIntrospector(...),
                                                     required_scopes=frozenset({"copygate:ea"})))

The session code does not change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, Self

from gateway.auth.strategies import AuthDecision, AuthOutcome, AuthRequest, require_string
from gateway.errors import InvalidCredentials, InvalidToken

__all__ = [
    "OAUTH_CLIENT_CREDENTIALS",
    "ClientAccountResolver",
    "OAuthClientCredentialsStrategy",
    "OAuthTokenIntrospector",
    "TokenIntrospection",
    "client_id_is_account",
]

#: The default ``auth_method`` name on the wire.
OAUTH_CLIENT_CREDENTIALS = "oauth_client_credentials"
#: Longest access token accepted (characters).
_TOKEN_MAX_LENGTH = 8192
#: RFC 7662 members that have a field of their own in `TokenIntrospection`.
_KNOWN_MEMBERS = frozenset({"active", "client_id", "sub", "scope", "exp", "aud"})


@dataclass(frozen=True, slots=True)
class TokenIntrospection:
    """The parts of an RFC 7662 introspection response the adapter uses."""

    active: bool  #: whether the provider considers the token valid now
    client_id: str | None = None  #: the OAuth client the token was issued to
    subject: str | None = None  #: ``sub``; for client credentials usually the client
    scopes: frozenset[str] = frozenset()  #: ``scope``, split on spaces
    expires_at_ms: int | None = None  #: ``exp`` (seconds) in milliseconds
    audience: tuple[str, ...] = ()  #: ``aud``, always as a tuple
    extra: Mapping[str, Any] = field(default_factory=dict)  #: every other member

    @classmethod
    def from_response(cls, data: Mapping[str, Any]) -> Self:
        """Parse an introspection response body (a JSON object).

        Raises:
            InvalidToken: ``active`` is missing or not a boolean.
        """
        active = data.get("active")
        if not isinstance(active, bool):
            raise InvalidToken("introspection response has no boolean 'active'")
        aud = data.get("aud")
        audience = (aud,) if isinstance(aud, str) else tuple(str(a) for a in aud or ())
        exp = data.get("exp")
        return cls(
            active=active,
            client_id=_optional_str(data.get("client_id")),
            subject=_optional_str(data.get("sub")),
            scopes=frozenset(str(data.get("scope") or "").split()),
            expires_at_ms=int(exp) * 1000 if isinstance(exp, int | float) else None,
            audience=audience,
            extra={k: v for k, v in data.items() if k not in _KNOWN_MEMBERS},
        )


def _optional_str(value: Any) -> str | None:
    """A string member, or None if absent or of another type."""
    return value if isinstance(value, str) else None


class OAuthTokenIntrospector(Protocol):
    """Asks the authorization server about an access token (RFC 7662)."""

    async def introspect(self, token: str) -> TokenIntrospection:
        """The server's view of `token` (inactive tokens are answered, not raised).

        Raises:
            InvalidToken: the server's answer is unusable.
        """
        ...


#: Maps an active token to the account it may open (None: to no account).
ClientAccountResolver = Callable[[TokenIntrospection], Awaitable[str | None]]


async def client_id_is_account(token: TokenIntrospection) -> str | None:
    """The default mapping: the OAuth client id is the account id."""
    return token.client_id


class OAuthClientCredentialsStrategy:
    """`AuthStrategy` for access tokens obtained with the client-credentials grant.

    Args:
        introspector: asks the authorization server about a token.
        account_resolver: maps an active token to an account id.
        required_scopes: scopes the token must all carry.
        audience: if set, the token's ``aud`` must contain it.
        auth_method: the wire name to register under.
    """

    def __init__(
        self,
        introspector: OAuthTokenIntrospector,
        *,
        account_resolver: ClientAccountResolver = client_id_is_account,
        required_scopes: frozenset[str] = frozenset(),
        audience: str | None = None,
        auth_method: str = OAUTH_CLIENT_CREDENTIALS,
    ) -> None:
        #: the introspection client supplied by the deployment
        self._introspector = introspector
        #: token -> account id
        self._account_resolver = account_resolver
        #: scopes every accepted token carries
        self._required_scopes = required_scopes
        #: the audience accepted tokens name, if checked
        self._audience = audience
        #: the ``auth_method`` this instance answers
        self._auth_method = auth_method

    @property
    def auth_method(self) -> str:
        """The ``auth_method`` this strategy answers."""
        return self._auth_method

    async def authenticate(self, request: AuthRequest) -> AuthOutcome:
        """Introspect ``credentials.access_token`` and check it opens the account.

        Raises:
            InvalidCredentials: no token, an inactive or expired token, a wrong
                audience, missing scopes, or a token for another account.
        """
        token = require_string(
            request.credentials, "access_token", min_length=1, max_length=_TOKEN_MAX_LENGTH
        )
        try:
            info = await self._introspector.introspect(token)
        except InvalidToken as exc:
            raise InvalidCredentials(f"access token could not be checked: {exc}") from exc
        if not info.active:
            raise InvalidCredentials("access token is not active")
        if info.expires_at_ms is not None and info.expires_at_ms <= request.now_ms:
            raise InvalidCredentials("access token has expired")
        if self._audience is not None and self._audience not in info.audience:
            raise InvalidCredentials("access token is not meant for this gateway")
        missing = self._required_scopes - info.scopes
        if missing:
            raise InvalidCredentials(f"access token lacks scopes: {', '.join(sorted(missing))}")
        if await self._account_resolver(info) != request.account_id:
            raise InvalidCredentials("access token is not valid for this account")
        return AuthOutcome(
            decision=AuthDecision.AUTHENTICATED,
            account_id=request.account_id,
            auth_method=self._auth_method,
            principal=info.client_id or info.subject,
            expires_at_ms=info.expires_at_ms,
            attributes={"scopes": sorted(info.scopes)},
        )
