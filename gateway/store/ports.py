"""The store ports: what the gateway needs from its state store.

Each port is a `typing.Protocol`. The production implementation talks to Redis
through `redis.asyncio`; the embedded store is the same implementation over an
in-process fakeredis server, so both run one contract suite
(`tests/gateway/store/`). Every method raises `StoreUnavailable` when the store
cannot be reached, never a Redis exception.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any, Protocol

from gateway.errors import FencingError
from gateway.store.records import (
    AccountRecord,
    AdminTokenRecord,
    EnqueueResult,
    Handoff,
    KeyRecord,
    LogBatch,
    LogEntry,
    LogRead,
    SnapshotPartResult,
)
from gateway.store.session_port import SessionStore
from schemas.codes import KeyStatus

__all__ = [
    "AccountStore",
    "AdminTokenStore",
    "DeliveryLog",
    "EventBus",
    "EventListener",
    "EventSubscription",
    "IntentSink",
    "KeyStore",
    "LocalDelivery",
    "RateLimiter",
    "SessionStore",
]


class DeliveryLog(Protocol):
    """Per-account numbered server -> EA messages, kept until acknowledged."""

    async def enqueue(self, account_id: str, envelope_id: str, body: bytes) -> EnqueueResult:
        """Queue a durable message (envelope JSON without seq).

        Numbered at once when the account has an active session, otherwise held
        (unnumbered) until one activates. An envelope id already queued is ignored
        (`duplicate=True`). Announces `deliver` on the account's event channel.
        """
        ...

    async def enqueue_many(self, items: Sequence[tuple[str, str, bytes]]) -> list[EnqueueResult]:
        """`enqueue` for many (account id, envelope id, body) items, in one store call.

        Each item is treated exactly as `enqueue` would, in order; an item refused
        because its account's log is full comes back with `full=True` instead of
        raising, so the others are not held back. `deliver` is announced once per
        account that got a numbered message.
        """
        ...

    async def log_for_session(self, account_id: str, session_id: str, body: bytes) -> int:
        """Log a message meant for one session only (e.g. an InitAck); returns its seq."""
        ...

    async def next_seq(self, account_id: str) -> int:
        """Hand out one seq for a message sent directly and not kept (e.g. ErrorAlert)."""
        ...

    async def read(
        self, account_id: str, session_id: str, *, after_seq: int, limit: int = 500
    ) -> list[LogEntry]:
        """Logged messages with seq > after_seq that this session may receive, in order.

        Empty unless the session is the account's active session.
        """
        ...

    async def read_many(self, reads: Sequence[LogRead]) -> list[LogBatch]:
        """Many accounts' `next_seq` + `read` in one store call, one `LogBatch` per read.

        For each `LogRead`, in one atomic step: hand out `replies` seqs (as
        `next_seq` would), then, if `read` is set, the logged messages after
        `after_seq` that the session may receive (as `read`, recording the highest
        seq returned). Numbering before reading keeps the guarantee `outbound`
        relies on: every deliverable message below a reply's seq is in the batch.
        """
        ...

    async def ack(self, account_id: str, session_id: str, ack_seq: int) -> int:
        """Drop every message with seq <= ack_seq, clamped to the highest seq ever
        returned by `read` (a message no transport was handed cannot be acknowledged).

        Raises `FencingError` if the session is not active. Returns the account's
        acknowledged seq afterwards.
        """
        ...

    async def mark_handed(self, marks: Sequence[tuple[str, str, int]]) -> list[bool]:
        """Claim entries handed to a connection without a read (the local handoff).

        For each (account id, session id, highest seq handed), atomically: True and
        ``read_seq`` raised to that seq (as a `read` returning it would) if the
        session is the account's active session, else False (write nothing).
        """
        ...

    async def pending_count(self, account_id: str) -> tuple[int, int]:
        """(numbered unacknowledged, held) message counts, for operators."""
        ...


class LocalDelivery(Protocol):
    """Hands entries just logged to this process's own connection of their account.

    Used by whoever enqueues them (the copier's outbox writer, through its delivery
    hook): `expect` the accounts before `DeliveryLog.enqueue_many`, then `hand` the
    new entries right after it returned (durable, with their seqs), or nothing if
    it failed; every `expect` is followed by exactly one `hand` of its hold. A
    connection takes an account's entries only if they are exactly the next seqs
    it would write; otherwise (or with no connection here) the ``deliver`` event
    leads to a log read as always.
    """

    def expect(self, account_ids: Iterable[str]) -> object:
        """Entries are about to be logged for these accounts: their connections'
        reads for a ``deliver`` event wait for the `hand` of the returned hold."""
        ...

    def hand(
        self, hold: object, offers: Sequence[Handoff], done: Callable[[list[Handoff]], None]
    ) -> None:
        """Offer entries and release `hold` (never blocks); `done` gets what was written."""
        ...


class IntentSink(Protocol):
    """Where a session's inbound trade events go."""

    async def hold_intent(self, account_id: str, session_id: str, body: bytes) -> None:
        """Keep an OrderIntent of a pending session, in order (released on promotion)."""
        ...

    async def publish_intent(self, account_id: str, session_id: str, body: bytes) -> str:
        """Append an OrderIntent to the intent stream (fenced); returns the stream id."""
        ...

    async def publish_ea_event(self, account_id: str, session_id: str, body: bytes) -> str:
        """Append an ExecutionReport or SyncSnapshot to the EA event stream (fenced)."""
        ...

    async def publish_in_order(
        self, account_id: str, session_id: str, items: Sequence[tuple[str, bytes]]
    ) -> list[str | FencingError]:
        """Consecutive events of one session (stream, body) appended in one round trip,
        in order; per item its stream id or the `FencingError` it met."""
        ...

    async def buffer_snapshot_part(
        self,
        account_id: str,
        session_id: str,
        *,
        snapshot_id: str,
        part: int,
        parts: int,
        body: bytes,
        now_ms: int,
    ) -> SnapshotPartResult:
        """Keep one part of a SyncSnapshot sent in parts (fenced); all of them once complete."""
        ...

    async def publish_snapshot(
        self, account_id: str, session_id: str, *, snapshot_id: str, body: bytes
    ) -> str | None:
        """Append the snapshot assembled from `snapshot_id`'s parts to the EA event
        stream and forget the parts (fenced); None if the set is no longer buffered."""
        ...

    async def record_ea_state(
        self, account_id: str, *, kind: str, payload: bytes, now_ms: int
    ) -> None:
        """Keep the last InitRequest (`kind="init"`) or StatusHeartbeat (`"status"`) payload."""
        ...


