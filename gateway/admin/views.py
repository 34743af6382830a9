"""JSON views of store records for the admin API (secrets and hashes never included)."""

from __future__ import annotations

from typing import Any

from gateway.store.records import AccountRecord, KeyRecord, SessionRecord
from schemas.rest import AccountView, KeyView, SessionView

__all__ = ["account_view", "key_view", "session_view"]


def key_view(record: KeyRecord) -> dict[str, Any]:
    """A key without its hash."""
    return KeyView(
        key_id=record.key_id,
        account_id=record.account_id,
        status=record.status,
        source=record.source,
        first_seen_ms=record.first_seen_ms,
        last_seen_ms=record.last_seen_ms,
        decided_ms=record.decided_ms,
        decided_by=record.decided_by,
        client=record.client,
    ).model_dump(mode="json")


def account_view(record: AccountRecord) -> dict[str, Any]:
    """An account's configuration."""
    return AccountView(
        account_id=record.account_id,
        tenant_id=record.tenant_id,
        role=record.role,
        label=record.label,
        updated_ms=record.updated_ms,
    ).model_dump(mode="json")


def session_view(record: SessionRecord) -> dict[str, Any]:
    """A session without its token hash."""
    return SessionView(
        session_id=record.session_id,
        account_id=record.account_id,
        state=record.state,
        key_id=record.key_id,
        generation=record.generation,
        created_ms=record.created_ms,
        last_heartbeat_ms=record.last_heartbeat_ms,
        closed_reason=record.closed_reason,
        client=record.client,
    ).model_dump(mode="json")
