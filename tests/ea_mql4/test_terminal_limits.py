"""MT4's own limits, enforced by the terminal shim, and the EA living within them.

WebRequest sends only GET/POST/HEAD, only to allowed URLs on ports 80/443;
FileOpen refuses names Windows refuses. The EA therefore closes its session
with a POST, keeps its files in a folder name derived from the account id,
and stops trading (loudly) when a state file cannot be written.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from terminal_harness import Terminal, TerminalError, account_folder

from .fake_gateway import FakeGateway
from .test_ea_terminal import command, ours, report_for

StartTerminal = Callable[..., Terminal]
MAPPED = "https://copygate.test"


# ---------------------------------------------------------------- WebRequest
@pytest.mark.parametrize(
    ("method", "url", "last_error"),
    [
        ("DELETE", f"{MAPPED}/ea-gateway/v1/sessions/x", 5200),  # GET/POST/HEAD only
        ("PUT", f"{MAPPED}/ea-gateway/v1/sessions/x", 5200),
        ("POST", "{raw}/ea-gateway/v1/sessions", 5200),  # allowed, but not port 80/443
        ("POST", "http://not-allowed.test/ea-gateway/v1/sessions", 4060),
        ("POST", "https://unmapped.test/x", 5201),  # allowed, 443, but no such host
    ],
)
def test_terminal_refuses_web_requests_mt4_refuses(
    gateway: FakeGateway, start_terminal: StartTerminal, method: str, url: str, last_error: int
) -> None:
    terminal = start_terminal(
        "m",
        gateway.base_url,
        role="master",
        account_id="m-1",
        allow_urls=(MAPPED, gateway.base_url, "https://unmapped.test"),
    )
    reply = terminal.command(f"webrequest {method} {url.format(raw=gateway.base_url)}")
    assert reply == {"status": -1, "last_error": last_error}


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
def test_terminal_sends_allowed_methods_to_a_mapped_https_address(
    gateway: FakeGateway, start_terminal: StartTerminal, method: str
) -> None:
    terminal = start_terminal("m", gateway.base_url, role="master", account_id="m-1")
    reply = terminal.command(f"webrequest {method} {MAPPED}/nowhere")
    assert reply["status"] in (404, 501)  # the fake gateway answered


# ---------------------------------------------------------------- files
@pytest.mark.parametrize(
    ("name", "accepted"),
    [
        ("CopyGateway\\f-1\\state.json", True),
        ("CopyGateway\\~_acct~7!_z\\state.json", True),
        ("CopyGateway\\acct:7\\state.json", False),
        ("CopyGateway\\a<b\\state.json", False),
        ("CopyGateway\\a|b\\state.json", False),
        ("CopyGateway\\a?b\\state.json", False),
        ("CopyGateway\\CON\\state.json", False),
        ("CopyGateway\\nul.txt", False),
        ("CopyGateway\\com1\\state.json", False),
        ("CopyGateway\\x.\\state.json", False),
    ],
)
def test_terminal_refuses_file_names_windows_refuses(
    gateway: FakeGateway, start_terminal: StartTerminal, name: str, accepted: bool
) -> None:
    terminal = start_terminal("m", gateway.base_url, role="master", account_id="m-1")
    reply = terminal.command(f"fileopen {name}")
    assert (reply["handle"] > 0) is accepted
    assert reply["last_error"] == (0 if accepted else 4103)


@pytest.mark.parametrize(
    ("account_id", "folder"),
    [
        ("12345", "12345"),
        ("f-1", "f-1"),
        ("Acct:7.Z", "~_acct~7!_z"),
        ("acct:7.z", "~acct~7!z"),
        ("con", "~con"),
        ("x.", "~x!"),
    ],
)
def test_account_folder_is_windows_safe_and_distinct_per_id(account_id: str, folder: str) -> None:
    assert account_folder(account_id) == folder


# ---------------------------------------------------------------- the EA
def test_follower_keeps_its_state_when_the_account_id_has_characters_windows_forbids(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    account = "Broker:Live.7"
    f = start_terminal("f", gateway.base_url, role="follower", account_id=account)
    cmd = command("open")
    gateway.queue(account, "OrderCommand", cmd)
    assert report_for(gateway, account, cmd["command_id"])["status"] == "filled"
    folder = f.files_dir / "CopyGateway" / "~_broker~_live!7"
    assert {"session.key", "journal.json", "tickets.json"} <= {p.name for p in folder.iterdir()}
    f.stop()
    again = start_terminal("f", gateway.base_url, role="follower", account_id=account)
    gateway.wait_for(account, "InitRequest", count=2)
    sessions = gateway.sessions_of(account)
    assert len({s.key for s in sessions}) == 1  # the generated key survived the restart
    assert "cannot write" not in again.log()


def test_follower_stops_trading_and_alerts_when_its_state_cannot_be_saved(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    f = start_terminal("f", gateway.base_url, role="follower", account_id="f-1")
    gateway.wait_for("f-1", "SyncSnapshot")
    f.file("journal.json.tmp").mkdir()  # the next journal write fails
    cmd = command("open")
    gateway.queue("f-1", "OrderCommand", cmd)
    alert = gateway.wait_for(
        "f-1", "ErrorAlert", lambda p: p["code"] == "state_not_saved", timeout=10
    )[0]["payload"]
    assert alert["severity"] == "critical"
    f.wait_log("trading stopped")
    time.sleep(0.3)
    assert ours(f.book()) == []
    assert gateway.received("f-1", "ExecutionReport") == []


def test_follower_saves_its_state_then_closes_the_session_with_a_post(
    gateway: FakeGateway, start_terminal: StartTerminal
) -> None:
    f = start_terminal("f", gateway.base_url, role="follower", account_id="f-1")
    cmd = command("open")
    gateway.queue("f-1", "OrderCommand", cmd)
    report_for(gateway, "f-1", cmd["command_id"])
    [session] = gateway.sessions_of("f-1")
    f.stop()
    assert ("POST", f"/ea-gateway/v1/sessions/{session.session_id}/close") in gateway.requests
    assert not [r for r in gateway.requests if r[0] == "DELETE"]
    assert session.state == "closed"
    journal = json.loads(f.file("journal.json").read_text())
    assert cmd["command_id"] in json.dumps(journal)


# ---------------------------------------------------------------- the broker's freeze level
@pytest.mark.parametrize(
    ("order", "change"),
    [
        ("open EURUSD 0 0.1 0 1.0990 0", "close {t}"),  # buy, SL 4 pips below bid
        ("open EURUSD 0 0.1 0 1.0990 0", "modify {t} 1.0980 0"),
        ("open EURUSD 1 0.1 0 0 1.0990", "close {t}"),  # sell, TP 4 pips below ask
        ("open EURUSD 5 0.1 1.0990 0 0", "delete {t}"),  # sell stop 4 pips below bid
        ("open EURUSD 2 0.1 1.0991 0 0", "modify {t} 0 0 1.0985"),  # buy limit 4 pips below ask
    ],
    ids=["close-buy", "modify-buy", "close-sell", "delete-sell-stop", "modify-buy-limit"],
)
def test_broker_refuses_to_change_an_order_within_the_freeze_level(
    gateway: FakeGateway, start_terminal: StartTerminal, order: str, change: str
) -> None:
    terminal = start_terminal(
        "m", gateway.base_url, role="master", account_id="m-1", env={"MQL_SIM_FREEZE_LEVEL": "50"}
    )
    terminal.price("EURUSD", 1.1050, 1.1051)  # far from every level: the order is accepted
    ticket = terminal.command(order)["ticket"]
    terminal.price("EURUSD", 1.0994, 1.0995)  # within 50 points of its SL/TP/price
    with pytest.raises(TerminalError, match="145"):
        terminal.command(change.format(t=ticket))
    terminal.price("EURUSD", 1.1050, 1.1051)  # beyond the freeze level again
    terminal.command(change.format(t=ticket))
