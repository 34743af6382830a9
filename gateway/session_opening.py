"""Opening sessions: authenticate and create one, and open a token's session.

`SessionService` inherits these methods; they are what a reconnect costs. A key
the store knows by its keyed fingerprint is re-authenticated and its session
created in one store call (`SessionStore.create_with_key`); the WebSocket or poll
handshake then finds the token's session and its account in one store call
(`SessionStore.get_session_account`). See ``docs/auth.md``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from gateway.auth.session_key import key_refused
from gateway.auth.strategies import AuthRegistry, AuthRequest
from gateway.clock import Clock
from gateway.errors import InvalidToken, RateLimited
from gateway.protocol import SessionProtocol
from gateway.settings import Settings
from gateway.store.factory import StoreBundle
from gateway.store.records import AccountRecord, SessionRecord
from gateway.telemetry import Telemetry
from schemas.codes import CloseReason, Role, SessionState
from schemas.rest import SessionCreated, SessionCreateRequest

__all__ = ["SessionOpening", "new_envelope_id"]

#: `resolve_token` results kept for `open_protocol` at most (oldest dropped first).
_OPENING_MAX = 4096
#: How old a kept account may be for `open_protocol` to use it (ms).
_OPENING_FRESH_MS = 2_000


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_envelope_id() -> str:
    """A random id for a server envelope: unique across nodes and restarts."""
    return secrets.token_urlsafe(12)


class SessionOpening:
    """Session creation and token resolution, for `SessionService` (which sets the fields)."""

    settings: Settings  #: process settings
    store: StoreBundle  #: every store port
    auth: AuthRegistry  #: strategies by auth_method
    telemetry: Telemetry  #: spans and counters
    clock: Clock  #: epoch-ms clock
    #: session id -> (its account, read at) from `resolve_token`, for `open_protocol`
    _opening: dict[str, tuple[AccountRecord | None, int]]

    async def create(self, request: SessionCreateRequest, client_addr: str) -> SessionCreated:
        """Authenticate and create a session (`POST /ea-gateway/v1/sessions`).

        A key the store knows by its fingerprint (a reconnect) costs one store call:
        `SessionStore.create_with_key` counts the rate limit, applies the key's status
        and creates the session. Anything else takes the rate limit, the method's
        `authenticate` (argon2 for an unknown key) and `create_session`.
        """
        now = self.clock()
        client = request.client.model_dump(exclude_none=True) if request.client else None
        auth = AuthRequest(request.account_id, request.credentials, now, client)
        bucket = f"session-create:{client_addr}"
        session_id, secret = secrets.token_urlsafe(12), secrets.token_urlsafe(32)
        created = None
        print_ = self.auth.fingerprint(request.auth_method, auth)
        if print_ is not None:
            keyed = await self.store.sessions.create_with_key(
                account_id=request.account_id,
                fingerprint=print_,
                rate_bucket=bucket,
                rate_limit=self.settings.session_create_limit,
                rate_window_s=self.settings.session_create_window_s,
                session_id=session_id,
                token_hash=_token_hash(secret),
                now_ms=now,
                heartbeat_timeout_ms=self.settings.heartbeat_timeout_ms,
                max_pending_sessions=self.settings.max_pending_sessions_per_account,
                client=client,
            )
            if keyed.key_id is not None and keyed.created is None:
                assert keyed.key_status is not None
                raise key_refused(keyed.key_status, keyed.key_id, request.account_id)
            created = keyed.created  # None: an unknown fingerprint (the hit is counted)
        else:
            retry_after = await self.store.rate_limiter.hit(
                bucket,
                limit=self.settings.session_create_limit,
                window_s=self.settings.session_create_window_s,
                now_ms=now,
            )
            if retry_after is not None:
                raise RateLimited(f"too many session creations from {client_addr}", retry_after)
        if created is None:
            outcome = await self.auth.authenticate(request.auth_method, auth)
            created = await self.store.sessions.create_session(
                account_id=request.account_id,
                session_id=session_id,
                token_hash=_token_hash(secret),
                key_id=outcome.key_id,
                authenticated=outcome.authenticated,
                now_ms=now,
                heartbeat_timeout_ms=self.settings.heartbeat_timeout_ms,
                max_pending_sessions=self.settings.max_pending_sessions_per_account,
                client=client,
            )
        state = created.session.state
        self.telemetry.session_created(state.value)
        for _ in created.preempted:
            self.telemetry.session_closed(CloseReason.PREEMPTED.value)
        return SessionCreated(
            session_id=session_id,
            state=state,
            session_token=f"{session_id}.{secret}",
            heartbeat_interval_s=self.settings.heartbeat_interval_s,
            heartbeat_timeout_s=self.settings.heartbeat_timeout_s,
        )

    async def resolve_token(self, token: str | None) -> SessionRecord:
        """The session a bearer token belongs to (possibly closed); `InvalidToken` if none.

        The account is read in the same store call and kept for `open_protocol` of
        this session (which transports call next), so opening costs one call.
        """
        if not token or "." not in token:
            raise InvalidToken("missing or malformed session token")
        session_id, _, secret = token.partition(".")
        found = await self.store.sessions.get_session_account(session_id)
        if found is None or not hmac.compare_digest(found[0].token_hash, _token_hash(secret)):
            raise InvalidToken("unknown session token")
        record, account = found
        if record.state is not SessionState.CLOSED:
            self._opening[session_id] = (account, self.clock())
            if len(self._opening) > _OPENING_MAX:
                del self._opening[next(iter(self._opening))]
        return record

    async def open_protocol(self, record: SessionRecord) -> SessionProtocol:
        """A protocol instance for a stored session, with the account's current role."""
        kept = self._opening.pop(record.session_id, None)
        if kept is not None and self.clock() - kept[1] <= _OPENING_FRESH_MS:
            account = kept[0]
        else:
            account = await self.store.accounts.get_account(record.account_id)
        return self._protocol(record, account.role if account else None)

    def _protocol(self, record: SessionRecord, role: Role | None) -> SessionProtocol:
        return SessionProtocol(
            session_id=record.session_id,
            account_id=record.account_id,
            state=record.state,
            role=role,
            heartbeat_interval_s=self.settings.heartbeat_interval_s,
            heartbeat_timeout_s=self.settings.heartbeat_timeout_s,
            last_heartbeat_ms=record.last_heartbeat_ms,
            new_id=new_envelope_id,
        )
