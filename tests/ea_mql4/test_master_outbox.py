"""A master's OrderIntents survive a crash: sent again with the same envelope id.

The master keeps every intent not yet confirmed (poll: the exchange's 200;
WebSocket: the gateway's Receipt) in master.json, written together with the
order view the intents came from. After a crash the restarted master sends
exactly those envelopes again (the gateway and the copier drop an intent id
they already have) and never derives the same change again under a new id.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from terminal_harness import OP_BUY, Terminal

from .fake_gateway import FakeGateway, FakeStream
from .test_crash_recovery import wait_dead

StartTerminal = Callable[..., Terminal]


def start_master(
    start_terminal: StartTerminal,
    gateway: FakeGateway,
    book: str,
    stream: FakeStream | None = None,
    env: dict[str, str] | None = None,
) -> Terminal:
    extra: dict[str, Any] = {}
    full_env = {"MQL_SIM_BOOK": book, **(env or {})}
    if stream is not None:
        extra = {"inputs": {"InpTransport": 1, "InpWsUrl": stream.url}, "dll": True}
        full_env["MQL_DLLS_ALLOWED"] = "1"
    return start_terminal(
        "m", gateway.base_url, role="master", account_id="m-1", env=full_env, **extra
    )


def opens(gateway: FakeGateway) -> list[dict[str, Any]]:
    return [e for e in gateway.received("m-1", "OrderIntent") if e["payload"]["action"] == "open"]


def unconfirmed(master: Terminal) -> list[dict[str, Any]]:
    saved: list[dict[str, Any]] = json.loads(master.file("master.json").read_text())["outbox"][
        "reports"
    ]
    return saved


def test_ws_master_sends_an_intent_again_when_it_crashed_before_the_receipt(
    gateway: FakeGateway, stream: FakeStream, start_terminal: StartTerminal, tmp_path: Path
) -> None:
    book = str(tmp_path / "broker-book.txt")
    stream.withhold_receipts.add("m-1")  # the intent arrives, its Receipt never does
    m = start_master(start_terminal, gateway, book, stream)
    gateway.wait_for("m-1", "SyncSnapshot")
    ticket = m.open("EURUSD", OP_BUY, 0.1)
    [first] = gateway.wait_for("m-1", "OrderIntent", lambda p: p["action"] == "open")
    assert [e["id"] for e in unconfirmed(m)] == [first["id"]]
    m.kill()  # written to the socket, not confirmed: a crash now must not lose it

    stream.withhold_receipts.discard("m-1")
    m = start_master(start_terminal, gateway, book, stream)
    again = gateway.wait_for("m-1", "OrderIntent", lambda p: p["action"] == "open", count=2)
    time.sleep(0.5)  # a third copy, or a new intent for the same change, would show by now
    assert [e["id"] for e in opens(gateway)] == [first["id"]] * 2  # the same envelope again
    assert again[1]["payload"]["ticket"] == ticket
    assert first["id"] in stream.receipts_sent
    deadline = time.monotonic() + 5
    while unconfirmed(m) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert unconfirmed(m) == []  # confirmed by the Receipt


@pytest.mark.parametrize(
    ("point", "copies"),
    [
        ("FileMove:master.json:2", 1),  # intent and view saved, nothing sent: sent after restart
        ("WebRequest:OrderIntent:1", 2),  # delivered, the 200 lost with the crash: sent again
        ("FileMove:master.json:3", 1),  # delivered (200) and confirmed: not sent again
    ],
    ids=["saved-not-sent", "delivered-unconfirmed", "delivered"],
)
def test_master_delivers_an_intent_once_across_a_crash(
    gateway: FakeGateway, start_terminal: StartTerminal, tmp_path: Path, point: str, copies: int
) -> None:
    book = str(tmp_path / "broker-book.txt")
    m = start_master(start_terminal, gateway, book, env={"MQL_CRASH_AT": point})
    gateway.wait_for("m-1", "SyncSnapshot")
    ticket = m.open("EURUSD", OP_BUY, 0.1)
    wait_dead(m)
    m.stop()

    m = start_master(start_terminal, gateway, book)
    gateway.wait_for("m-1", "InitRequest", count=2)
    gateway.wait_for("m-1", "OrderIntent", lambda p: p["action"] == "open")
    time.sleep(0.5)
    assert [e["payload"]["ticket"] for e in opens(gateway)] == [ticket] * copies
    assert len(gateway.received("m-1", "OrderIntent")) == copies  # no other intent either
    assert len({e["id"] for e in opens(gateway)}) == 1  # a copy is the same envelope
    assert unconfirmed(m) == []
