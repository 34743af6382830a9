"""The `SessionStore` port: session records, their lifecycle and heartbeats.

Kept apart from `gateway.store.ports` (which re-exports it) only for size; the
same rules apply: a `typing.Protocol`, implemented over Redis and over the
embedded store, one contract suite, `StoreUnavailable` when the store cannot be
reached.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from gateway.store.records import (
    AccountRecord,
    ActivationResult,
    CreatedSession,
    KeyedCreation,
    SessionRecord,
)
from schemas.codes import SessionState

__all__ = ["SessionStore"]


class SessionStore(Protocol):
    """Sessions, with atomic create-with-preemption and promotion under a fencing generation.

    Invariant: at most one session per account is `authenticated` at any time, on
    every gateway node. The account hash holds `gen` (incremented by each
    activation) and `active_sid`; a session is active iff it is authenticated and
    `active_sid` names it.
    """

    async def create_session(
        self,
        *,
        account_id: str,
        session_id: str,
        token_hash: str,
        key_id: str | None,
        authenticated: bool,
        now_ms: int,
        heartbeat_timeout_ms: int,
        max_pending_sessions: int,
        client: dict[str, Any] | None = None,
    ) -> CreatedSession:
        """Create a session atomically.

        A `pending` session preempts nothing; raises `TooManyPendingSessions` when the
        account already has `max_pending_sessions` pending sessions.
        An `authenticated` one is *activated*: `gen` is incremented, every other live
        session of the account is closed with reason `preempted` (and announced on the
        account's event channel), and held messages are numbered after the current
        seq. Unacknowledged numbered messages keep their seq, so the EA's `ack_seq`
        (reported after creation) still refers to them.
        The heartbeat deadline is `now_ms + heartbeat_timeout_ms`.
        """
        ...

    async def create_with_key(
        self,
        *,
        account_id: str,
        fingerprint: str,
        rate_bucket: str,
        rate_limit: int,
        rate_window_s: int,
        session_id: str,
        token_hash: str,
        now_ms: int,
        heartbeat_timeout_ms: int,
        max_pending_sessions: int,
        client: dict[str, Any] | None = None,
    ) -> KeyedCreation:
        """The reconnect fast path: re-authenticate a verified key and create, atomically.

        Counts the creation in the `rate_bucket` window as `RateLimiter.hit` does
        (raises `RateLimited` when full, changing nothing else), looks the keyed
        `fingerprint` up among the account's keys (`KeyStore.find_by_fingerprint`)
        and lets the key's status decide: approved -> `create_session(authenticated=
        True)` and `KeyStore.touch`; pending -> `create_session(authenticated=False)`;
        rejected or revoked -> nothing is created (`created` None). A
        fingerprint naming no key creates nothing (`key_id` None).
        """
        ...

    async def promote(
        self,
        session_id: str,
        *,
        now_ms: int,
        opening_messages: Sequence[bytes],
    ) -> ActivationResult | None:
        """Promote a pending session to authenticated, atomically (activation).

        In order: preempt every other live session, drop what the session reported
        as processed while pending (`remember_ack`), log `opening_messages`
        (SessionStateChange, then InitAck: envelope JSON without seq, bound to this
        session) with fresh seqs, renumber the remaining unacknowledged durable
        messages after them (rule 2: the backlog comes after InitAck), number the held
        messages after those, and move the held OrderIntents to the intent stream in
        their original order. Returns None (and changes nothing)
        if the session is not pending any more.
        """
        ...

    async def get_session(self, session_id: str) -> SessionRecord | None:
        """The session (live or recently closed), or None if unknown or expired."""
        ...

    async def get_session_account(
        self, session_id: str
    ) -> tuple[SessionRecord, AccountRecord | None] | None:
        """`get_session` and `AccountStore.get_account` of its account, in one call."""
        ...

    async def list_sessions(self, account_id: str | None = None) -> list[SessionRecord]:
        """Live sessions, of one account or of all accounts."""
        ...

    async def count_by_state(self) -> dict[SessionState, int]:
        """Live sessions of every account by state, kept up to date at each state change."""
        ...

    async def pending_sessions_for_key(self, account_id: str, key_id: str) -> list[str]:
        """Ids of the account's pending sessions opened with that key, oldest first."""
        ...

    async def close_session(
        self, session_id: str, *, reason: str, now_ms: int
    ) -> SessionRecord | None:
        """Close a live session and announce it; None if it was not live."""
        ...

    async def close_many(
        self, session_ids: Sequence[str], *, reason: str, now_ms: int
    ) -> list[SessionRecord]:
        """`close_session` for many sessions in a few calls; returns those closed here."""
        ...

    async def remember_ack(self, session_id: str, ack_seq: int) -> None:
        """Keep the highest `ack_seq` a *pending* session reported (max wins).

        Promotion applies it before renumbering the backlog, so an EA is not re-sent
        what it already processed. Ignored for sessions that are not pending.
        """
        ...

    async def heartbeat(
        self,
        account_id: str,
        session_id: str,
        *,
        now_ms: int,
        heartbeat_timeout_ms: int,
        status: bytes,
        ack_seq: int,
    ) -> int:
        """The StatusHeartbeat of the account's *active* session, atomically: `touch`,
        keep `status` in ea-state (as `IntentSink.record_ea_state(kind="status")`), and
        `DeliveryLog.ack` (clamped the same way).

        Raises `FencingError` (and changes nothing) if the session is not active.
        Returns the account's acknowledged seq afterwards.
        """
        ...

    async def record_init(
        self, account_id: str, session_id: str, *, now_ms: int, payload: bytes, ack_seq: int
    ) -> int:
        """The InitRequest of the account's *active* session, atomically: keep `payload`
        in ea-state (as `IntentSink.record_ea_state(kind="init")`) and `DeliveryLog.ack`
        (clamped the same way).

        Raises `FencingError` (and changes nothing) if the session is not active.
        Returns the account's acknowledged seq afterwards.
        """
        ...

    async def touch(self, session_id: str, *, now_ms: int, heartbeat_timeout_ms: int) -> None:
        """Record a heartbeat: push the session's deadline to `now_ms + timeout`.

        Raises `FencingError` if the session is closed.
        """
        ...

    async def next_deadline_ms(self) -> int | None:
        """The earliest heartbeat deadline of any live session, or None."""
        ...

    async def close_expired(self, *, now_ms: int, limit: int = 500) -> list[SessionRecord]:
        """Close (reason `heartbeat_timeout`) live sessions whose deadline is < now_ms.

        Safe to run on every node at once: each session is closed exactly once.
        """
        ...
