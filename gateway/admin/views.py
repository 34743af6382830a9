"""JSON views of store records for the admin API.

Each view model lists only public fields and ignores the rest, so secrets and
hashes (`secret_hash`, `token_hash`) can never reach a response.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pydantic import BaseModel

from gateway.store.records import AccountRecord, KeyRecord, SessionRecord
from schemas.rest import AccountView, KeyView, SessionView

__all__ = ["account_view", "key_view", "session_view"]


def _view(model: type[BaseModel], record: Any) -> dict[str, Any]:
    return model.model_validate(asdict(record)).model_dump(mode="json")


def key_view(record: KeyRecord) -> dict[str, Any]:
    """A key without its hash."""
    return _view(KeyView, record)


def account_view(record: AccountRecord) -> dict[str, Any]:
    """An account's configuration."""
    return _view(AccountView, record)


def session_view(record: SessionRecord) -> dict[str, Any]:
    """A session without its token hash."""
    return _view(SessionView, record)
