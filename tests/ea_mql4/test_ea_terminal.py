"""The whole EA, compiled from its own sources against the terminal shim.

Each test runs the EA in a simulated MT4 terminal process whose WebRequest is
a real HTTP/1.1 client, against an in-process fake of the gateway's EA
endpoints that validates every EA message with the wire models. (The same
terminals run against the real `copygate serve` in test_ea_e2e.py.)
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from terminal_harness import OP_BUY, OP_BUYLIMIT, OP_SELL, OP_SELLSTOP, Terminal

from .fake_gateway import FakeGateway

StartTerminal = Callable[..., Terminal]
MAGIC = 20251122


def command(action: str, **payload: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "command_id": f"cmd-{action}-{time.monotonic_ns()}",
        "action": action,
        "symbol": "EURUSD",
        "side": "buy",
        "order_type": "market",
        "volume": 0.1,
        "master_ticket": 501,
    }
    return {**base, **payload}


def command_tag(command_id: str) -> str:
    """The EA's command tag in an order comment (CgCommandTag)."""
    return hashlib.sha256(command_id.encode()).hexdigest()[:10]


def report_for(gateway: FakeGateway, account: str, cid: str, timeout: float = 10) -> dict[str, Any]:
    found = gateway.wait_for(
        account, "ExecutionReport", lambda p: p["command_id"] == cid, timeout=timeout
    )
    return found[-1]["payload"]


def ours(book: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in book["open"] if o["magic"] == MAGIC]


