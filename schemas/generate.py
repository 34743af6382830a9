"""Generate the committed JSON Schema files from the models.

Run ``python -m schemas.generate`` after changing a model; a test fails when the
committed files drift from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, TypeAdapter

from schemas import envelope, rest, subscriptions
from schemas.api_docs import asyncapi_document, openapi_document
from schemas.json_schema import StandardJsonSchema
from schemas.reference import render_message_catalogue, splice

__all__ = ["JSON_DIR", "PROTOCOL_PAGE", "render_all", "render_protocol_page", "write_all"]

JSON_DIR = Path(__file__).parent / "json"
#: The protocol reference whose message catalogue is generated (in a source checkout).
PROTOCOL_PAGE = Path(__file__).parents[1] / "docs" / "protocol.md"

_MESSAGES: tuple[type[BaseModel], ...] = (
    envelope.InitRequest,
    envelope.InitAck,
    envelope.SessionStateChange,
    envelope.StatusHeartbeat,
    envelope.OrderIntent,
    envelope.OrderCommand,
    envelope.ExecutionReport,
    envelope.SyncSnapshot,
    envelope.SyncSnapshotRequest,
    envelope.ErrorAlert,
    envelope.ShutdownNotice,
)
_REST: tuple[type[BaseModel], ...] = (
    rest.ErrorBody,
    rest.SessionCreateRequest,
    rest.SessionCreated,
    rest.ExchangeRequest,
    rest.ExchangeResponse,
    rest.KeyList,
    rest.ProvisionedKey,
    rest.AccountUpsert,
    rest.AccountView,
    rest.SessionList,
    rest.TenantTokenRequest,
    rest.TenantTokenCreated,
    rest.AdminCommandRequest,
    rest.AdminCommandQueued,
    subscriptions.SubscriptionSettings,
    subscriptions.SubscriptionView,
    subscriptions.SubscriptionList,
)


def _dump(schema: dict[str, Any]) -> bytes:
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def render_all() -> dict[str, bytes]:
    """Every schema file name mapped to its exact bytes."""
    files: dict[str, bytes] = {}
    for model in (*_MESSAGES, *_REST):
        files[f"{model.__name__}.json"] = _dump(
            model.model_json_schema(mode="serialization", schema_generator=StandardJsonSchema)
        )
    files["ClientEnvelope.json"] = _dump(
        TypeAdapter(envelope.ClientEnvelope).json_schema(
            mode="validation", schema_generator=StandardJsonSchema
        )
    )
    files["ServerEnvelope.json"] = _dump(
        TypeAdapter(envelope.ServerEnvelope).json_schema(
            mode="serialization", schema_generator=StandardJsonSchema
        )
    )
    files["openapi.json"] = _dump(openapi_document())
    files["asyncapi.json"] = _dump(asyncapi_document())
    return files


def render_protocol_page(page: Path = PROTOCOL_PAGE) -> str:
    """`docs/protocol.md` with its message catalogue regenerated from the models."""
    return splice(page.read_text(encoding="utf-8"), render_message_catalogue())


def write_all(directory: Path = JSON_DIR) -> list[Path]:
    """Write every schema file (removing stale ones) and the protocol page's catalogue.

    Returns the paths written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    files = render_all()
    for stale in directory.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, data in sorted(files.items()):
        path = directory / name
        path.write_bytes(data)
        written.append(path)
    if PROTOCOL_PAGE.exists():
        PROTOCOL_PAGE.write_text(render_protocol_page(), encoding="utf-8")
        written.append(PROTOCOL_PAGE)
    return written


if __name__ == "__main__":
    for path in write_all():
        sys.stdout.write(f"wrote {path}\n")
