"""Simulated master and follower terminals for the copier's end-to-end tests.

A `Terminal` is an EA over the WebSocket transport: it sends an InitRequest
with its symbols, heartbeats every 0.5 s acknowledging what it processed, and
files every server message by type so a test can wait for the next command.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.e2e.harness import EA, Admin, Server, WsEA, envelope, now_ms

EURUSD = {
    "symbol": "EURUSD",
    "digits": 5,
    "point": 0.00001,
    "contract_size": 100000,
    "lot_step": 0.01,
    "min_lot": 0.01,
    "max_lot": 100,
}
_tickets = itertools.count(5000)


def symbol(name: str) -> dict[str, Any]:
    return {**EURUSD, "symbol": name}


@dataclass
class Terminal:
    """One EA (master or follower) connected over WebSocket."""

    server: Server
    account: str
    key: str
    symbols: list[dict[str, Any]] = field(default_factory=lambda: [EURUSD])
    equity: float = 10_000
    ws: WsEA | None = None
    acked: int = 0
    inbox: dict[str, asyncio.Queue[dict[str, Any]]] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    ack_commands: bool = True

    def queue(self, kind: str) -> asyncio.Queue[dict[str, Any]]:
        return self.inbox.setdefault(kind, asyncio.Queue())

    async def connect(self, ack_seq: int | None = None) -> Terminal:
        ea = EA(self.server.base_url, self.account, key=self.key)
        await ea.create_session()
        self.ws = await self.stack.enter_async_context(ea.websocket(self.server.ws_url))
        ack = self.acked if ack_seq is None else ack_seq
        await self.ws.send(
            envelope(
                "InitRequest",
                {
                    "ack_seq": ack,
                    "account": {"balance": self.equity, "equity": self.equity},
                    "symbols": self.symbols,
                },
            )
        )
        self.tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._beat())]
        await asyncio.wait_for(self.queue("InitAck").get(), 5)
        return self

    async def disconnect(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks = []
        await self.stack.aclose()
        self.stack = contextlib.AsyncExitStack()
        self.ws = None

    async def _read(self) -> None:
        assert self.ws is not None
        while True:
            message = await self.ws.recv(timeout=3600)
            if message["type"] == "OrderCommand" and self.ack_commands:
                self.acked = max(self.acked, message["seq"])
            self.queue(message["type"]).put_nowait(message)

    async def _beat(self) -> None:
        assert self.ws is not None
        while True:
            await asyncio.sleep(0.5)
            await self.ws.send(
                envelope(
                    "StatusHeartbeat",
                    {"ack_seq": self.acked, "balance": self.equity, "equity": self.equity},
                )
            )

    # ---- as a follower -----------------------------------------------------------
    async def command(self, within: float = 4.0) -> dict[str, Any]:
        message = await asyncio.wait_for(self.queue("OrderCommand").get(), within)
        payload: dict[str, Any] = message["payload"]
        return payload

    async def no_command(self, seconds: float = 0.5) -> None:
        with contextlib.suppress(TimeoutError):
            message = await asyncio.wait_for(self.queue("OrderCommand").get(), seconds)
            raise AssertionError(f"unexpected command {message}")

    async def report(self, command: dict[str, Any], status: str, **fields: Any) -> None:
        assert self.ws is not None
        await self.ws.send(
            envelope(
                "ExecutionReport", {"command_id": command["command_id"], "status": status, **fields}
            )
        )

    async def fill(self, command: dict[str, Any], price: float = 1.1) -> int:
        ticket = next(_tickets)
        await self.report(
            command,
            "filled",
            ticket=ticket,
            volume=command["volume"],
            price=price,
            symbol=command["symbol"],
        )
        return ticket

    # ---- as a master ---------------------------------------------------------------
    async def intent(self, action: str, ticket: int, **fields: Any) -> str:
        assert self.ws is not None
        payload = {
            "action": action,
            "ticket": ticket,
            "symbol": "EURUSD",
            "side": "buy",
            "order_type": "market",
            "volume": 1.0,
            "price": 1.1,
            "sl": 1.09,
            "tp": 1.12,
            **fields,
        }
        message = envelope("OrderIntent", payload)
        await self.ws.send(message)
        return str(message["id"])

    async def snapshot(
        self, positions: list[dict[str, Any]], orders: list[dict[str, Any]] | None = None
    ) -> None:
        assert self.ws is not None
        await self.ws.send(
            envelope("SyncSnapshot", {"positions": positions, "orders": orders or []})
        )


async def setup(
    server: Server,
    followers: dict[str, dict[str, Any]],
    *,
    master: str = "m1",
    symbols: dict[str, list[dict[str, Any]]] | None = None,
    connect: bool = True,
) -> tuple[Admin, Terminal, dict[str, Terminal]]:
    """Accounts, keys, subscriptions (`followers`: id -> settings) and connected terminals."""
    admin = Admin(server.base_url)
    await admin.put_account(master, "master")
    terminal = Terminal(server, master, await admin.provision(master))
    out: dict[str, Terminal] = {}
    for follower, settings in followers.items():
        await admin.put_account(follower, "follower")
        response = await admin.request(
            "PUT", f"/admin/v1/accounts/{follower}/subscriptions/{master}", json=settings
        )
        assert response.status_code == 200, response.text
        out[follower] = Terminal(
            server,
            follower,
            await admin.provision(follower),
            symbols=(symbols or {}).get(follower, [EURUSD]),
        )
    if connect:
        await asyncio.gather(terminal.connect(), *(t.connect() for t in out.values()))
    return admin, terminal, out


async def copies(admin: Admin, follower: str) -> list[dict[str, Any]]:
    response = await admin.request("GET", f"/admin/v1/accounts/{follower}/copies")
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["copies"]
    return rows


async def wait_for(check: Any, within: float = 4.0) -> Any:
    """Poll an async predicate until it returns something truthy."""
    deadline = now_ms() + within * 1000
    while True:
        value = await check()
        if value or now_ms() > deadline:
            return value
        await asyncio.sleep(0.05)


__all__ = ["EURUSD", "Terminal", "copies", "httpx", "setup", "symbol", "wait_for"]
