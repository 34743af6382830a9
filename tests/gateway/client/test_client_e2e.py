"""The SDK against a real `copygate serve`: both transports, dedup, reconnect, 4001."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Literal

import pytest

from gateway.client import ClientConfig, ClientStopped, EAClient
from schemas import OrderCommand, SessionState
from schemas.messages import AccountInfo, ExecutionReportPayload, OrderIntentPayload, SymbolSpec
from tests.e2e.conftest import ServerFactory
from tests.e2e.harness import Admin, Server, order_command

pytestmark = pytest.mark.e2e

Transport = Literal["websocket", "poll"]
EURUSD = SymbolSpec(
    symbol="EURUSD",
    digits=5,
    point=Decimal("0.00001"),
    contract_size=Decimal(100000),
    lot_step=Decimal("0.01"),
    min_lot=Decimal("0.01"),
    max_lot=Decimal(100),
)


class Follower:
    """An SDK follower that fills every command and remembers what it executed."""

    def __init__(self, server: Server, account: str, key: str, transport: Transport) -> None:
        self.executed: list[OrderCommand] = []
        self.client = EAClient(
            ClientConfig(server.base_url, account, key, transport=transport, poll_wait_ms=2000),
            account=lambda: AccountInfo(balance=Decimal(10000), equity=Decimal(10000)),
            symbols=[EURUSD],
        )
        self.client.on_command(self.execute)

    async def execute(self, command: OrderCommand) -> ExecutionReportPayload:
        self.executed.append(command)
        return ExecutionReportPayload(
            command_id=command.payload.command_id,
            status="filled",
            ticket=500 + len(self.executed),
            volume=command.payload.volume,
            price=Decimal("1.1"),
        )

    async def executed_count(self, n: int, within: float = 5.0) -> None:
        await until(lambda: len(self.executed) >= n, within)


async def until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Wait until `condition()` holds (TimeoutError after `within` seconds)."""
    async with asyncio.timeout(within):
        while True:
            if condition():
                return
            await asyncio.sleep(0.02)


@pytest.fixture
async def clients() -> AsyncIterator[list[EAClient]]:
    """Clients to close after the test."""
    made: list[EAClient] = []
    yield made
    for client in made:
        with contextlib.suppress(Exception):
            await client.close()


async def connected(
    server: Server,
    clients: list[EAClient],
    account: str,
    role: str,
    transport: Transport = "websocket",
) -> Follower:
    admin = Admin(server.base_url)
    await admin.put_account(account, role)
    follower = Follower(server, account, await admin.provision(account), transport)
    clients.append(follower.client)
    await follower.client.start()
    await follower.client.wait_authenticated(10)
    return follower


@pytest.mark.parametrize("transport", ["websocket", "poll"])
async def test_follower_executes_copied_commands_and_acknowledges_them(
    start_server: ServerFactory, clients: list[EAClient], transport: Transport
) -> None:
    server = start_server()
    master = await connected(server, clients, "m1", "master")
    follower = await connected(server, clients, "f1", "follower", transport)
    response = await Admin(server.base_url).request(
        "PUT", "/admin/v1/accounts/f1/subscriptions/m1", json={}
    )
    assert response.status_code == 200, response.text
    assert follower.client.role == "follower"
    await master.client.send_intent(
        OrderIntentPayload(
            action="open",
            ticket=1,
            symbol="EURUSD",
            side="buy",
            order_type="market",
            volume=Decimal("0.3"),
            price=Decimal("1.1"),
            sl=Decimal("1.09"),
        )
    )
    await follower.executed_count(1)
    command = follower.executed[0]
    assert (command.payload.volume, command.payload.master_ticket) == (Decimal("0.3"), 1)
    await until(lambda: follower.client.ack_seq >= (command.seq or 0))
    async with asyncio.timeout(5):  # the report reached the copier
        while True:
            rows = (
                await Admin(server.base_url).request("GET", "/admin/v1/accounts/f1/copies")
            ).json()
            if rows["copies"] and rows["copies"][0]["status"] == "filled":
                break
            await asyncio.sleep(0.05)


