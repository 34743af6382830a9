"""Per-message CPU of the gateway's WebSocket ingest steps, in microseconds.

One follower `ExecutionReport` frame (as `bench/_fleet.py` sends it) through the
steps the gateway runs for every inbound message, each timed on its own in this
process (no server, no Redis): parsing and validation (`parse_client_envelope`),
the message span with the telemetry the server builds by default
(`configure_telemetry("none")`), the body recorded for the copier (the envelope
re-encoded without its seq) and the whole `SessionProtocol.receive_frame`.
Run it in two trees to compare them (both must have these functions).

Usage: python bench/ingest_costs.py [--repeat N]
"""

from __future__ import annotations

import argparse
import time
import timeit
from collections.abc import Callable

import orjson

from gateway.protocol.session import SessionProtocol, _normalised
from gateway.telemetry import configure_telemetry
from schemas.codes import Role, SessionState
from schemas.envelope import parse_client_envelope

NOW = int(time.time() * 1000)
FRAME = orjson.dumps(
    {
        "type": "ExecutionReport",
        "id": "Ex-1",
        "ts": NOW,
        "payload": {
            "command_id": "c" * 40,
            "status": "filled",
            "ticket": 1_000_000_001,
            "symbol": "EURUSD",
            "volume": 0.1,
            "price": 1.1,
            "executed_at_ms": NOW,
        },
    }
).decode()


def _micros(step: Callable[[], object], repeat: int) -> float:
    """Best of 5 runs of `repeat` calls, per call."""
    return min(timeit.repeat(step, number=repeat, repeat=5)) / repeat * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=20_000, help="calls per timing")
    args = parser.parse_args()
    telemetry = configure_telemetry("none")
    envelope = parse_client_envelope(FRAME)
    session = SessionProtocol(
        session_id="s-1",
        account_id="a-1",
        state=SessionState.AUTHENTICATED,
        role=Role.FOLLOWER,
        heartbeat_interval_s=5,
        heartbeat_timeout_s=15,
        last_heartbeat_ms=NOW,
        new_id=lambda: "srv-1",
    )

    def span() -> None:
        with telemetry.message_span("websocket", "a-1", "ExecutionReport", start_time_ns=1):
            pass

    steps: dict[str, Callable[[], object]] = {
        "parse_client_envelope": lambda: parse_client_envelope(FRAME),
        "message_span (exporter none)": span,
        "recorded body (_normalised)": lambda: _normalised(envelope),
        "SessionProtocol.receive_frame": lambda: session.receive_frame(FRAME, NOW),
    }
    for name, step in steps.items():
        print(f"{name:32s} {_micros(step, args.repeat):6.2f} us")


if __name__ == "__main__":
    main()
