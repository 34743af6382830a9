"""The stored JSON of a key record (`KeyStore`'s source of truth), and its listing order.

``create_session.lua`` (the reconnect fast path) edits this JSON in place: it
replaces the first ``"last_seen_ms":`` value and nothing else, so `encode_key`
keeps that field ahead of the only free-form one (``client``).
"""

from __future__ import annotations

import orjson

from gateway.store.records import KeyRecord
from schemas.codes import KeyStatus

__all__ = ["decode_key", "encode_key", "oldest_first"]


def encode_key(record: KeyRecord) -> bytes:
    """The stored JSON of a key record (compact, stable field order).

    ``last_seen_ms`` must stay ahead of ``client`` (the only free-form field):
    ``create_session.lua`` touches a key by replacing the first ``"last_seen_ms":``
    value of this JSON.
    """
    return orjson.dumps(
        {
            "key_id": record.key_id,
            "account_id": record.account_id,
            "status": record.status.value,
            "source": record.source,
            "secret_hash": record.secret_hash,
            "first_seen_ms": record.first_seen_ms,
            "last_seen_ms": record.last_seen_ms,
            "decided_ms": record.decided_ms,
            "decided_by": record.decided_by,
            "client": record.client,
        }
    )


def decode_key(raw: bytes | str) -> KeyRecord:
    """Parse the stored JSON of a key record."""
    data = orjson.loads(raw)
    return KeyRecord(
        key_id=data["key_id"],
        account_id=data["account_id"],
        status=KeyStatus(data["status"]),
        source=data["source"],
        secret_hash=data["secret_hash"],
        first_seen_ms=int(data["first_seen_ms"]),
        last_seen_ms=data.get("last_seen_ms"),
        decided_ms=data.get("decided_ms"),
        decided_by=data.get("decided_by"),
        client=data.get("client"),
    )


def oldest_first(records: list[KeyRecord]) -> list[KeyRecord]:
    """Sort by registration time, then id (stable listing order)."""
    return sorted(records, key=lambda r: (r.first_seen_ms, r.key_id))
