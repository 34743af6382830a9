"""Bodies of the REST API (EA gateway and admin)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.codes import AdminRole, KeyStatus, Role, SessionState
from schemas.types import AccountId, EpochMs, Seq

__all__ = [
    "AccountUpsert",
    "AccountView",
    "AdminCommandQueued",
    "AdminCommandRequest",
    "ClientInfo",
    "ErrorBody",
    "ErrorInfo",
    "ExchangeRequest",
    "ExchangeResponse",
    "KeyList",
    "KeyView",
    "ProvisionedKey",
    "RestModel",
    "SessionCreateRequest",
    "SessionCreated",
    "SessionList",
    "SessionView",
    "TenantTokenCreated",
    "TenantTokenRequest",
]

MAX_WAIT_MS = 25_000


class RestModel(BaseModel):
    """Base of REST bodies: unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")


class ErrorInfo(RestModel):
    code: str
    message: str
    details: Any = None


class ErrorBody(RestModel):
    """Every REST error: ``{"error": {"code", "message", "details"}}``."""

    error: ErrorInfo


class ClientInfo(RestModel):
    """Optional EA telemetry sent at session creation."""

    model_config = ConfigDict(extra="allow")

    platform: str | None = Field(default=None, max_length=32)
    ea_version: str | None = Field(default=None, max_length=32)
    terminal_build: int | None = None


class SessionCreateRequest(RestModel):
    """`POST /ea-gateway/v1/sessions`."""

    account_id: AccountId
    auth_method: str = Field(min_length=1, max_length=64)
    credentials: dict[str, Any]
    client: ClientInfo | None = None


class SessionCreated(RestModel):
    """201 answer to a session creation."""

    session_id: str
    state: SessionState
    session_token: str
    heartbeat_interval_s: float
    heartbeat_timeout_s: float


class ExchangeRequest(RestModel):
    """`POST /ea-gateway/v1/sessions/{session_id}/exchange`.

    `messages` are validated one by one (a bad one is dropped, the rest go on).
    """

    messages: list[Any] = Field(default_factory=list, max_length=500)
    ack_seq: Seq = 0
    wait_ms: int = Field(default=0, ge=0, le=MAX_WAIT_MS)


class ExchangeResponse(RestModel):
    state: SessionState
    messages: list[dict[str, Any]]


class KeyView(RestModel):
    key_id: str
    account_id: AccountId
    status: KeyStatus
    source: str
    first_seen_ms: EpochMs
    last_seen_ms: EpochMs | None = None
    decided_ms: EpochMs | None = None
    decided_by: str | None = None
    tenant_id: str | None = None
    client: dict[str, Any] | None = None


class KeyList(RestModel):
    keys: list[KeyView]


class ProvisionedKey(RestModel):
    """201 answer to key provisioning; `key` is shown this once only."""

    key_id: str
    key: str


class AccountUpsert(RestModel):
    """`PUT /admin/v1/accounts/{account_id}`."""

    tenant_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    role: Role
    label: str | None = Field(default=None, max_length=128)


class AccountView(RestModel):
    account_id: AccountId
    tenant_id: str
    role: Role
    label: str | None = None
    updated_ms: EpochMs | None = None


class SessionView(RestModel):
    session_id: str
    account_id: AccountId
    state: SessionState
    key_id: str | None = None
    generation: int
    created_ms: EpochMs
    last_heartbeat_ms: EpochMs
    closed_reason: str | None = None
    client: dict[str, Any] | None = None


class SessionList(RestModel):
    sessions: list[SessionView]


class TenantTokenRequest(RestModel):
    """`POST /admin/v1/tenants/{tenant_id}/tokens`."""

    label: str | None = Field(default=None, max_length=128)


class TenantTokenCreated(RestModel):
    token_id: str
    token: str
    tenant_id: str
    role: AdminRole


class AdminCommandRequest(RestModel):
    """`POST /admin/v1/accounts/{account_id}/messages`: operator-queued server message.

    `message` is an OrderCommand or SyncSnapshot request envelope without `seq`.
    """

    message: dict[str, Any]


class AdminCommandQueued(RestModel):
    account_id: AccountId
    id: str
    seq: Seq | None = None
    held: bool
