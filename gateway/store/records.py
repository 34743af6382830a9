"""Value objects the stores return. Plain frozen dataclasses: no I/O, no Redis types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from schemas.codes import AdminRole, KeyStatus, Role, SessionState

__all__ = [
    "AccountRecord",
    "ActivationResult",
    "AdminTokenRecord",
    "CreatedSession",
    "EnqueueResult",
    "Handoff",
    "KeyRecord",
    "KeyedCreation",
    "LogBatch",
    "LogEntry",
    "LogRead",
    "SessionRecord",
    "SnapshotPartResult",
]


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One EA session as stored."""

    session_id: str  #: random, url-safe
    account_id: str  #: owner account
    state: SessionState  #: pending, authenticated or closed
    key_id: str | None  #: the key that opened it (None for non-key auth methods)
    generation: int  #: fencing generation it was activated with; 0 while pending
    token_hash: str  #: sha256 hex of the session token's secret part
    created_ms: int  #: creation time
    last_heartbeat_ms: int  #: last StatusHeartbeat (creation time before the first)
    closed_reason: str | None = None  #: CloseReason value once closed
    closed_ms: int | None = None  #: when it was closed
    client: dict[str, Any] | None = None  #: telemetry from the creation request


@dataclass(frozen=True, slots=True)
class CreatedSession:
    """Result of `SessionStore.create_session`."""

    session: SessionRecord  #: the new session
    preempted: tuple[str, ...] = ()  #: session ids closed with reason `preempted`


@dataclass(frozen=True, slots=True)
class KeyedCreation:
    """Result of `SessionStore.create_with_key` (re-authentication by fingerprint)."""

    key_id: str | None  #: the key the fingerprint names; None if unknown (nothing created)
    key_status: KeyStatus | None  #: that key's status (None if unknown)
    created: CreatedSession | None  #: the new session; None if the key is unknown or refused


@dataclass(frozen=True, slots=True)
class ActivationResult:
    """Result of a promotion (pending -> authenticated)."""

    session: SessionRecord  #: the promoted session
    preempted: tuple[str, ...] = ()  #: session ids closed with reason `preempted`
    released_intents: int = 0  #: held OrderIntents moved to the intent stream


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One server -> EA message in an account's delivery log."""

    seq: int  #: per-account sequence number
    body: bytes  #: the envelope JSON *without* `seq` (see `with_seq`)

    def with_seq(self) -> bytes:
        """The envelope JSON with `"seq"` spliced in first."""
        return b'{"seq":%d,' % self.seq + self.body[1:]


@dataclass(frozen=True, slots=True)
class Handoff:
    """Entries just logged for one account, offered to its local connection."""

    account_id: str  #: whose log
    entries: tuple[LogEntry, ...]  #: consecutive seqs, in order

    @property
    def last_seq(self) -> int:
        """The highest seq offered."""
        return self.entries[-1].seq


@dataclass(frozen=True, slots=True)
class LogRead:
    """One account's part of `DeliveryLog.read_many`."""

    account_id: str  #: the account
    session_id: str  #: the session reading (must be active for `read`)
    after_seq: int  #: read messages with a higher seq
    replies: int = 0  #: seqs to hand out first, for replies written directly
    read: bool = True  #: read the log (False: only hand out the reply seqs)
    limit: int = 500  #: at most this many logged messages


@dataclass(frozen=True, slots=True)
class LogBatch:
    """One `LogRead`'s result: the reply seqs, then the logged messages."""

    reply_seqs: tuple[int, ...]  #: `LogRead.replies` fresh seqs, increasing
    entries: list[LogEntry]  #: logged messages after `after_seq`, in seq order


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    """Result of `DeliveryLog.enqueue`."""

    seq: int | None  #: assigned seq, or None when held until a session activates
    duplicate: bool = False  #: an entry with the same envelope id already existed
    full: bool = False  #: refused: the log was full (only `enqueue_many` reports it)


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """An account session key. The secret itself is never stored."""

    key_id: str  #: random public id, used in admin URLs
    account_id: str  #: the only account it can open
    status: KeyStatus  #: pending, approved, rejected or revoked
    source: str  #: "generated" (first-launch EA key) or "provisioned" (back-office)
    secret_hash: str  #: argon2id PHC string
    first_seen_ms: int  #: registration time
    last_seen_ms: int | None = None  #: last successful use
    decided_ms: int | None = None  #: last approve/reject/revoke
    decided_by: str | None = None  #: admin principal of that decision
    client: dict[str, Any] | None = None  #: telemetry of the first session


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """Tenant, role and label of an account (set by `PUT /admin/v1/accounts/{id}`)."""

    account_id: str  #: the account
    tenant_id: str  #: owning tenant
    role: Role  #: master or follower
    label: str | None = None  #: free text
    updated_ms: int | None = None  #: last change


@dataclass(frozen=True, slots=True)
class AdminTokenRecord:
    """An admin bearer token (only its hash is stored)."""

    token_id: str  #: public id
    role: AdminRole  #: backoffice or tenant_admin
    tenant_id: str | None  #: the only tenant a tenant_admin may touch
    label: str | None = None  #: free text
    created_ms: int = 0  #: issue time
    extra: dict[str, Any] = field(default_factory=dict)  #: reserved


@dataclass(frozen=True, slots=True)
class SnapshotPartResult:
    """What keeping one part of a SyncSnapshot sent in parts found."""

    #: ``partial`` (parts missing), ``complete`` (every part is here: `bodies`) or
    #: ``duplicate`` (a part of the snapshot last handed to the copier: dropped)
    status: Literal["partial", "complete", "duplicate"]
    have: int = 0  #: distinct parts kept of this snapshot
    superseded: str | None = None  #: the incomplete snapshot this part's one replaced
    bodies: tuple[bytes, ...] = ()  #: every part envelope, in part order (when complete)
