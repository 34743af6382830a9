"""Sentinel failover under traffic: sessions and copying resume, nothing lost or doubled.

A real `copygate serve` (gateway + in-process copier worker) runs on a primary with
one replica and three sentinels, with ``COPYGATE_REDIS_WAIT_REPLICAS=1``. A master
trades, the primary is SIGKILLed mid-traffic, the sentinels promote the replica.
The WebSocket EAs, closed with 4004, reconnect (new session, their ``ack_seq``); the
poll EA keeps its session through the 503s; the master replays the intents it could
not know were stored (same envelope ids). The simulated followers' brokers execute a
command id once (a repeat gets the first report again, as the EA does): at the end
each follower executed exactly one order per master ticket.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ServerFactory
from tests.e2e.copier_harness import EURUSD, Terminal, setup, wait_for
from tests.e2e.harness import EA, envelope, heartbeat
from tests.redis_topologies import SentinelGroup


@dataclass
class Broker:
    """A follower's simulated broker: one execution per command id, whatever arrives."""

    terminal: Terminal
    executed: dict[str, int] = field(default_factory=dict)  #: command id -> master ticket
    reports: dict[str, int] = field(default_factory=dict)  #: command id -> broker ticket

    async def run(self) -> None:
        tickets = iter(range(70_000, 80_000))
        while True:
            command = await self.terminal.command(within=3600)
            command_id = command["command_id"]
            if command_id not in self.executed:
                self.executed[command_id] = command["master_ticket"]
                self.reports[command_id] = next(tickets)
            with contextlib.suppress(Exception):  # a dropped socket: the replay resends it
                await self.terminal.report(
                    command,
                    "filled",
                    ticket=self.reports[command_id],
                    volume=command["volume"],
                    price=1.1,
                    symbol=command["symbol"],
                )

    def per_ticket(self) -> Counter[int]:
        return Counter(self.executed.values())


@dataclass
class PollFollower:
    """A follower EA on the poll transport with its broker (one execution per command id)."""

    ea: EA
    executed: dict[str, int] = field(default_factory=dict)  #: command id -> master ticket
    acked: int = 0  #: highest seq processed
    sessions: int = 0  #: sessions it had to open
    unavailable: int = 0  #: 503 answers it waited through
    statuses: Counter[int] = field(default_factory=Counter)  #: answers by status
    closed: list[str] = field(default_factory=list)  #: why its sessions ended

    async def run(self) -> None:
        tickets = iter(range(80_000, 90_000))
        outbox: list[dict[str, Any]] = []
        while True:
            if not self.ea.session:
                try:
                    await self.ea.create_session()
                except (AssertionError, httpx.HTTPError):  # 503 while Redis fails over
                    await asyncio.sleep(0.2)
                    continue
                self.sessions += 1
                outbox.insert(0, self.init())
            try:
                response = await self.ea.exchange(
                    [*outbox, heartbeat(self.acked)], ack_seq=self.acked, wait_ms=300
                )
            except httpx.HTTPError:
                await asyncio.sleep(0.2)
                continue
            self.statuses[response.status_code] += 1
            if response.status_code in (401, 410):
                self.closed.append(response.text)
                self.ea.session = {}
                continue
            if response.status_code == 503:
                self.unavailable += 1
                await asyncio.sleep(0.2)
                continue
            assert response.status_code == 200, response.text
            outbox = []
            for message in response.json()["messages"]:
                self.acked = max(self.acked, message["seq"])
                if message["type"] != "OrderCommand":
                    continue
                command = message["payload"]
                self.executed.setdefault(command["command_id"], command["master_ticket"])
                outbox.append(
                    envelope(
                        "ExecutionReport",
                        {"command_id": command["command_id"], "status": "filled"}
                        | {"ticket": next(tickets), "volume": command["volume"]}
                        | {"price": 1.1, "symbol": command["symbol"]},
                    )
                )

    def init(self) -> dict[str, Any]:
        account = {"balance": 10_000, "equity": 10_000}
        return envelope(
            "InitRequest", {"ack_seq": self.acked, "account": account, "symbols": [EURUSD]}
        )

    def per_ticket(self) -> Counter[int]:
        return Counter(self.executed.values())


@pytest.fixture
async def terminals() -> AsyncIterator[list[Terminal]]:
    connected: list[Terminal] = []
    yield connected
    for terminal in connected:
        await terminal.disconnect()


async def _reconnect(terminal: Terminal, within: float = 30.0) -> None:
    """Drop the old socket and open a new session until the store answers again."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        await terminal.disconnect()
        try:
            await terminal.connect()
            return
        except Exception:  # 503 store_unavailable, or the socket closed during init
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


async def test_sessions_and_copying_resume_after_failover_with_no_lost_or_doubled_order(
    start_server: ServerFactory, sentinel_group: SentinelGroup, terminals: list[Terminal]
) -> None:
    server = start_server(
        redis=False,
        **sentinel_group.copygate_env(wait_replicas=1),
        # longer than the failover (~2.5 s here), as in production (15 s vs a few s)
        COPYGATE_HEARTBEAT_TIMEOUT_S="10",
    )
    _admin, master, followers = await setup(server, {"f1": {}, "f2": {}, "p1": {}}, connect=False)
    poller = PollFollower(EA(server.base_url, "p1", key=followers.pop("p1").key))
    await asyncio.gather(master.connect(), *(t.connect() for t in followers.values()))
    terminals.extend([master, *followers.values()])
    brokers: list[Broker | PollFollower] = [*(Broker(t) for t in followers.values()), poller]
    running = [asyncio.create_task(b.run()) for b in brokers]

    async def poller_opened() -> bool:
        return poller.sessions == 1

    assert await wait_for(poller_opened, within=10)
    await asyncio.sleep(0.5)  # its InitRequest is in
    sent: dict[int, dict[str, Any]] = {}

    async def trade(ticket: int) -> None:
        message = envelope(
            "OrderIntent",
            {"action": "open", "ticket": ticket, "symbol": "EURUSD", "side": "buy"}
            | {"order_type": "market", "volume": 1.0, "price": 1.1},
        )
        sent[ticket] = message
        assert master.ws is not None
        with contextlib.suppress(Exception):  # the socket may be closing: replayed below
            await master.ws.send(message)

    try:
        for ticket in range(1, 5):
            await trade(ticket)
            await asyncio.sleep(0.05)
        await asyncio.to_thread(sentinel_group.kill_primary)
        for ticket in range(5, 9):
            await trade(ticket)
            await asyncio.sleep(0.05)
        await asyncio.to_thread(sentinel_group.wait_for_failover)

        for terminal in [master, *followers.values()]:
            await _reconnect(terminal)
        assert master.ws is not None
        for ticket in range(4, 9):  # in flight at the kill or sent during the outage
            await master.ws.send(sent[ticket])
        for ticket in range(9, 11):
            await trade(ticket)

        async def all_executed() -> bool:
            return all(set(b.per_ticket()) == set(range(1, 11)) for b in brokers)

        assert await wait_for(all_executed, within=30), [b.per_ticket() for b in brokers]
        await asyncio.sleep(1.5)  # late duplicates would arrive within a few heartbeats
        for broker in brokers:
            assert broker.per_ticket() == Counter({t: 1 for t in range(1, 11)})
        assert poller.unavailable > 0, poller.statuses  # it did live through the failover
        assert poller.sessions == 1, poller.closed  # ... in the session it had before
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
