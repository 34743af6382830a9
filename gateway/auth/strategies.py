"""Pluggable EA authentication: the strategy protocol, its outcome, and the registry.

A session creation request names an ``auth_method``; the session code hands the
request to `AuthRegistry.authenticate` and acts on the `AuthOutcome` it gets
back. It never imports a strategy, so adding a method (a bearer token, an OAuth
access token, ...) is a new `AuthStrategy` registered at start-up, with no change
to the session code.

Errors (all `gateway.errors.AuthError` or `StoreError`)::

    UnsupportedAuthMethod  no strategy for the method           -> 400
    InvalidCredentials     malformed, wrong, rejected, revoked   -> 401
    TooManyPendingKeys     the account has too many pending keys -> 429
    StoreUnavailable       the store cannot be reached           -> 503
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from gateway.errors import InvalidCredentials, UnsupportedAuthMethod

__all__ = [
    "AuthDecision",
    "AuthOutcome",
    "AuthRegistry",
    "AuthRequest",
    "AuthStrategy",
    "FingerprintStrategy",
    "require_string",
]


class AuthDecision(StrEnum):
    """What the session code does with the new session."""

    AUTHENTICATED = "authenticated"  #: create it authenticated (activation, preemption)
    PENDING = "pending"  #: create it pending; a back-office decision promotes it


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """The authentication part of `POST /ea-gateway/v1/sessions`, already parsed."""

    account_id: str  #: the account the EA wants to open (validated by the caller)
    credentials: Mapping[str, Any]  #: method-specific; strategies validate them
    now_ms: int  #: request time
    client: Mapping[str, Any] | None = None  #: optional EA telemetry


@dataclass(frozen=True, slots=True)
class AuthOutcome:
    """A successful authentication: everything the session code needs, nothing secret."""

    decision: AuthDecision  #: authenticated or pending
    account_id: str  #: the account the session is for
    auth_method: str  #: the method that decided
    key_id: str | None = None  #: the session key, for key-based methods (else None)
    principal: str | None = None  #: who authenticated: token subject / OAuth client id
    key_registered: bool = False  #: this request registered a new pending key
    expires_at_ms: int | None = None  #: when the credential stops being valid, if known
    attributes: Mapping[str, Any] = field(default_factory=dict)  #: extra, for logs/audit

    @property
    def authenticated(self) -> bool:
        """Whether the session starts authenticated."""
        return self.decision is AuthDecision.AUTHENTICATED


class AuthStrategy(Protocol):
    """One ``auth_method``: checks credentials, decides authenticated or pending."""

    @property
    def auth_method(self) -> str:
        """The ``auth_method`` value this strategy answers (e.g. ``account_session_key``)."""
        ...

    async def authenticate(self, request: AuthRequest) -> AuthOutcome:
        """Check the request's credentials for its account.

        Raises:
            InvalidCredentials: malformed or wrong credentials, or a refused key.
            TooManyPendingKeys: a new key cannot be registered now.
            StoreUnavailable: the store cannot be reached.
        """
        ...


@runtime_checkable
class FingerprintStrategy(AuthStrategy, Protocol):
    """A strategy that knows verified credentials by a keyed fingerprint.

    Lets the session code take the reconnect fast path: the store re-authenticates
    the fingerprint and creates the session in one call
    (`SessionStore.create_with_key`), with the decision rules `authenticate` applies
    to a known key. A fingerprint the store does not know sends the request through
    `authenticate` as usual.
    """

    def fingerprint(self, request: AuthRequest) -> str | None:
        """The keyed fingerprint of the request's credentials; None if malformed."""
        ...


class AuthRegistry:
    """auth_method -> strategy. The only authentication object the session code sees."""

    def __init__(self, strategies: Iterable[AuthStrategy] = ()) -> None:
        #: the strategies by method name, in registration order
        self._strategies: dict[str, AuthStrategy] = {}
        #: the strategies that have fingerprints, by method name
        self._fingerprinted: dict[str, FingerprintStrategy] = {}
        for strategy in strategies:
            self.register(strategy)

    @property
    def methods(self) -> tuple[str, ...]:
        """Registered method names, in registration order."""
        return tuple(self._strategies)

    def __contains__(self, auth_method: object) -> bool:
        return auth_method in self._strategies

    def register(self, strategy: AuthStrategy, *, replace: bool = False) -> None:
        """Add a strategy under its `auth_method`.

        Raises:
            ValueError: a strategy with that method is registered and not `replace`.
        """
        method = strategy.auth_method
        if method in self._strategies and not replace:
            raise ValueError(f"auth method {method!r} is already registered")
        self._strategies[method] = strategy
        self._fingerprinted.pop(method, None)
        if isinstance(strategy, FingerprintStrategy):
            self._fingerprinted[method] = strategy

    def get(self, auth_method: str) -> AuthStrategy:
        """The strategy for a method.

        Raises:
            UnsupportedAuthMethod: nothing is registered under that name.
        """
        try:
            return self._strategies[auth_method]
        except KeyError:
            supported = ", ".join(self._strategies) or "none"
            raise UnsupportedAuthMethod(
                f"auth_method {auth_method!r} is not supported (supported: {supported})"
            ) from None

    def fingerprint(self, auth_method: str, request: AuthRequest) -> str | None:
        """The keyed fingerprint the method knows these credentials by, if any.

        None when the method has no fingerprints (or is unknown) or the credentials
        are malformed: the caller then runs `authenticate`, which raises the error.
        The store scopes a fingerprint to `request.account_id`, so the account check
        of `authenticate` holds for it too.
        """
        strategy = self._fingerprinted.get(auth_method)
        if strategy is None or not isinstance(request.credentials, Mapping):
            return None
        return strategy.fingerprint(request)

    async def authenticate(self, auth_method: str, request: AuthRequest) -> AuthOutcome:
        """Run the method's strategy.

        Also guarantees the outcome is for the requested account, so a faulty
        strategy cannot open another account's session.
        """
        if not isinstance(request.credentials, Mapping):
            raise InvalidCredentials("credentials must be a JSON object")
        outcome = await self.get(auth_method).authenticate(request)
        if outcome.account_id != request.account_id:
            raise InvalidCredentials("the credentials are not valid for this account")
        return outcome


def require_string(
    credentials: Mapping[str, Any], name: str, *, min_length: int, max_length: int
) -> str:
    """One string field of `credentials`, length-checked; never echoes the value.

    Raises:
        InvalidCredentials: missing, not a string, or a length out of range.
    """
    value = credentials.get(name)
    if not isinstance(value, str):
        raise InvalidCredentials(f"credentials.{name} must be a string")
    if not min_length <= len(value) <= max_length:
        raise InvalidCredentials(
            f"credentials.{name} must be {min_length} to {max_length} characters long"
        )
    return value
