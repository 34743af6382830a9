"""The stored JSON of master signals: fan-out shard entries and parked intents. Pure.

`decode_signal` accepts exactly what `encode_signal` produced. One intent parks
the same `MasterSignal` object on every follower, so the last one encoded is
kept with its JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from copier.core import MasterSignal
from copier.worker.stored_json import dumps, optional_decimal
from schemas.messages import OrderIntentPayload

__all__ = ["decode_signal", "decode_signals", "encode_signal", "encode_signals"]


def _signal_json(signal: MasterSignal) -> dict[str, Any]:
    return {
        "m": signal.master_account_id,
        "id": signal.intent_id,
        "intent": signal.intent.model_dump(mode="json", exclude_none=True),
        "at": signal.received_ms,
        "eq": signal.master_equity,
        "tp": signal.trace_parent,
    }


def decode_signal(data: dict[str, Any]) -> MasterSignal:
    """The signal of a parsed signal object (the inverse of `encode_signal`)."""
    return MasterSignal(
        master_account_id=data["m"],
        intent_id=data["id"],
        intent=OrderIntentPayload.model_validate(data["intent"]),
        received_ms=data["at"],
        master_equity=optional_decimal(data["eq"]),
        trace_parent=data.get("tp"),
    )


#: The last signal encoded and its JSON: one intent parks the same object on every follower.
_last_signal: list[tuple[MasterSignal, bytes]] = []


def encode_signal(signal: MasterSignal) -> bytes:
    """One signal as a JSON object (memoised for the last signal encoded)."""
    if _last_signal and _last_signal[0][0] is signal:
        return _last_signal[0][1]
    encoded = dumps(_signal_json(signal))
    _last_signal[:] = [(signal, encoded)]
    return encoded


def encode_signals(signals: Sequence[MasterSignal]) -> bytes:
    """Master signals as a JSON list (a fan-out shard entry's body)."""
    return b"[" + b",".join(encode_signal(s) for s in signals) + b"]"


def decode_signals(raw: bytes) -> tuple[MasterSignal, ...]:
    """The inverse of `encode_signals`."""
    return tuple(map(decode_signal, orjson.loads(raw)))
