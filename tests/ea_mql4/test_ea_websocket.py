"""The optional WebSocket transport: the EA's raw ws2_32 client (handshake,
masked frames, close codes) against a real `websockets` server.

The transport exists only in the DLL build (``COPYGATE_WITH_DLL``). On Linux
the shim maps the ws2_32.dll imports onto POSIX sockets
(``linux/shim/ws2_32.cpp``), so the EA's own WsTransport.mqh runs unchanged.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from terminal_harness import Terminal, TerminalError

from .fake_gateway import FakeGateway, FakeStream
from .test_ea_terminal import command

StartTerminal = Callable[..., Terminal]


def start_ws_follower(start: StartTerminal, gateway: FakeGateway, stream: FakeStream) -> Terminal:
    return start(
        "f",
        gateway.base_url,
        role="follower",
        account_id="f-1",
        inputs={"InpTransport": 1, "InpWsUrl": stream.url},
        env={"MQL_DLLS_ALLOWED": "1"},
        dll=True,
    )


def test_ws_transport_carries_the_same_envelopes(
    gateway: FakeGateway, stream: FakeStream, start_terminal: StartTerminal
) -> None:
    start_ws_follower(start_terminal, gateway, stream)
    gateway.wait_for("f-1", "SyncSnapshot")  # InitRequest -> InitAck -> SyncSnapshot over WS
    long_comment = "x" * 60  # the frame exceeds 125 bytes: 16-bit extended length
    stream.send(
        "f-1",
        "OrderCommand",
        {
            "command_id": "ws-1",
            "action": "open",
            "symbol": "EURUSD",
            "side": "sell",
            "order_type": "market",
            "volume": 0.2,
            "master_ticket": 77,
            "comment": long_comment,
        },
    )
    report = gateway.wait_for("f-1", "ExecutionReport", lambda p: p["command_id"] == "ws-1")
    assert report[0]["payload"]["status"] == "filled"
    beats = gateway.wait_for("f-1", "StatusHeartbeat", lambda p: p["ack_seq"] >= 2)
    assert beats
    assert [r for r in gateway.requests if "exchange" in r[1]] == []  # no polling at all


def test_ws_close_4001_stops_the_ea_without_reconnecting(
    gateway: FakeGateway, stream: FakeStream, start_terminal: StartTerminal
) -> None:
    terminal = start_ws_follower(start_terminal, gateway, stream)
    gateway.wait_for("f-1", "SyncSnapshot")
    stream.close("f-1", 4001, "preempted")
    terminal.wait_log("another terminal started a session")
    time.sleep(1.0)
    assert len(gateway.sessions_of("f-1")) == 1


def test_ws_close_4002_reconnects_with_a_new_session(
    gateway: FakeGateway, stream: FakeStream, start_terminal: StartTerminal
) -> None:
    start_ws_follower(start_terminal, gateway, stream)
    gateway.wait_for("f-1", "SyncSnapshot")
    stream.close("f-1", 4002, "heartbeat_timeout")
    gateway.wait_for("f-1", "InitRequest", count=2)
    assert len(gateway.sessions_of("f-1")) == 2


@pytest.mark.parametrize(
    ("build", "dlls_allowed", "advice"),
    [
        ("terminal_dll_binary", "0", "Allow DLL imports"),
        ("terminal_binary", "1", "compile the EA with #define COPYGATE_WITH_DLL"),
    ],
    ids=["dll-build-without-dll-imports", "default-build"],
)
def test_ws_transport_refuses_to_start_when_the_build_or_terminal_forbids_dlls(
    gateway: FakeGateway,
    stream: FakeStream,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    build: str,
    dlls_allowed: str,
    advice: str,
) -> None:
    terminal = Terminal(
        request.getfixturevalue(build),
        tmp_path / "f",
        gateway.base_url,
        role="follower",
        account_id="f-1",
        inputs={"InpTransport": 1, "InpWsUrl": stream.url},
        env={"MQL_DLLS_ALLOWED": dlls_allowed},
    )
    with pytest.raises(TerminalError, match="init_failed"):
        terminal.start()
    terminal.stop()
    assert advice in terminal.log()


def test_ws_report_lost_with_the_connection_is_sent_again_exactly_once(
    gateway: FakeGateway, stream: FakeStream, start_terminal: StartTerminal
) -> None:
    terminal = start_ws_follower(start_terminal, gateway, stream)
    init = gateway.wait_for("f-1", "InitRequest")[0]["payload"]
    assert init["receipts"] is True
    gateway.wait_for("f-1", "SyncSnapshot")
    stream.drop_next_report.add("f-1")  # written by the EA, never read by the server
    stream.send("f-1", "OrderCommand", command("open", command_id="ws-lost-1"))
    gateway.wait_for("f-1", "InitRequest", count=2)  # the EA reconnected
    [report] = gateway.wait_for("f-1", "ExecutionReport", lambda p: p["command_id"] == "ws-lost-1")
    time.sleep(0.5)  # a second copy would arrive by now
    reports = [e for e in gateway.received("f-1", "ExecutionReport")]
    assert [r["payload"]["command_id"] for r in reports] == ["ws-lost-1"]
    assert report["id"] in stream.receipts_sent
    assert len([o for o in terminal.book()["open"] if o["magic"] != 0]) == 1


def test_ws_report_with_a_receipt_is_not_sent_again_after_a_reconnect(
    gateway: FakeGateway, stream: FakeStream, start_terminal: StartTerminal
) -> None:
    terminal = start_ws_follower(start_terminal, gateway, stream)
    gateway.wait_for("f-1", "SyncSnapshot")
    stream.send("f-1", "OrderCommand", command("open", command_id="ws-ok-1"))
    [report] = gateway.wait_for("f-1", "ExecutionReport", lambda p: p["command_id"] == "ws-ok-1")
    outbox = terminal.file("outbox.json")
    deadline = time.monotonic() + 10
    while '"reports":[]' not in outbox.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)  # until the Receipt reached the EA
    stream.close("f-1", 4002, "heartbeat_timeout")
    gateway.wait_for("f-1", "InitRequest", count=2)
    time.sleep(0.5)
    assert len(gateway.received("f-1", "ExecutionReport")) == 1
    assert report["id"] in stream.receipts_sent
    assert '"reports":[]' in outbox.read_text()


@pytest.fixture
def blackhole() -> Iterator[str]:
    """A ws:// URL whose TCP handshake never completes (a full accept queue drops SYNs)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.2)
    yield f"ws://127.0.0.1:{port}/ea-gateway/v1/stream"
    for s in [*fillers, listener]:
        s.close()


def test_ws_connect_to_a_dead_host_gives_up_at_its_timeout(
    gateway: FakeGateway, start_terminal: StartTerminal, blackhole: str
) -> None:
    follower = start_terminal(
        "f",
        gateway.base_url,
        role="follower",
        account_id="f-1",
        inputs={"InpTransport": 1, "InpWsUrl": blackhole, "InpHttpTimeoutMs": 1000},
        env={"MQL_DLLS_ALLOWED": "1"},
        dll=True,
    )
    follower.wait_log("connect timeout after 1000 ms", timeout=15)