class EventSubscription(Protocol):
    """One account's events as an async iterator (`{"kind": ...}` dicts)."""

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]: ...

    async def __anext__(self) -> dict[str, Any]: ...

    async def ready(self) -> None:
        """Return once events published from now on are certain to arrive."""
        ...

    async def aclose(self) -> None:
        """Stop receiving; iteration ends."""
        ...


class EventListener(Protocol):
    """A callback receiving one account's events (see `EventBus.listen`)."""

    async def ready(self) -> None:
        """Return once events published from now on are certain to arrive."""
        ...

    def close(self) -> None:
        """Stop receiving; the callback is not called any more."""
        ...


class EventBus(Protocol):
    """Cross-node notifications per account (Redis pub/sub)."""

    async def publish(self, account_id: str, event: dict[str, Any]) -> None:
        """Announce an event (`{"kind": "deliver" | "closed" | "promoted", ...}`)."""
        ...

    def subscribe(self, account_id: str) -> EventSubscription:
        """Events of one account from now on (after `ready()`), until closed."""
        ...

    def listen(self, account_id: str, callback: Callable[[dict[str, Any]], None]) -> EventListener:
        """Call `callback(event)` for each event of one account (after `ready()`), until closed.

        The callback runs synchronously in the bus's reader and must not block; a
        missed-events `{"kind": "resync"}` comes the same way.
        """
        ...


class KeyStore(Protocol):
    """Account session keys (hashes only) and the re-authentication fingerprints."""

    async def list_account_keys(self, account_id: str) -> list[KeyRecord]:
        """Every key of the account, any status."""
        ...

    async def find_by_fingerprint(self, account_id: str, fingerprint: str) -> KeyRecord | None:
        """The key a verified fingerprint points to, if any."""
        ...

    async def remember_fingerprint(self, account_id: str, fingerprint: str, key_id: str) -> None:
        """Map a fingerprint to a key after a successful full verification."""
        ...

    async def register_pending(
        self, record: KeyRecord, *, fingerprint: str, max_pending_keys: int
    ) -> KeyRecord:
        """Store a new pending key, atomically with its fingerprint.

        Returns the existing key if the fingerprint is already known; raises
        `TooManyPendingKeys` when the account is at `max_pending_keys`.
        """
        ...

    async def provision(self, record: KeyRecord, *, fingerprint: str) -> KeyRecord:
        """Store a back-office key (status approved)."""
        ...

    async def get(self, key_id: str) -> KeyRecord | None:
        """One key by id."""
        ...

    async def list_by_status(self, status: KeyStatus | None = None) -> list[KeyRecord]:
        """Keys with that status (all keys if None), oldest first."""
        ...

    async def set_status(
        self, key_id: str, status: KeyStatus, *, by: str, now_ms: int
    ) -> KeyRecord:
        """Approve, reject or revoke; idempotent (`key_decision`); `NotFound`, `Conflict`."""
        ...

    async def touch(self, key_id: str, *, now_ms: int) -> None:
        """Record a successful use."""
        ...


class AccountStore(Protocol):
    """Account configuration."""

    async def put_account(self, record: AccountRecord) -> AccountRecord:
        """Create or replace; returns what is stored."""
        ...

    async def get_account(self, account_id: str) -> AccountRecord | None:
        """The account, or None if never configured."""
        ...

    async def account_exists(self, account_id: str) -> bool:
        """Whether anything is stored for the account: record, key, session, log, EA state."""
        ...

    async def create_account(self, record: AccountRecord) -> bool:
        """Store `record` only if the account exists in no form; True if created."""
        ...

    async def list_accounts(self, tenant_id: str | None = None) -> list[AccountRecord]:
        """Accounts, of one tenant or all."""
        ...


class AdminTokenStore(Protocol):
    """Tenant-admin (and extra back-office) bearer tokens, stored hashed."""

    async def add_token(self, token_hash: str, record: AdminTokenRecord) -> None:
        """Store a token record under the sha256 of its secret."""
        ...

    async def find_token(self, token_hash: str) -> AdminTokenRecord | None:
        """The record of a token, or None."""
        ...

    async def revoke_token(self, token_id: str, tenant_id: str) -> AdminTokenRecord | None:
        """Delete a tenant's token by its public id; returns its record, or None."""
        ...


class RateLimiter(Protocol):
    """Sliding-window limits shared by every node: at most `limit` hits in any window."""

    async def hit(self, bucket: str, *, limit: int, window_s: int, now_ms: int) -> int | None:
        """Count one hit; returns None if allowed, else seconds until one more is allowed."""
        ...
