"""The EA and the gateway's size limits: a body refused with 413 is not resent forever,
and a snapshot too large for a gateway that takes no parts is dropped, loudly.

(The split snapshot against the real gateway is in test_ea_e2e.py.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from terminal_harness import Terminal

from .books import seed_book
from .fake_gateway import FakeGateway

StartTerminal = Callable[..., Terminal]
MAGIC = 20251122  # the follower's magic (InpMagic default)
OPEN = {
    "action": "open",
    "symbol": "EURUSD",
    "side": "buy",
    "order_type": "market",
    "volume": 0.1,
    "master_ticket": 501,
}
#: four extra symbols: the orders' symbols, so the InitRequest stays small
FEW_SYMBOLS = {"MQL_SIM_EXTRA_SYMBOLS": "4"}


def too_large_alerts(gateway: FakeGateway, account: str) -> list[dict[str, object]]:
    alerts = gateway.received(account, "ErrorAlert")
    return [a for a in alerts if a["payload"]["code"] == "payload_too_large"]


def test_a_body_refused_with_413_goes_one_message_per_body_and_a_refused_message_is_dropped(
    gateway: FakeGateway, start_terminal: StartTerminal, tmp_path: Path
) -> None:
    # the follower's 120 orders make a SyncSnapshot of ~20 kB: under the EA's message
    # cap, over the body limit the gateway is given once the session is up
    book = seed_book(tmp_path / "broker.book", 120, symbols=4, magic=MAGIC)
    env = {**FEW_SYMBOLS, "MQL_SIM_BOOK": str(book)}
    follower = start_terminal("f", gateway.base_url, role="follower", account_id="f-1", env=env)
    gateway.wait_for("f-1", "SyncSnapshot")
    gateway.max_body_bytes = 12_000

    # a snapshot request and a command answered together: one body [snapshot, report]
    cid = "cmd-open-413"
    gateway.queue_together("f-1", [("SyncSnapshot", {"request_id": "rq-413"}), ("OrderCommand", OPEN | {"command_id": cid})])

    follower.wait_log("refused a SyncSnapshot for its size (HTTP 413); dropped", timeout=15)
    assert "[ALERT] CopyGateway: the gateway refused a SyncSnapshot" in follower.log()
    gateway.wait_for("f-1", "ExecutionReport", lambda p: p["command_id"] == cid)
    gateway.wait_for("f-1", "ErrorAlert", lambda p: p["code"] == "payload_too_large")

    # the body of two was refused, then each went alone: the snapshot refused again and
    # dropped, the report delivered
    statuses = list(gateway.exchanges)
    first = statuses.index((413, 2))
    assert statuses[first + 1] == (413, 1)
    assert statuses[first + 2] == (200, 1)
    refused = sum(status == 413 for status, _ in statuses)
    assert refused == 2

    # never resent: the EA carries on (heartbeats), the gateway sees no more 413s
    heartbeats = len(gateway.received("f-1", "StatusHeartbeat"))
    gateway.wait_for("f-1", "StatusHeartbeat", count=heartbeats + 2, timeout=10)
    time.sleep(0.5)
    assert sum(status == 413 for status, _ in gateway.exchanges) == refused
    assert [s["payload"].get("request_id") for s in gateway.received("f-1", "SyncSnapshot")] == [None]
    [alert] = too_large_alerts(gateway, "f-1")
    assert alert["payload"]["severity"] == "error"


def test_a_snapshot_too_large_for_a_gateway_that_takes_no_parts_is_dropped_with_an_alert(
    gateway: FakeGateway, start_terminal: StartTerminal, tmp_path: Path
) -> None:
    # the fake gateway's InitAck announces no max_snapshot_parts, like a gateway before parts
    book = seed_book(tmp_path / "broker.book", 500, symbols=4)
    master = start_terminal(
        "m", gateway.base_url, role="master", account_id="m-1", env={**FEW_SYMBOLS, "MQL_SIM_BOOK": str(book)}
    )

    master.wait_log("exceeds the gateway's size limit; dropped", timeout=15)
    assert "[ALERT] CopyGateway: SyncSnapshot of" in master.log()
    gateway.wait_for("m-1", "ErrorAlert", lambda p: p["code"] == "payload_too_large")
    time.sleep(0.5)
    assert gateway.received("m-1", "SyncSnapshot") == []  # never a part it would take as whole
    assert "sent in" not in master.log()
