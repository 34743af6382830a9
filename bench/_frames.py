"""Hostile frames for bench/fuzz_transports.py, drawn with hypothesis (seeded).

`generate(count, seed)` returns `count` frames (bytes, each under 60 KiB): malformed
and truncated JSON, wrong types, huge numbers and integers past 64 bits, NaN and
Infinity, deep nesting, unknown and server-only message types, binary frames,
valid-but-hostile envelopes and heartbeats whose `ack_seq` jumps around.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as seeded
from hypothesis import strategies as st

from schemas.envelope import INBOUND_TYPES, OUTBOUND_TYPES

__all__ = ["generate"]

BATCH = 50  #: frames drawn per hypothesis example
#: Client types, but never a valid ShutdownNotice (it would end the session on purpose).
CLIENT_TYPES = sorted(INBOUND_TYPES - {"ShutdownNotice"})
#: Types only the server sends.
SERVER_TYPES = sorted(OUTBOUND_TYPES - INBOUND_TYPES)

# ---- frames ---------------------------------------------------------------------------
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 2**63, 10**30, 1e308, -1e308, 5e-324]),
    st.text(max_size=40),
    st.text(min_size=120, max_size=300),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=15,
)
ids = st.one_of(
    st.text(min_size=1, max_size=12), st.just("x" * 128), st.just("y" * 129), st.integers()
)
numbers = st.one_of(
    st.sampled_from([0, -1, 0.01, 1e300, 2**80, 123456789.123456789, 1e-300]),
    st.decimals(allow_nan=False, allow_infinity=False, places=5).map(float),
)


def envelope(kind: Any, payload: Any, ident: Any = None) -> dict[str, Any]:
    return {"type": kind, "id": ident if ident is not None else "fz", "ts": 1, "payload": payload}


intent_payloads = st.fixed_dictionaries(
    {
        "action": st.sampled_from(
            ["open", "modify", "close", "place_pending", "cancel_pending", "explode"]
        ),
        "ticket": st.one_of(st.integers(-1, 2**70), st.text(max_size=5)),
        "symbol": st.one_of(st.sampled_from(["EURUSD", "", "X" * 33]), st.text(max_size=40)),
        "side": st.sampled_from(["buy", "sell", "up", 1]),
        "order_type": st.sampled_from(["market", "limit", "stop", None]),
        "volume": numbers,
        "price": numbers,
    },
    optional={
        "sl": numbers,
        "tp": numbers,
        "comment": st.text(max_size=600),
        "magic": st.integers(),
    },
)
report_payloads = st.fixed_dictionaries(
    {
        "command_id": st.one_of(st.text(max_size=40), st.just("cmd-" + "0" * 32)),
        "status": st.sampled_from(["filled", "closed", "rejected", "expired", "lost"]),
    },
    optional={
        "ticket": st.integers(-5, 2**70),
        "volume": numbers,
        "price": numbers,
        "error_code": st.integers(),
    },
)
position = st.fixed_dictionaries(
    {
        "ticket": st.integers(0, 10**6),
        "symbol": st.just("EURUSD"),
        "side": st.sampled_from(["buy", "sell"]),
        "volume": numbers,
        "open_price": numbers,
        "sl": numbers,
        "tp": numbers,
    }
)
snapshots = st.builds(
    lambda n, p: {"positions": [p] * n, "orders": []}, st.sampled_from([0, 1, 50, 500]), position
)
acks = st.fixed_dictionaries(
    {"ack_seq": st.one_of(st.integers(-3, 2**64), st.sampled_from([0, 1, 10**6]))}
)
inits = st.fixed_dictionaries(
    {"ack_seq": st.integers(-1, 10**6)},
    optional={
        "symbols": st.lists(
            st.fixed_dictionaries(
                {
                    "symbol": st.text(min_size=1, max_size=8),
                    "digits": st.integers(-1, 20),
                    "point": numbers,
                    "contract_size": numbers,
                    "lot_step": numbers,
                    "min_lot": numbers,
                    "max_lot": numbers,
                }
            ),
            max_size=300,
        ),
        "account": st.fixed_dictionaries({"balance": numbers, "equity": numbers}),
    },
)
structured = st.one_of(
    st.builds(envelope, st.just("OrderIntent"), intent_payloads, ids),
    st.builds(envelope, st.just("ExecutionReport"), report_payloads, ids),
    st.builds(envelope, st.just("SyncSnapshot"), snapshots, ids),
    st.builds(envelope, st.just("StatusHeartbeat"), acks, ids),  # interleaved acks
    st.builds(envelope, st.just("StatusHeartbeat"), acks, ids),
    st.builds(envelope, st.just("InitRequest"), inits, ids),
    st.builds(envelope, st.sampled_from(SERVER_TYPES), json_values, ids),  # server-only types
    st.builds(
        envelope, st.text(max_size=20).filter(lambda t: t != "ShutdownNotice"), json_values, ids
    ),
    st.builds(envelope, st.sampled_from(CLIENT_TYPES), json_values, ids),  # wrong payload types
    st.builds(
        lambda k, v: {"type": k, **v},
        st.sampled_from(CLIENT_TYPES),
        st.dictionaries(st.text(max_size=8), json_values, max_size=5),
    ),
    json_values,  # not an envelope at all
)


def dumps(value: Any) -> bytes:
    """JSON text with NaN/Infinity allowed (they are not JSON: the server must refuse them)."""
    return json.dumps(value, allow_nan=True, separators=(",", ":")).encode()


raw_frames = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    st.integers(1, 5_000).map(lambda depth: b"[" * depth + b"]" * depth),  # deep nesting
    st.integers(1, 5_000).map(lambda depth: b'{"a":' * depth + b"1" + b"}" * depth),
    st.sampled_from(
        [
            b"NaN",
            b"Infinity",
            b'{"type":"StatusHeartbeat","payload":{"ack_seq":NaN}}',
            b'{"type":"OrderIntent","id":"n","ts":1,"payload":{"volume":Infinity}}',
            b'{"type":"StatusHeartbeat","id":"b","ts":1,"payload":{"ack_seq":'
            + b"9" * 5000
            + b"}}",
            b"",
            b"null",
            b"{}",
            b"[]",
            b'"x"',
            b"\xff\xfe",
        ]
    ),
)
frames = st.one_of(
    structured.map(dumps),
    structured.map(dumps).flatmap(
        lambda b: st.integers(0, max(0, len(b) - 1)).map(lambda n: b[:n])
    ),  # truncated
    raw_frames,
)


def generate(count: int, seed: int) -> list[bytes]:
    """`count` frames (under 60 KiB each: bigger ones close a WebSocket with 1009 by design)."""
    out: list[bytes] = []

    @seeded(seed)
    @settings(
        max_examples=max(1, -(-count // BATCH)),
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(frames, min_size=BATCH, max_size=BATCH))
    def draw(batch: list[bytes]) -> None:
        out.extend(f for f in batch if len(f) < 60_000)

    draw()
    while len(out) < count:  # hypothesis may stop early on a small space: cycle
        out.extend(out[: count - len(out)])
    return out[:count]