# ---------------------------------------------------------------- session
def test_ea_opens_session_and_starts_with_init_request_then_snapshot(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    start_terminal("m", gateway.base_url, role="master", account_id="m-1")
    snapshot = gateway.wait_for("m-1", "SyncSnapshot")[0]
    kinds = [e["type"] for e in gateway.received("m-1")]
    assert kinds[0] == "InitRequest"
    assert kinds.index("SyncSnapshot") > 0
    init = gateway.received("m-1", "InitRequest")[0]["payload"]
    assert init["ack_seq"] == 0
    assert {s["symbol"] for s in init["symbols"]} >= {"EURUSD", "USDJPY"}
    assert snapshot["payload"]["positions"] == []
    session = gateway.sessions_of("m-1")[0]
    assert session.client == {"platform": "mt4", "ea_version": "1.0.0", "terminal_build": 1440}
    assert len(session.key) == 64


def test_ea_sends_heartbeats_with_ack_seq(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    start_terminal("m", gateway.base_url, role="master", account_id="m-1")
    beats = gateway.wait_for("m-1", "StatusHeartbeat", count=2, timeout=5)
    assert all(b["payload"]["ack_seq"] >= 1 for b in beats[1:])  # InitAck (seq 1) acknowledged
    assert beats[0]["payload"]["balance"] == 10000


def test_ea_waits_in_pending_and_syncs_after_promotion(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    gateway.auto_approve = False
    start_terminal("f", gateway.base_url, role="follower", account_id="f-1")
    gateway.wait_for("f-1", "InitRequest")
    cmd = command("open")
    gateway.queue("f-1", "OrderCommand", cmd)
    time.sleep(0.5)
    assert gateway.received("f-1", "SyncSnapshot") == []  # no InitAck yet
    assert gateway.received("f-1", "ExecutionReport") == []
    gateway.promote("f-1")
    assert report_for(gateway, "f-1", cmd["command_id"])["status"] == "filled"
    gateway.wait_for("f-1", "SyncSnapshot")


def test_ea_stops_for_good_when_preempted(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    terminal = start_terminal("m", gateway.base_url, role="master", account_id="m-1")
    gateway.wait_for("m-1", "SyncSnapshot")
    gateway.close("m-1", "preempted")
    terminal.wait_log("another terminal started a session")
    time.sleep(1.5)
    assert len(gateway.sessions_of("m-1")) == 1  # never fights back
    assert "[ALERT]" in terminal.log()


def test_ea_stops_when_the_key_is_rejected(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    gateway.rejected_keys.add("k" * 40)
    terminal = start_terminal(
        "m", gateway.base_url, role="master", account_id="m-1", inputs={"InpPresharedKey": "k" * 40}
    )
    terminal.wait_log("rejected or revoked")
    time.sleep(1.0)
    creations = [r for r in gateway.requests if r == ("POST", "/ea-gateway/v1/sessions")]
    assert len(creations) == 1


def test_ea_opens_a_new_session_after_heartbeat_timeout(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    start_terminal("m", gateway.base_url, role="master", account_id="m-1")
    gateway.wait_for("m-1", "SyncSnapshot")
    gateway.close("m-1", "heartbeat_timeout")
    deadline = time.monotonic() + 5
    while len(gateway.sessions_of("m-1")) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(gateway.sessions_of("m-1")) == 2
    gateway.wait_for("m-1", "InitRequest", count=2)


def test_ea_alerts_when_webrequest_url_is_not_allowed(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    terminal = start_terminal(
        "m", gateway.base_url, role="master", account_id="m-1", allow_urls=("http://other",)
    )
    log = terminal.wait_log("error 4060")
    assert "Allow WebRequest for listed URL" in log
    assert gateway.sessions_of("m-1") == []


def test_ea_waits_for_the_terminal_to_log_in_before_using_the_account_number(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    terminal = start_terminal(
        "f", gateway.base_url, role="follower", account_id="", env={"MQL_ACCOUNT_NUMBER": "0"}
    )
    time.sleep(0.3)
    assert gateway.sessions == []
    terminal.command("login 4242")
    gateway.wait_for("4242", "SyncSnapshot")
    assert (terminal.files_dir / "CopyGateway" / "4242" / "session.key").exists()


def test_ea_keeps_key_and_ack_seq_across_restarts(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    first = start_terminal("f", gateway.base_url, role="follower", account_id="f-1")
    cmd = command("open")
    gateway.queue("f-1", "OrderCommand", cmd)
    report_for(gateway, "f-1", cmd["command_id"])
    gateway.wait_for("f-1", "StatusHeartbeat", lambda p: p["ack_seq"] >= 2)
    time.sleep(0.3)
    first.stop()
    acked = json.loads(first.file("state.json").read_text())["ack_seq"]
    assert acked >= 2
    start_terminal("f", gateway.base_url, role="follower", account_id="f-1")
    inits = gateway.wait_for("f-1", "InitRequest", count=2)
    assert inits[1]["payload"]["ack_seq"] == acked
    keys = {s.key for s in gateway.sessions_of("f-1")}
    assert len(keys) == 1
    assert first.file("session.key").read_text() in keys


# ---------------------------------------------------------------- master
def test_master_publishes_every_trade_event_as_an_intent(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    m = start_terminal("m", gateway.base_url, role="master", account_id="m-1")
    gateway.wait_for("m-1", "SyncSnapshot")

    def intent(action: str, count: int = 1) -> dict[str, Any]:
        return gateway.wait_for("m-1", "OrderIntent", lambda p: p["action"] == action, count=count)[
            -1
        ]["payload"]

    t1 = m.open("EURUSD", OP_BUY, 1.0, comment="manual")
    opened = intent("open")
    assert (opened["ticket"], opened["side"], opened["order_type"]) == (t1, "buy", "market")
    assert opened["volume"] == 1.0 and opened["price"] == 1.1001

    m.modify(t1, sl=1.09, tp=1.12)
    modified = intent("modify")
    assert (modified["ticket"], modified["sl"], modified["tp"]) == (t1, 1.09, 1.12)

    rest = m.close(t1, 0.3)
    partial = intent("close")
    assert partial["ticket"] == t1
    assert partial["volume"] == 0.3
    assert partial["new_ticket"] == rest
    assert partial["price"] == 1.1  # closed at bid

    m.close(rest)
    full = intent("close", count=2)
    assert (full["ticket"], full["volume"]) == (rest, 0.7)
    assert "new_ticket" not in full

    p1 = m.open("EURUSD", OP_SELLSTOP, 0.2, price=1.09)
    placed = intent("place_pending")
    assert (placed["ticket"], placed["order_type"], placed["side"]) == (p1, "stop", "sell")
    m.delete(p1)
    assert intent("cancel_pending")["ticket"] == p1

    p2 = m.open("EURUSD", OP_BUYLIMIT, 0.2, price=1.095)
    intent("place_pending", count=2)
    m.price("EURUSD", 1.0940, 1.0941)  # the limit fills
    filled = intent("open", count=2)
    assert filled["ticket"] == p2 and filled["order_type"] == "market"


def test_master_recognises_a_partial_close_when_the_broker_rewrote_the_comment(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    m = start_terminal("m", gateway.base_url, role="master", account_id="m-1")
    gateway.wait_for("m-1", "SyncSnapshot")
    t1 = m.open("USDJPY", OP_SELL, 0.5)
    gateway.wait_for("m-1", "OrderIntent", lambda p: p["action"] == "open")
    rest = t1 + 1  # the simulated broker numbers tickets sequentially
    m.batch([f"close {t1} 0.2", f"comment {rest} split-by-broker"])  # before the next scan
    close = gateway.wait_for("m-1", "OrderIntent", lambda p: p["action"] == "close")[0]["payload"]
    assert (close["ticket"], close["new_ticket"], close["volume"]) == (t1, rest, 0.2)
    time.sleep(0.3)
    assert len(gateway.received("m-1", "OrderIntent")) == 2  # no `open` for the remainder


def test_master_reports_changes_made_while_it_was_away(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    m = start_terminal("m", gateway.base_url, role="master", account_id="m-1")
    gateway.wait_for("m-1", "SyncSnapshot")
    t1 = m.open("EURUSD", OP_BUY, 0.1)
    gateway.wait_for("m-1", "OrderIntent", lambda p: p["action"] == "open")
    time.sleep(0.3)  # the next exchange saves the delivered view
    m.stop()
    saved = json.loads(m.file("master.json").read_text())
    assert [r["t"] for r in saved["rows"]] == [t1]
    # restart: the position is gone from the (new) simulated book -> a close intent
    start_terminal("m", gateway.base_url, role="master", account_id="m-1")
    close = gateway.wait_for("m-1", "OrderIntent", lambda p: p["action"] == "close")[0]
    assert close["payload"]["ticket"] == t1


# ---------------------------------------------------------------- follower
def test_follower_executes_open_partial_close_and_close(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    f = start_terminal("f", gateway.base_url, role="follower", account_id="f-1", first_ticket=7000)
    cmd = command("open", volume=0.5, sl=1.05, tp=1.2, max_slippage_points=20)
    gateway.queue("f-1", "OrderCommand", cmd)
    filled = report_for(gateway, "f-1", cmd["command_id"])
    assert filled["status"] == "filled"
    ticket = filled["ticket"]
    assert (filled["volume"], filled["price"]) == (0.5, 1.1001)
    [order] = ours(f.book())
    assert (order["ticket"], order["sl"], order["tp"]) == (ticket, 1.05, 1.2)
    assert order["comment"] == "cg#501 " + command_tag(cmd["command_id"])

    part = command("close", volume=0.2, ticket=ticket)
    gateway.queue("f-1", "OrderCommand", part)
    closed = report_for(gateway, "f-1", part["command_id"])
    assert (closed["status"], closed["volume"], closed["price"]) == ("closed", 0.2, 1.1)
    rest = closed["new_ticket"]
    assert [o["ticket"] for o in ours(f.book())] == [rest]
    tickets = json.loads(f.file("tickets.json").read_text())["links"]
    assert tickets == [{"a": "", "m": 501, "f": rest, "s": "EURUSD"}]

    full = command("close", volume=0.3, ticket=rest)
    gateway.queue("f-1", "OrderCommand", full)
    assert report_for(gateway, "f-1", full["command_id"])["status"] == "closed"
    assert ours(f.book()) == []


def test_follower_places_modifies_and_cancels_pending_orders(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    f = start_terminal("f", gateway.base_url, role="follower", account_id="f-1")
    place = command("place_pending", side="sell", order_type="limit", price=1.105)
    gateway.queue("f-1", "OrderCommand", place)
    placed = report_for(gateway, "f-1", place["command_id"])
    assert placed["status"] == "placed"
    mod = command(
        "modify", side="sell", order_type="limit", ticket=placed["ticket"], price=1.106, sl=1.11
    )
    gateway.queue("f-1", "OrderCommand", mod)
    assert report_for(gateway, "f-1", mod["command_id"])["status"] == "modified"
    [order] = ours(f.book())
    assert (order["open_price"], order["sl"]) == (1.106, 1.11)
    cancel = command("cancel_pending", side="sell", order_type="limit", ticket=placed["ticket"])
    gateway.queue("f-1", "OrderCommand", cancel)
    assert report_for(gateway, "f-1", cancel["command_id"])["status"] == "cancelled"
    assert ours(f.book()) == []


def test_follower_trades_a_symbol_that_market_watch_does_not_show(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    f = start_terminal(
        "f",
        gateway.base_url,
        role="follower",
        account_id="f-1",
        env={"MQL_SIM_HIDDEN_SYMBOLS": "GBPUSD"},
    )
    cmd = command("open", symbol="GBPUSD")
    gateway.queue("f-1", "OrderCommand", cmd)
    assert report_for(gateway, "f-1", cmd["command_id"])["status"] == "filled"
    assert [o["symbol"] for o in ours(f.book())] == ["GBPUSD"]


def test_follower_does_not_trade_while_the_terminal_is_disconnected(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    f = start_terminal(
        "f", gateway.base_url, role="follower", account_id="f-1", env={"MQL_CONNECTED": "0"}
    )
    cmd = command("open")
    gateway.queue("f-1", "OrderCommand", cmd)
    report = report_for(gateway, "f-1", cmd["command_id"])
    assert (report["status"], report["error_code"]) == ("rejected", 6)
    assert ours(f.book()) == []


def test_follower_moves_stops_out_to_the_brokers_stop_level(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    f = start_terminal(
        "f", gateway.base_url, role="follower", account_id="f-1", env={"MQL_SIM_STOP_LEVEL": "50"}
    )
    cmd = command("open", sl=1.0999, tp=1.1001)  # bid 1.10000: both within 50 points
    gateway.queue("f-1", "OrderCommand", cmd)
    assert report_for(gateway, "f-1", cmd["command_id"])["status"] == "filled"
    [order] = ours(f.book())
    assert (order["sl"], order["tp"]) == (1.0995, 1.1005)


def test_follower_keeps_the_stop_loss_when_a_modify_omits_it(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    f = start_terminal("f", gateway.base_url, role="follower", account_id="f-1")
    place = command("place_pending", side="sell", order_type="limit", price=1.105, sl=1.11)
    gateway.queue("f-1", "OrderCommand", place)
    placed = report_for(gateway, "f-1", place["command_id"])
    mod = command("modify", side="sell", order_type="limit", ticket=placed["ticket"], tp=1.09)
    gateway.queue("f-1", "OrderCommand", mod)
    assert report_for(gateway, "f-1", mod["command_id"])["status"] == "modified"
    [order] = ours(f.book())
    assert (order["sl"], order["tp"]) == (1.11, 1.09)
    clear = command("modify", side="sell", order_type="limit", ticket=placed["ticket"], sl=0)
    gateway.queue("f-1", "OrderCommand", clear)
    assert report_for(gateway, "f-1", clear["command_id"])["status"] == "modified"
    [order] = ours(f.book())
    assert (order["sl"], order["tp"]) == (0, 1.09)


@pytest.mark.parametrize(
    ("inputs", "payload", "error_code"),
    [
        ({"InpKillSwitch": True}, {}, 65537),
        ({"InpAllowedSymbols": "XAUUSD"}, {}, 65538),
        ({"InpMaxLotsPerOrder": 0.5}, {"volume": 1.0}, 65539),
        ({}, {"symbol": "NOPE"}, 4106),
        ({}, {"volume": 0.001}, 131),
    ],
    ids=["kill_switch", "symbol_not_allowed", "max_lots", "unknown_symbol", "below_min_lot"],
)
def test_follower_rejects_openings_its_safety_inputs_forbid(
    gateway: FakeGateway,
    start_terminal: StartTerminal,
    inputs: dict[str, Any],
    payload: dict[str, Any],
    error_code: int,
) -> None:
    f = start_terminal("f", gateway.base_url, role="follower", account_id="f-1", inputs=inputs)
    cmd = command("open", **payload)
    gateway.queue("f-1", "OrderCommand", cmd)
    report = report_for(gateway, "f-1", cmd["command_id"])
    assert (report["status"], report["error_code"]) == ("rejected", error_code)
    assert report["error_message"]
    assert ours(f.book()) == []


def test_follower_kill_switch_still_lets_closes_through(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    f = start_terminal(
        "f", gateway.base_url, role="follower", account_id="f-1", inputs={"InpKillSwitch": True}
    )
    copied = f.open("EURUSD", OP_BUY, 0.1, magic=MAGIC)  # copied before the switch was set
    cmd = command("close", ticket=copied)
    gateway.queue("f-1", "OrderCommand", cmd)
    assert report_for(gateway, "f-1", cmd["command_id"])["status"] == "closed"
    assert ours(f.book()) == []


def test_follower_reports_an_expired_command_without_trading(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    f = start_terminal("f", gateway.base_url, role="follower", account_id="f-1")
    cmd = command("open", expires_at=time.time_ns() // 1_000_000 - 1000)
    gateway.queue("f-1", "OrderCommand", cmd)
    report = report_for(gateway, "f-1", cmd["command_id"])
    assert (report["status"], report["error_code"]) == ("expired", 65541)
    assert ours(f.book()) == []


@pytest.mark.parametrize("error", [138, 129, 4, 6, 8, 137, 141])
def test_follower_retries_transient_trade_errors_and_fills(
    gateway: FakeGateway, start_terminal: StartTerminal, error: int
) -> None:
    f = start_terminal("f", gateway.base_url, role="follower", account_id="f-1")
    f.inject("OrderSend", error, 2)
    cmd = command("open")
    gateway.queue("f-1", "OrderCommand", cmd)
    assert report_for(gateway, "f-1", cmd["command_id"])["status"] == "filled"
    assert len(ours(f.book())) == 1


def test_follower_waits_for_a_busy_trade_context(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    f = start_terminal("f", gateway.base_url, role="follower", account_id="f-1")
    f.inject("OrderSend", 146, 1)
    f.command("busy 300")
    cmd = command("open")
    gateway.queue("f-1", "OrderCommand", cmd)
    assert report_for(gateway, "f-1", cmd["command_id"])["status"] == "filled"
    assert len(ours(f.book())) == 1


def test_follower_checks_before_retrying_after_a_trade_timeout(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    f = start_terminal("f", gateway.base_url, role="follower", account_id="f-1")
    f.inject("OrderSend", 128, 1, after=True)  # the order went through, MT4 said 128
    cmd = command("open")
    gateway.queue("f-1", "OrderCommand", cmd)
    report = report_for(gateway, "f-1", cmd["command_id"])
    assert report["status"] == "filled"
    assert len(ours(f.book())) == 1  # not opened twice


def test_follower_does_not_retry_final_errors(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    f = start_terminal("f", gateway.base_url, role="follower", account_id="f-1")
    f.inject("OrderSend", 134, 1)
    cmd = command("open")
    gateway.queue("f-1", "OrderCommand", cmd)
    report = report_for(gateway, "f-1", cmd["command_id"])
    assert (report["status"], report["error_code"]) == ("rejected", 134)
    assert ours(f.book()) == []


def test_follower_never_touches_orders_without_its_magic(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    f = start_terminal("f", gateway.base_url, role="follower", account_id="f-1")
    manual = f.open("EURUSD", OP_BUY, 0.1)  # the account owner's own trade
    cmd = command("close", ticket=manual)
    gateway.queue("f-1", "OrderCommand", cmd)
    report = report_for(gateway, "f-1", cmd["command_id"])
    assert (report["status"], report["error_code"]) == ("rejected", 65542)
    assert [o["ticket"] for o in f.book()["open"]] == [manual]


def test_follower_answers_a_duplicate_command_without_trading_twice(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    f = start_terminal("f", gateway.base_url, role="follower", account_id="f-1")
    env = gateway.queue("f-1", "OrderCommand", command("open"))
    cid = env["payload"]["command_id"]
    first = gateway.wait_for("f-1", "ExecutionReport", lambda p: p["command_id"] == cid)[0]
    gateway.redeliver("f-1", {**env, "id": "srv-again"})
    again = gateway.wait_for("f-1", "ExecutionReport", lambda p: p["command_id"] == cid, count=2)
    assert again[1] == first  # the stored report, same envelope id
    assert len(ours(f.book())) == 1
    f.stop()
    # a fresh process (its simulated book starts empty): the journal on disk answers
    f2 = start_terminal("f", gateway.base_url, role="follower", account_id="f-1")
    gateway.redeliver("f-1", {**env, "id": "srv-after-restart"})
    third = gateway.wait_for("f-1", "ExecutionReport", lambda p: p["command_id"] == cid, count=3)
    assert third[2] == first
    assert ours(f2.book()) == []


def test_follower_answers_a_snapshot_request_with_its_own_orders(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    f = start_terminal("f", gateway.base_url, role="follower", account_id="f-1")
    f.open("EURUSD", OP_BUY, 0.1)  # not ours: not in the snapshot
    cmd = command("open")
    gateway.queue("f-1", "OrderCommand", cmd)
    ticket = report_for(gateway, "f-1", cmd["command_id"])["ticket"]
    gateway.queue("f-1", "SyncSnapshot", {"request_id": "req-9"})
    snap = gateway.wait_for("f-1", "SyncSnapshot", lambda p: p.get("request_id") == "req-9")
    assert [p["ticket"] for p in snap[0]["payload"]["positions"]] == [ticket]


def test_ea_reports_an_invalid_server_message_and_carries_on(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    start_terminal("f", gateway.base_url, role="follower", account_id="f-1")
    bad = gateway.queue("f-1", "OrderCommand", {"command_id": "x", "action": "open"})
    alert = gateway.wait_for("f-1", "ErrorAlert", lambda p: p.get("ref_id") == bad["id"])[0]
    assert alert["payload"]["code"] == "invalid_message"
    cmd = command("open")
    gateway.queue("f-1", "OrderCommand", cmd)
    assert report_for(gateway, "f-1", cmd["command_id"])["status"] == "filled"


def test_ea_closes_its_session_on_detach(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    f = start_terminal("f", gateway.base_url, role="follower", account_id="f-1")
    gateway.wait_for("f-1", "SyncSnapshot")
    f.stop()
    gateway.wait_for("f-1", "ShutdownNotice", lambda p: p["reason"] == "client_shutdown")
    assert gateway.sessions_of("f-1")[0].closed_reason == "client_shutdown"


def test_ea_ignores_what_follows_a_shutdown_notice_in_the_same_batch(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    f = start_terminal("f", gateway.base_url, role="follower", account_id="f-1")
    gateway.wait_for("f-1", "SyncSnapshot")
    gateway.queue_together(
        "f-1", [("ShutdownNotice", {"reason": "preempted"}), ("OrderCommand", command("open"))]
    )
    f.wait_log("another terminal started a session")
    time.sleep(0.3)
    assert ours(f.book()) == []
    assert gateway.received("f-1", "ExecutionReport") == []
