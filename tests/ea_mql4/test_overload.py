"""A master whose OrderIntent the gateway refuses as `overloaded` (copier backlog full).

The gateway records nothing of a refused intent (docs/protocol.md, "Overload"):
WebSocket: ErrorAlert{overloaded, retry: {resend_after, after_ms}} and close 1008;
poll: 429 `overloaded` with Retry-After. The master keeps the intent and all after
it on disk, waits as told (never sooner, never a hot loop), and sends them again,
refused one first, as the same envelopes. The refusal closes the connection, not
the session: the WebSocket master reconnects with the same session token.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path

from terminal_harness import OP_BUY, OP_SELL, Terminal

from .fake_gateway import FakeGateway, FakeStream
from .test_master_outbox import opens, start_master, unconfirmed

StartTerminal = Callable[..., Terminal]


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_ws_master_resends_a_refused_intent_first_on_the_same_session_after_after_ms(
    gateway: FakeGateway, stream: FakeStream, start_terminal: StartTerminal, tmp_path: Path
) -> None:
    m = start_master(start_terminal, gateway, str(tmp_path / "book.txt"), stream)
    gateway.wait_for("m-1", "SyncSnapshot")
    stream.refuse_intents["m-1"] = [2500]
    first = m.open("EURUSD", OP_BUY, 0.1)
    wait_until(lambda: bool(stream.refused))
    [(refused_at, refused_id)] = stream.refused
    second = m.open("EURUSD", OP_SELL, 0.2)  # queued while the master waits
    time.sleep(0.5)
    kept = [e["id"] for e in unconfirmed(m)]
    assert kept[0] == refused_id  # on disk, first, while waiting to resend

    recorded = gateway.wait_for("m-1", "OrderIntent", lambda p: p["action"] == "open", count=2)
    reconnected_at = gateway.arrived("m-1", "InitRequest")[1][0]
    assert reconnected_at - refused_at >= 2.45  # not before retry.after_ms
    assert len(gateway.arrived("m-1", "InitRequest")) == 2  # one reconnect, no hot loop
    assert len(gateway.sessions_of("m-1")) == 1  # the session is kept
    assert [e["payload"]["ticket"] for e in recorded] == [first, second]  # in order
    assert recorded[0]["id"] == refused_id  # the same envelope again
    types = [e["type"] for e in gateway.received("m-1")]
    reconnect = [i for i, kind in enumerate(types) if kind == "InitRequest"][1]
    # a heartbeat goes ahead of the resent intents: a refusal cannot starve the session
    assert types[reconnect : reconnect + 3] == ["InitRequest", "StatusHeartbeat", "OrderIntent"]
    assert [e["payload"]["ticket"] for e in opens(gateway)] == [first, second]  # once each
    wait_until(lambda: unconfirmed(m) == [])  # both confirmed by their Receipts


def test_ws_master_refused_twice_waits_after_ms_before_each_reconnect(
    gateway: FakeGateway, stream: FakeStream, start_terminal: StartTerminal, tmp_path: Path
) -> None:
    m = start_master(start_terminal, gateway, str(tmp_path / "book.txt"), stream)
    gateway.wait_for("m-1", "SyncSnapshot")
    stream.refuse_intents["m-1"] = [1500, 1500]
    ticket = m.open("EURUSD", OP_BUY, 0.1)
    [recorded] = gateway.wait_for("m-1", "OrderIntent", lambda p: p["action"] == "open")
    assert recorded["payload"]["ticket"] == ticket
    inits = [at for at, _ in gateway.arrived("m-1", "InitRequest")]
    refusals = [at for at, _ in stream.refused]
    assert len(refusals) == 2 and len(inits) == 3
    assert inits[1] - refusals[0] >= 1.45 and inits[2] - refusals[1] >= 1.45
    assert {intent_id for _, intent_id in stream.refused} == {recorded["id"]}
    assert len(gateway.sessions_of("m-1")) == 1


def test_poll_master_resends_a_refused_body_after_retry_after_without_growing_backoff(
    gateway: FakeGateway, start_terminal: StartTerminal, tmp_path: Path
) -> None:
    m = start_master(start_terminal, gateway, str(tmp_path / "book.txt"))
    gateway.wait_for("m-1", "SyncSnapshot")
    gateway.overload_intents["m-1"] = [1, 1, 1]
    ticket = m.open("EURUSD", OP_BUY, 0.1)
    [recorded] = gateway.wait_for("m-1", "OrderIntent", lambda p: p["action"] == "open")
    attempts = [at for at, _ in gateway.refused]
    assert len(attempts) == 3
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert all(gap >= 0.95 for gap in gaps)  # never before Retry-After
    assert all(gap < 1.6 for gap in gaps)  # and not an ever longer backoff: 1 s each time
    assert recorded["payload"]["ticket"] == ticket
    assert {intent_id for _, intent_id in gateway.refused} == {recorded["id"]}
    assert len(gateway.sessions_of("m-1")) == 1
    wait_until(lambda: unconfirmed(m) == [])
