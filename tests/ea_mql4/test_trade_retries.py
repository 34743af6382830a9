"""MT4 trade errors that need time: retries never starve heartbeats, 128 is
checked before a resend, and FREEZELEVEL is waited out.

A retry that does not fit the tick's sleep budget (a quarter of the heartbeat
interval, at most 500 ms) ends the tick; the command runs again on a later
tick while heartbeats keep going out. The fake gateway's heartbeat interval is
1 s, so the budget here is 250 ms.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from terminal_harness import OP_BUY, Terminal

from .fake_gateway import FakeGateway, FakeStream
from .test_ea_terminal import MAGIC, command, ours, report_for

StartTerminal = Callable[..., Terminal]
HEARTBEAT_INTERVAL_S = 1.0  # FakeGateway's default


def follower(start_terminal: StartTerminal, gateway: FakeGateway, **kwargs: Any) -> Terminal:
    f = start_terminal("f", gateway.base_url, role="follower", account_id="f-1", **kwargs)
    gateway.wait_for("f-1", "SyncSnapshot")
    return f


# ---------------------------------------------------------------- per-tick bound
@pytest.mark.parametrize(
    "faults",
    [
        ["busy 2500"],  # the trade context stays busy for 2.5 s
        ["fail OrderSend 137 3"],  # broker busy: backoff 0.5 + 1 + 2 s
        ["fail OrderSend 146 3"],  # trade context busy, reported by OrderSend
    ],
    ids=["context-busy", "137", "146"],  # 4/6/8/141 share 137's backoff (TradeMath.mqh)
)
def test_follower_heartbeats_stay_on_time_while_a_trade_retries(
    gateway: FakeGateway, start_terminal: StartTerminal, faults: list[str]
) -> None:
    f = follower(start_terminal, gateway)
    gateway.wait_for("f-1", "StatusHeartbeat")  # beating steadily
    f.batch(faults)
    cmd = command("open")
    started = time.monotonic()
    gateway.queue("f-1", "OrderCommand", cmd)
    assert_beats_on_time_until_filled(gateway, f, cmd, started)


def test_ws_follower_heartbeats_stay_on_time_while_a_trade_retries(
    gateway: FakeGateway, stream: FakeStream, start_terminal: StartTerminal
) -> None:
    f = follower(
        start_terminal,
        gateway,
        inputs={"InpTransport": 1, "InpWsUrl": stream.url},
        env={"MQL_DLLS_ALLOWED": "1"},
        dll=True,
    )
    gateway.wait_for("f-1", "StatusHeartbeat")
    f.inject("OrderSend", 137, 3)
    cmd = command("open")
    started = time.monotonic()
    stream.send("f-1", "OrderCommand", cmd)
    assert_beats_on_time_until_filled(gateway, f, cmd, started)


def assert_beats_on_time_until_filled(
    gateway: FakeGateway, f: Terminal, cmd: dict[str, Any], started: float
) -> None:
    report = report_for(gateway, "f-1", cmd["command_id"], timeout=20)
    finished = time.monotonic()
    time.sleep(0.3)  # a second execution or report would show by now

    assert report["status"] == "filled"
    assert len(ours(f.book())) == 1
    assert len(gateway.received("f-1", "ExecutionReport")) == 1
    assert finished - started > 2 * HEARTBEAT_INTERVAL_S  # the retries outlasted two beats
    beats = [at for at, _ in gateway.arrived("f-1", "StatusHeartbeat")]
    window = [at for at in beats if started - HEARTBEAT_INTERVAL_S <= at <= finished + 0.3]
    gaps = [b - a for a, b in zip(window, window[1:], strict=False)]
    assert len(window) >= 3
    assert max(gaps) < HEARTBEAT_INTERVAL_S + 0.8, gaps  # no retry sleeps 2 s in a tick


def test_follower_gives_up_after_its_retries_without_blocking(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    f = follower(start_terminal, gateway, inputs={"InpMaxRetries": 2})
    f.inject("OrderSend", 137, 3)  # one more than the EA retries
    cmd = command("open")
    gateway.queue("f-1", "OrderCommand", cmd)
    report = report_for(gateway, "f-1", cmd["command_id"], timeout=15)
    assert (report["status"], report["error_code"]) == ("rejected", 137)
    assert ours(f.book()) == []
    after = command("open")  # the queue moves on
    gateway.queue("f-1", "OrderCommand", after)
    assert report_for(gateway, "f-1", after["command_id"])["status"] == "filled"


def test_follower_rejects_with_146_when_the_trade_context_stays_busy(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    f = follower(start_terminal, gateway)
    f.command("busy 8000")  # longer than the EA waits for the context (5 s)
    cmd = command("open")
    gateway.queue("f-1", "OrderCommand", cmd)
    report = report_for(gateway, "f-1", cmd["command_id"], timeout=15)
    assert (report["status"], report["error_code"]) == ("rejected", 146)
    assert ours(f.book()) == []


# ---------------------------------------------------------------- 128 (trade timeout)
@pytest.mark.parametrize("went_through", [True, False], ids=["order-created", "no-order"])
def test_follower_looks_for_the_order_after_a_trade_timeout_before_sending_again(
    gateway: FakeGateway, start_terminal: StartTerminal, went_through: bool
) -> None:
    """128 whose order exists: found by magic + command tag, not sent again;
    128 without an order: sent once more. Either way exactly one order."""
    f = follower(start_terminal, gateway)
    f.inject("OrderSend", 128, 1, after=went_through)
    cmd = command("open", sl=1.05)
    gateway.queue("f-1", "OrderCommand", cmd)
    report = report_for(gateway, "f-1", cmd["command_id"], timeout=15)
    time.sleep(0.3)
    [order] = ours(f.book())
    assert f.book()["history"] == []  # nothing opened twice and closed
    assert (report["status"], report["ticket"], order["sl"]) == ("filled", order["ticket"], 1.05)
    assert order["ticket"] == 1000  # the first ticket: exactly one order at the broker
    assert f.log().count("error 128") == 1


def test_follower_closes_once_when_a_close_timed_out_but_went_through(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    f = follower(start_terminal, gateway)
    ticket = f.open("EURUSD", OP_BUY, 0.5, magic=MAGIC)
    f.inject("OrderClose", 128, 1, after=True)
    cmd = command("close", volume=0.2, ticket=ticket)
    gateway.queue("f-1", "OrderCommand", cmd)
    report = report_for(gateway, "f-1", cmd["command_id"], timeout=15)
    [rest] = ours(f.book())
    assert rest["lots"] == 0.3  # closed 0.2 once, not twice
    assert (report["status"], report["new_ticket"]) == ("closed", rest["ticket"])


# ---------------------------------------------------------------- FREEZELEVEL
FREEZE = {"MQL_SIM_FREEZE_LEVEL": "50"}  # 50 points = 0.0005 on EURUSD


def frozen_order(f: Terminal, action: str) -> dict[str, Any]:
    """An order of ours within the freeze level, and the command that wants to change it."""
    if action == "cancel_pending":
        ticket = f.open("EURUSD", 3, 0.1, price=1.1050, magic=MAGIC)  # sell limit, 50 pips away
        f.price("EURUSD", 1.1047, 1.1048)  # 3 pips from the open price
        return command(action, side="sell", order_type="limit", ticket=ticket)
    ticket = f.open("EURUSD", OP_BUY, 0.1, sl=1.0990, magic=MAGIC)
    f.price("EURUSD", 1.0994, 1.0995)  # bid 4 pips above the SL
    if action == "modify":
        return command(action, ticket=ticket, sl=1.0980)
    return command(action, ticket=ticket)


@pytest.mark.parametrize(
    ("action", "status"),
    [("close", "closed"), ("modify", "modified"), ("cancel_pending", "cancelled")],
)
def test_follower_waits_until_the_market_leaves_the_freeze_level(
    gateway: FakeGateway, start_terminal: StartTerminal, action: str, status: str
) -> None:
    f = follower(start_terminal, gateway, env=FREEZE)
    cmd = frozen_order(f, action)
    gateway.queue("f-1", "OrderCommand", cmd)
    f.wait_log("within the freeze level")
    time.sleep(0.5)
    assert gateway.received("f-1", "ExecutionReport") == []  # waiting, not failed
    beats = len(gateway.received("f-1", "StatusHeartbeat"))
    f.price("EURUSD", 1.1000, 1.1001)  # the market moves away
    report = report_for(gateway, "f-1", cmd["command_id"])
    assert report["status"] == status
    assert len(gateway.received("f-1", "StatusHeartbeat")) >= beats


def test_follower_rejects_with_145_when_the_order_stays_frozen(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    f = follower(start_terminal, gateway, env=FREEZE, inputs={"InpFreezeWaitS": 1})
    cmd = frozen_order(f, "close")
    gateway.queue("f-1", "OrderCommand", cmd)
    report = report_for(gateway, "f-1", cmd["command_id"])
    assert (report["status"], report["error_code"]) == ("rejected", 145)
    assert "freeze level" in report["error_message"]
    assert len(ours(f.book())) == 1


def test_ws_follower_takes_receipts_while_a_trade_waits_out_the_freeze_level(
    gateway: FakeGateway, stream: FakeStream, start_terminal: StartTerminal
) -> None:
    f = follower(
        start_terminal,
        gateway,
        inputs={"InpTransport": 1, "InpWsUrl": stream.url},
        env={"MQL_DLLS_ALLOWED": "1", **FREEZE},
        dll=True,
    )
    close = frozen_order(f, "close")
    opened = command("open", symbol="GBPUSD")
    stream.send("f-1", "OrderCommand", opened)
    stream.send("f-1", "OrderCommand", close)  # waits behind the freeze level
    [report] = gateway.wait_for("f-1", "ExecutionReport")
    assert report["payload"]["command_id"] == opened["command_id"]
    outbox = f.file("outbox.json")
    deadline = time.monotonic() + 5
    while '"reports":[]' not in outbox.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert '"reports":[]' in outbox.read_text()  # its Receipt did not wait for the close
    assert gateway.received("f-1", "ExecutionReport") == [report]  # the close still waits
    f.price("EURUSD", 1.1000, 1.1001)
    assert report_for(gateway, "f-1", close["command_id"])["status"] == "closed"
