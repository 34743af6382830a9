"""The JSON text the worker stores, and JSON templates with a command-id slot. Pure.

`dumps` writes compact JSON with Decimals as strings (never floats). A value
that many followers store with only its command id different is serialised once
with `ID_SLOT` where the id goes, split there (`split_at_id_slot`), and joined
with each real id: valid only for ids JSON writes as they are (`plain_json_text`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson

__all__ = ["ID_SLOT", "dumps", "optional_decimal", "plain_json_text", "split_at_id_slot"]


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):  # e.g. a read-only view of a copy record's command
        return dict(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def dumps(value: Any) -> bytes:
    """Compact JSON with Decimals as strings."""
    return orjson.dumps(value, default=_default)


def optional_decimal(value: Any) -> Decimal | None:
    """A stored decimal (its text, or a number) back as a Decimal; None stays None."""
    return None if value is None else Decimal(str(value))


#: Stands for a command id in a JSON template: serialise with it in the id's two
#: places, split with `split_at_id_slot`, join the parts with the real id.
ID_SLOT = "cmd-id-slot-0000000000000000000000000000000000000000000000000000000000000000"


def split_at_id_slot(serialised: bytes) -> list[bytes] | None:
    """`serialised` split around its two `ID_SLOT`s; None when the slot text occurs elsewhere."""
    parts = serialised.split(ID_SLOT.encode())
    return parts if len(parts) == 3 else None


def plain_json_text(text: str) -> bool:
    """True when JSON writes `text` as it is (printable ASCII, no quote or backslash)."""
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text
