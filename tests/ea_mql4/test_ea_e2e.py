"""The EA against the real gateway: `copygate serve` + a master and a follower EA.

Both EAs are the real EA compiled against the terminal shim; they create their
sessions with generated keys (pending), the back-office approves them over the
admin API, and a trade on the master must appear on the follower.

The server runs with the embedded store (no Redis), heartbeat 1 s / timeout 3 s;
`redis_server` runs it on the real Redis under a test prefix, so that a test can
read what the gateway handed the copier (the EA event stream) and what the copier
made of it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from terminal_harness import OP_BUY, Terminal

from copier.keys import CopierKeys
from copier.worker.codec import decode_master_book
from gateway.store.keys import RedisKeys
from schemas import SyncSnapshot, parse_client_envelope
from tests.conftest import REDIS_URL

from .books import FIRST_SEEDED_TICKET, seed_book
from .conftest import REPO

pytestmark = pytest.mark.e2e

ADMIN_TOKEN = "ea-e2e-admin"
MAGIC = 20251122
StartTerminal = Callable[..., Terminal]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Gateway:
    """A `copygate serve` process and an admin client."""

    def __init__(self, tmp_path: Path, extra_env: dict[str, str] | None = None) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / "copygate.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("COPYGATE_")}
        env |= {
            "COPYGATE_ADMIN_TOKEN": ADMIN_TOKEN,
            "COPYGATE_HEARTBEAT_INTERVAL_S": "1",
            "COPYGATE_HEARTBEAT_TIMEOUT_S": "3",
            **(extra_env or {}),
        }
        self._log = self.log_path.open("w")
        port = str(self.port)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--host", "127.0.0.1", "--port", port],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.admin = httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=5
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if self.admin.get("/healthz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"copygate serve did not become healthy:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        self.admin.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self._log.close()

    # ------------------------------------------------------------ admin API (wire contract)
    def put_account(self, account_id: str, role: str) -> None:
        body = {"tenant_id": "t1", "role": role}
        r = self.admin.put(f"/admin/v1/accounts/{account_id}", json=body)
        assert r.status_code in (200, 201), r.text

    def subscribe(self, follower: str, master: str, **settings: Any) -> None:
        body = {
            "allocation": {"mode": "mirror", "multiplier": 1.0},
            "copy_sl_tp": True,
            "copy_pending": True,
            "status": "active",
            **settings,
        }
        r = self.admin.put(f"/admin/v1/accounts/{follower}/subscriptions/{master}", json=body)
        assert r.status_code in (200, 201), r.text

    def pending_keys(self, account_id: str) -> list[dict[str, Any]]:
        r = self.admin.get("/admin/v1/keys", params={"status": "pending"})
        assert r.status_code == 200, r.text
        return [k for k in r.json()["keys"] if k["account_id"] == account_id]

    def decide_key(self, account_id: str, decision: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            keys = self.pending_keys(account_id)
            if keys:
                r = self.admin.post(f"/admin/v1/keys/{keys[0]['key_id']}/{decision}")
                assert r.status_code == 200, r.text
                return
            time.sleep(0.1)
        raise AssertionError(f"no pending key for {account_id}")

    def sessions(self, account_id: str) -> list[dict[str, Any]]:
        r = self.admin.get("/admin/v1/sessions", params={"account_id": account_id})
        assert r.status_code == 200, r.text
        sessions: list[dict[str, Any]] = r.json()["sessions"]
        return sessions


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Gateway]:
    gw = Gateway(tmp_path)
    yield gw
    gw.stop()


@dataclass
class RedisServed:
    """A `copygate serve` on the real Redis under a test prefix, and a client of it."""

    gateway: Gateway
    redis: redis.Redis
    keys: RedisKeys

    def snapshots(self, account_id: str) -> list[SyncSnapshot]:
        """The SyncSnapshots of `account_id` handed to the copier (EA event stream)."""
        found = []
        for _, fields in self.redis.xrange(self.keys.ea_inbox_stream()):
            envelope = parse_client_envelope(fields[b"body"])
            if fields[b"account_id"] == account_id.encode() and isinstance(envelope, SyncSnapshot):
                found.append(envelope)
        return found


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServed]:
    prefix = f"cgtest-{secrets.token_hex(4)}"
    env = {"COPYGATE_REDIS_URL": REDIS_URL, "COPYGATE_KEY_PREFIX": prefix}
    gw = Gateway(tmp_path, env)
    client = redis.Redis.from_url(REDIS_URL)
    yield RedisServed(gw, client, RedisKeys(prefix=prefix))
    gw.stop()
    for name in client.scan_iter(match=f"{prefix}:*", count=1000):
        client.delete(name)
    client.close()


def wait_until(check: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def over(server: Gateway, transport: str, **env: str) -> dict[str, Any]:
    """start_terminal arguments for an EA on `transport` ("poll" or "websocket")."""
    ws_url = server.base_url.replace("http://", "ws://") + "/ea-gateway/v1/stream"
    return {
        "inputs": {"InpTransport": 1, "InpWsUrl": ws_url} if transport == "websocket" else {},
        "env": {"MQL_DLLS_ALLOWED": "1", **env},
        "dll": transport == "websocket",
    }


def copies(follower: Terminal) -> list[dict[str, Any]]:
    return [o for o in follower.book()["open"] if o["magic"] == MAGIC]


@pytest.mark.parametrize("transport", ["poll", "websocket"])
def test_a_master_trade_is_copied_to_the_follower_and_closed_with_it(
    server: Gateway, start_terminal: StartTerminal, transport: str
) -> None:
    server.put_account("m-1", "master")
    server.put_account("f-1", "follower")
    server.subscribe("f-1", "m-1")
    master = start_terminal("m", server.base_url, role="master", account_id="m-1")
    follower = start_terminal(
        "f",
        server.base_url,
        role="follower",
        account_id="f-1",
        first_ticket=9000,
        **over(server, transport),
    )
    server.decide_key("m-1", "approve")
    server.decide_key("f-1", "approve")
    master.wait_log("session ready", timeout=15)
    follower.wait_log("session ready", timeout=15)

    ticket = master.open("EURUSD", OP_BUY, 0.3, sl=1.05, tp=1.2)
    [copy] = wait_until(lambda: copies(follower), what="the copy on the follower")
    assert (copy["lots"], copy["type"], copy["symbol"]) == (0.3, OP_BUY, "EURUSD")
    assert (copy["sl"], copy["tp"]) == (1.05, 1.2)

    rest = master.close(ticket, 0.1)
    wait_until(lambda: [o["lots"] for o in copies(follower)] == [0.2], what="partial close")
    master.close(rest)
    wait_until(lambda: copies(follower) == [], what="full close")
    # every ExecutionReport was confirmed (WebSocket: a Receipt; poll: the 200)
    outbox = follower.file("outbox.json")
    wait_until(lambda: '"reports":[]' in outbox.read_text(), what="no unconfirmed report")


def test_a_second_terminal_preempts_the_first_which_stays_idle(
    server: Gateway, start_terminal: StartTerminal
) -> None:
    server.put_account("m-1", "master")
    first = start_terminal("m", server.base_url, role="master", account_id="m-1")
    server.decide_key("m-1", "approve")
    wait_until(lambda: first.file("session.key").exists(), what="key file")
    key = first.file("session.key").read_text()
    second = start_terminal(
        "m2", server.base_url, role="master", account_id="m-1", inputs={"InpPresharedKey": key}
    )
    first.wait_log("another terminal started a session", timeout=15)
    time.sleep(2)
    live = [s for s in server.sessions("m-1") if s["state"] != "closed"]
    assert len(live) == 1
    assert "STOPPED" not in second.log()


def test_a_rejected_key_stops_the_ea(server: Gateway, start_terminal: StartTerminal) -> None:
    server.put_account("f-1", "follower")
    follower = start_terminal("f", server.base_url, role="follower", account_id="f-1")
    server.decide_key("f-1", "reject")
    follower.wait_log("rejected or revoked", timeout=15)


@pytest.mark.parametrize("transport", ["poll", "websocket"])
def test_an_ea_with_1000_symbols_gets_its_init_ack_from_the_real_gateway(
    server: Gateway, start_terminal: StartTerminal, transport: str
) -> None:
    server.put_account("m-1", "master")
    master = start_terminal(
        "m",
        server.base_url,
        role="master",
        account_id="m-1",
        **over(server, transport, MQL_SIM_EXTRA_SYMBOLS="1000"),
    )
    server.decide_key("m-1", "approve")
    master.wait_log("session ready", timeout=15)
    assert "exceeds the gateway's size limit" not in master.log()


@pytest.mark.parametrize("transport", ["poll", "websocket"])
def test_a_snapshot_of_500_orders_goes_in_parts_and_reaches_the_copier_once_whole(
    redis_server: RedisServed, start_terminal: StartTerminal, tmp_path: Path, transport: str
) -> None:
    served, server = redis_server, redis_server.gateway
    server.put_account("m-1", "master")
    server.put_account("f-1", "follower")
    server.subscribe("f-1", "m-1")  # the copier reconciles snapshots of masters with followers
    book = seed_book(tmp_path / "broker.book", 500)
    master = start_terminal(
        "m",
        server.base_url,
        role="master",
        account_id="m-1",
        **over(server, transport, MQL_SIM_EXTRA_SYMBOLS="1000", MQL_SIM_BOOK=str(book)),
    )
    server.decide_key("m-1", "approve")
    log = master.wait_log("orders sent in", timeout=20)
    parts = re.search(r"SyncSnapshot of 500 orders sent in (\d+) parts", log)
    assert parts is not None and int(parts.group(1)) > 1, log

    [whole] = wait_until(lambda: served.snapshots("m-1"), what="the assembled snapshot")
    tickets = [p.ticket for p in whole.payload.positions] + [o.ticket for o in whole.payload.orders]
    assert sorted(tickets) == list(range(FIRST_SEEDED_TICKET, FIRST_SEEDED_TICKET + 500))
    assert (len(whole.payload.positions), len(whole.payload.orders)) == (250, 250)
    assert whole.payload.snapshot_id is None  # one snapshot, as if sent whole

    # the copier reconciled it as one snapshot: its book of the master holds all 500
    ckeys = CopierKeys.of(served.keys)

    def copier_book() -> bool:
        known = decode_master_book(served.redis.get(ckeys.master_book("m-1")))
        return (len(known.positions), len(known.orders)) == (250, 250)

    wait_until(copier_book, what="the copier's book of the master")
    time.sleep(1.0)
    assert len(served.snapshots("m-1")) == 1
    # the InitRequest (1,000 symbols, 500 of them traded) and every part fit the limits
    assert "exceeds the gateway's size limit" not in master.log()
    assert "payload_too_large" not in master.log()


def unconfirmed(master: Terminal) -> list[dict[str, Any]]:
    """The intents a master keeps until the gateway confirmed them (master.json)."""
    saved: list[dict[str, Any]] = json.loads(master.file("master.json").read_text())["outbox"][
        "reports"
    ]
    return saved


@pytest.mark.parametrize(
    ("transport", "crash_at"),
    [
        ("poll", "WebRequest:OrderIntent:2"),  # the 200 came back, the master did not see it
        ("websocket", "send:OrderIntent:2"),  # the frame was written, no Receipt yet
    ],
)
def test_a_master_that_crashed_before_seeing_its_intent_confirmed_is_copied_once(
    server: Gateway, start_terminal: StartTerminal, tmp_path: Path, transport: str, crash_at: str
) -> None:
    """The master's partial close is sent (the open was the first intent), the
    master dies before it learns that the gateway has it, and sends the same
    intent (same id) again after the restart: the follower closes its part once."""
    server.put_account("m-1", "master")
    server.put_account("f-1", "follower")
    server.subscribe("f-1", "m-1")
    book = {"MQL_SIM_BOOK": str(tmp_path / "master-book.txt")}
    crashing = over(server, transport, MQL_CRASH_AT=crash_at, **book)
    master = start_terminal("m", server.base_url, role="master", account_id="m-1", **crashing)
    follower = start_terminal(
        "f", server.base_url, role="follower", account_id="f-1", first_ticket=9000
    )
    server.decide_key("m-1", "approve")
    server.decide_key("f-1", "approve")
    master.wait_log("session ready", timeout=15)
    follower.wait_log("session ready", timeout=15)
    ticket = master.open("EURUSD", OP_BUY, 0.3)
    wait_until(lambda: copies(follower), what="the copy on the follower")
    wait_until(lambda: unconfirmed(master) == [], what="the open confirmed")

    master.close(ticket, 0.1)
    wait_until(lambda: not master.running, what="the master's crash")
    master.stop()
    assert [i["payload"]["action"] for i in unconfirmed(master)] == ["close"]
    wait_until(lambda: [o["lots"] for o in copies(follower)] == [0.2], what="the partial close")

    master = start_terminal(
        "m", server.base_url, role="master", account_id="m-1", **over(server, transport, **book)
    )
    wait_until(lambda: unconfirmed(master) == [], what="the intent sent again and confirmed")
    time.sleep(1.5)  # a second partial close would reach the follower by now
    assert [o["lots"] for o in copies(follower)] == [0.2]
