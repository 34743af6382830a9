"""A terminal crash anywhere between OrderSend and the last state save trades once.

The shim's broker outlives the terminal (``MQL_SIM_BOOK``) and the terminal
process ends with ``_exit`` at a named point (``MQL_CRASH_AT``), as a crash or a
power cut would: no OnDeinit, nothing flushed. After a restart the gateway
delivers the unacknowledged command again; the EA must find the order it
already opened (magic + the command tag in the comment, open orders and
history) instead of opening a second one, and report it. The same holds on
the WebSocket transport (DLL build), where a written report waits for its
Receipt in outbox.json.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from terminal_harness import Terminal

from .fake_gateway import FakeGateway, FakeStream
from .test_ea_terminal import command, ours, report_for

StartTerminal = Callable[..., Terminal]

# every state save after the broker executed the order (journal.json #1 is the
# in-flight marker, written before OrderSend)
CRASH_POINTS = [
    "OrderSend:1",  # filled, SL/TP not set, nothing saved
    "OrderModify:1",  # SL/TP set, nothing saved
    "FileMove:tickets.json:1",  # link saved, report not journaled
    "FileMove:journal.json:2",  # report journaled, not sent
    "FileMove:outbox.json:1",  # report in the persistent outbox, not sent
    "FileMove:outbox.json:2",  # poll: delivered (200), the ack not saved; ws: written, no Receipt
]
POLL_CRASH_POINTS = [*CRASH_POINTS, "WebRequest:ExecutionReport:1"]  # 200 back, not yet seen
WS_CRASH_POINTS = [
    *CRASH_POINTS,
    "send:ExecutionReport:1",  # the frame written, nothing saved after it
    "FileMove:outbox.json:3",  # the Receipt confirmed it
]


def start_follower(
    start_terminal: StartTerminal,
    gateway: FakeGateway,
    stream: FakeStream | None,
    env: dict[str, str],
) -> Terminal:
    """A follower on the poll transport, or on the WebSocket when `stream` is given."""
    if stream is None:
        return start_terminal("f", gateway.base_url, role="follower", account_id="f-1", env=env)
    return start_terminal(
        "f",
        gateway.base_url,
        role="follower",
        account_id="f-1",
        inputs={"InpTransport": 1, "InpWsUrl": stream.url},
        env={"MQL_DLLS_ALLOWED": "1", **env},
        dll=True,
    )


def wait_dead(terminal: Terminal, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while terminal.running and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not terminal.running, f"the terminal did not crash:\n{terminal.log()}"


def crash_while_executing(
    gateway: FakeGateway,
    start_terminal: StartTerminal,
    book: str,
    point: str,
    cmd: dict[str, Any],
    stream: FakeStream | None = None,
) -> None:
    """A follower whose broker book is `book` gets `cmd` and crashes at `point`."""
    env = {"MQL_SIM_BOOK": book, "MQL_CRASH_AT": point}
    synced = len(gateway.received("f-1", "SyncSnapshot"))
    crashing = start_follower(start_terminal, gateway, stream, env)
    gateway.wait_for("f-1", "SyncSnapshot", count=synced + 1)  # this terminal's session
    if stream is None:
        gateway.queue("f-1", "OrderCommand", cmd)
    else:
        stream.send("f-1", "OrderCommand", cmd)
    wait_dead(crashing)
    crashing.stop()


def assert_opened_once(gateway: FakeGateway, f: Terminal, cmd: dict[str, Any]) -> None:
    gateway.wait_for("f-1", "ExecutionReport", lambda p: p["command_id"] == cmd["command_id"])
    time.sleep(0.3)  # a second execution would show up by now
    reports = gateway.received("f-1", "ExecutionReport")
    [order] = ours(f.book())
    assert {r["payload"]["ticket"] for r in reports} == {order["ticket"]}
    assert {r["payload"]["status"] for r in reports} == {"filled"}
    assert (order["lots"], order["sl"], order["tp"]) == (0.3, 1.05, 1.2)
    assert order["comment"].startswith("cg#501 ")
    # a report sent again (unconfirmed before the crash) is the same report: same envelope id
    assert {(r["id"], r["payload"]["command_id"]) for r in reports} == {
        (reports[0]["id"], cmd["command_id"])
    }


@pytest.mark.parametrize("point", POLL_CRASH_POINTS)
def test_follower_opens_once_when_the_terminal_crashes_after_order_send(
    gateway: FakeGateway, start_terminal: StartTerminal, tmp_path: Path, point: str
) -> None:
    book = str(tmp_path / "broker-book.txt")
    cmd = command("open", volume=0.3, sl=1.05, tp=1.2)
    crash_while_executing(gateway, start_terminal, book, point, cmd)
    f = start_follower(start_terminal, gateway, None, {"MQL_SIM_BOOK": book})
    assert_opened_once(gateway, f, cmd)


@pytest.mark.parametrize("point", WS_CRASH_POINTS)
def test_ws_follower_opens_once_when_the_terminal_crashes_after_order_send(
    gateway: FakeGateway,
    stream: FakeStream,
    start_terminal: StartTerminal,
    tmp_path: Path,
    point: str,
) -> None:
    book = str(tmp_path / "broker-book.txt")
    cmd = command("open", volume=0.3, sl=1.05, tp=1.2)
    crash_while_executing(gateway, start_terminal, book, point, cmd, stream)
    f = start_follower(start_terminal, gateway, stream, {"MQL_SIM_BOOK": book})
    assert_opened_once(gateway, f, cmd)
    gateway.wait_for("f-1", "InitRequest", count=2)
    assert [r for r in gateway.requests if "exchange" in r[1]] == []  # WebSocket only


def test_follower_finds_a_crashed_open_in_the_history_when_it_was_closed_meanwhile(
    gateway: FakeGateway, start_terminal: StartTerminal, tmp_path: Path
) -> None:
    book = str(tmp_path / "broker-book.txt")
    cmd = command("open", volume=0.1)
    crash_while_executing(gateway, start_terminal, book, "OrderSend:1", cmd)
    f = start_terminal(
        "f",
        gateway.base_url,
        role="follower",
        account_id="f-1",
        env={"MQL_SIM_BOOK": book, "MQL_CRASH_AT": "never:1"},
        inputs={"InpServerUrl": "https://unreachable.test"},  # offline while the owner acts
    )
    [order] = ours(f.book())
    f.close(order["ticket"])  # e.g. the owner closed it by hand while the EA was down
    f.stop()
    f = start_terminal(
        "f", gateway.base_url, role="follower", account_id="f-1", env={"MQL_SIM_BOOK": book}
    )
    report = gateway.wait_for(
        "f-1", "ExecutionReport", lambda p: p["command_id"] == cmd["command_id"]
    )[0]["payload"]
    time.sleep(0.3)
    assert ours(f.book()) == []
    assert [o["ticket"] for o in f.book()["history"]] == [report["ticket"]]
    assert report["status"] == "filled"


@pytest.mark.parametrize("transport", ["poll", "websocket"])
def test_follower_reports_a_crashed_partial_close_with_its_remainder(
    gateway: FakeGateway,
    start_terminal: StartTerminal,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    transport: str,
) -> None:
    book = {"MQL_SIM_BOOK": str(tmp_path / "broker-book.txt")}
    stream: FakeStream | None = (
        request.getfixturevalue("stream") if transport == "websocket" else None
    )
    f = start_follower(start_terminal, gateway, stream, book)
    gateway.wait_for("f-1", "SyncSnapshot")
    opened = command("open", volume=0.5)
    if stream is None:
        gateway.queue("f-1", "OrderCommand", opened)
    else:
        stream.send("f-1", "OrderCommand", opened)
    ticket = report_for(gateway, "f-1", opened["command_id"])["ticket"]
    f.stop()
    part = command("close", volume=0.2, ticket=ticket)
    crash_while_executing(
        gateway, start_terminal, book["MQL_SIM_BOOK"], "OrderClose:1", part, stream
    )
    f = start_follower(start_terminal, gateway, stream, book)
    report = report_for(gateway, "f-1", part["command_id"])
    time.sleep(0.3)
    [rest] = ours(f.book())
    assert rest["lots"] == 0.3  # closed once
    assert (report["status"], report["new_ticket"]) == ("closed", rest["ticket"])