async def test_client_answers_a_redelivered_command_from_its_journal_without_executing_it(
    start_server: ServerFactory, clients: list[EAClient]
) -> None:
    server = start_server()
    follower = await connected(server, clients, "f1", "follower", "poll")
    admin = Admin(server.base_url)
    command = order_command(command_id=f"cmd-{secrets.token_hex(4)}")
    await admin.queue("f1", command)
    await follower.executed_count(1)
    await admin.queue("f1", command)  # the same command_id under a new envelope id
    await until(lambda: follower.client.stats.replays >= 1)
    assert len(follower.executed) == 1


async def test_client_reconnects_after_a_server_restart_and_keeps_receiving(
    start_server: ServerFactory, clients: list[EAClient]
) -> None:
    server = start_server()
    follower = await connected(server, clients, "f1", "follower")
    admin = Admin(server.base_url)
    await admin.queue("f1", order_command(command_id="before-restart"))
    await follower.executed_count(1)
    server.stop()  # ShutdownNotice{server_shutdown, reconnect_after_s} + 4004
    restarted = start_server(port=server.port)
    client = follower.client
    await until(
        lambda: client.stats.sessions >= 2 and client.state is SessionState.AUTHENTICATED, 15
    )
    await Admin(restarted.base_url).queue("f1", order_command(command_id="after-restart"))
    await follower.executed_count(2)
    assert [c.payload.command_id for c in follower.executed] == ["before-restart", "after-restart"]
    assert follower.client.stopped is None


@pytest.mark.parametrize("transport", ["websocket", "poll"])
async def test_client_stops_for_good_when_another_terminal_preempts_it(
    start_server: ServerFactory, clients: list[EAClient], transport: Transport
) -> None:
    server = start_server()
    first = await connected(server, clients, "f1", "follower", transport)
    second = Follower(server, "f1", first.client.config.key, "websocket")
    clients.append(second.client)
    await second.client.start()
    await second.client.wait_authenticated(10)
    stopped = await asyncio.wait_for(first.client.wait_stopped(), 10)
    assert stopped.reason == "preempted"
    await asyncio.sleep(1.5)  # it must not come back and fight
    assert first.client.stats.sessions == 1
    assert second.client.stopped is None and second.client.state is SessionState.AUTHENTICATED
    with pytest.raises(ClientStopped):
        await first.client.send_intent(
            OrderIntentPayload(
                action="open",
                ticket=1,
                symbol="EURUSD",
                side="buy",
                order_type="market",
                volume=Decimal("0.1"),
                price=Decimal("1.1"),
            )
        )


async def test_client_with_a_new_key_waits_pending_until_the_key_is_approved(
    start_server: ServerFactory, clients: list[EAClient]
) -> None:
    server = start_server()
    admin = Admin(server.base_url)
    follower = Follower(server, "f9", secrets.token_urlsafe(24), "websocket")
    clients.append(follower.client)
    await follower.client.start()
    await until(lambda: follower.client.state is SessionState.PENDING)
    with pytest.raises(TimeoutError):
        await follower.client.wait_authenticated(0.5)
    assert (await admin.approve(await admin.pending_key_id("f9"))).status_code == 200
    await follower.client.wait_authenticated(5)
    assert follower.client.role == "unassigned"


async def test_client_stops_when_its_key_is_rejected(
    start_server: ServerFactory, clients: list[EAClient]
) -> None:
    server = start_server()
    admin = Admin(server.base_url)
    follower = Follower(server, "f8", secrets.token_urlsafe(24), "poll")
    clients.append(follower.client)
    await follower.client.start()
    await until(lambda: follower.client.state is SessionState.PENDING)
    key_id = await admin.pending_key_id("f8")
    assert (await admin.request("POST", f"/admin/v1/keys/{key_id}/reject")).status_code == 200
    stopped = await asyncio.wait_for(follower.client.wait_stopped(), 10)
    assert stopped.reason == "key_rejected"
