"""Sentinel failover under traffic: sessions and copying resume, nothing lost or doubled.

A real `copygate serve` (gateway + in-process copier worker) runs on a primary with
one replica and three sentinels, with ``COPYGATE_REDIS_WAIT_REPLICAS=1``. A master
trades, the primary is SIGKILLed mid-traffic, the sentinels promote the replica,
every EA reconnects (new session, its ``ack_seq``) and the master replays the intents
it could not know were stored (same envelope ids). The simulated followers' brokers
execute a command id once (a repeat gets the first report again, as the EA does):
at the end each follower executed exactly one order per master ticket.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.e2e.conftest import ServerFactory
from tests.e2e.copier_harness import Terminal, setup, wait_for
from tests.e2e.harness import envelope
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
        COPYGATE_REDIS_SENTINELS=sentinel_group.sentinel_spec,
        COPYGATE_REDIS_SENTINEL_MASTER=sentinel_group.master_name,
        COPYGATE_REDIS_WAIT_REPLICAS="1",
    )
    _admin, master, followers = await setup(server, {"f1": {}, "f2": {}})
    terminals.extend([master, *followers.values()])
    brokers = [Broker(t) for t in followers.values()]
    running = [asyncio.create_task(b.run()) for b in brokers]
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
        sentinel_group.kill_primary()
        for ticket in range(5, 9):
            await trade(ticket)
            await asyncio.sleep(0.05)
        sentinel_group.wait_for_failover()

        for terminal in [master, *followers.values()]:
            await _reconnect(terminal)
        assert master.ws is not None
        for ticket in range(4, 9):  # in flight at the kill or sent during the outage
            await master.ws.send(sent[ticket])
        for ticket in range(9, 11):
            await trade(ticket)

        def all_executed() -> bool:
            return all(set(b.per_ticket()) == set(range(1, 11)) for b in brokers)

        async def check() -> bool:
            return all_executed()

        assert await wait_for(check, within=30), [b.per_ticket() for b in brokers]
        await asyncio.sleep(1.5)  # late duplicates would arrive within a few heartbeats
        for broker in brokers:
            assert broker.per_ticket() == Counter({t: 1 for t in range(1, 11)})
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
