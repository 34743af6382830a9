"""The delivery log over the wire: seq, ack_seq, re-sends, restarts, several nodes."""

from __future__ import annotations

import asyncio
import time

from tests.e2e.conftest import ServerFactory
from tests.e2e.harness import EA, Admin, heartbeat, init_request, order_command


async def test_unacknowledged_commands_are_resent_after_ack_seq_on_a_new_session(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    admin = Admin(server.base_url)
    key = await admin.provision("acct-resend")
    for n in range(3):
        await admin.queue("acct-resend", order_command(ticket=n, command_id=f"c-{n}"))
    ea = EA(server.base_url, "acct-resend", key=key)
    await ea.create_session()
    first = (await ea.exchange([init_request()])).json()["messages"]
    commands = [m for m in first if m["type"] == "OrderCommand"]
    assert [m["payload"]["command_id"] for m in commands] == ["c-0", "c-1", "c-2"]
    # the EA processed c-0 only, then reconnects with a new session
    ea2 = EA(server.base_url, "acct-resend", key=key)
    await ea2.create_session()
    again = (
        await ea2.exchange([init_request(ack_seq=commands[0]["seq"])], ack_seq=commands[0]["seq"])
    ).json()["messages"]
    ids = [m["payload"]["command_id"] for m in again if m["type"] == "OrderCommand"]
    assert ids == ["c-1", "c-2"]
    assert [m["seq"] for m in again if m["type"] == "OrderCommand"] == [
        m["seq"] for m in commands[1:]
    ]  # a new authenticated session keeps their seq


async def test_acknowledged_command_is_never_sent_again(start_server: ServerFactory) -> None:
    server = start_server()
    admin = Admin(server.base_url)
    ea = EA(server.base_url, "acct-acked", key=await admin.provision("acct-acked"))
    await ea.create_session()
    await admin.queue("acct-acked", order_command(command_id="only"))
    async with ea.websocket(server.ws_url) as ws:
        command = await ws.recv_type("OrderCommand")
        await ws.send(heartbeat(ack_seq=command["seq"]))
        await asyncio.sleep(0.3)
    ea2 = EA(server.base_url, "acct-acked", key=ea.key)
    await ea2.create_session()
    body = (await ea2.exchange([init_request(ack_seq=0)], ack_seq=0)).json()
    assert [m for m in body["messages"] if m["type"] == "OrderCommand"] == []


async def assert_pushed_promptly(
    admin: Admin, ea: EA, ws_url: str, command_id: str, limit_s: float
) -> None:
    """A command queued through `admin` reaches `ea`'s open WebSocket within `limit_s`."""
    await ea.create_session()
    async with ea.websocket(ws_url) as ws:
        await ws.send(init_request())
        await ws.recv_type("InitAck")
        started = time.monotonic()
        await admin.queue(ea.account_id, order_command(command_id=command_id))
        command = await ws.recv_type("OrderCommand", timeout=2)
        assert command["payload"]["command_id"] == command_id
        assert time.monotonic() - started < limit_s


async def test_command_is_pushed_to_a_connected_websocket_at_once(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    admin = Admin(server.base_url)
    ea = EA(server.base_url, "acct-push", key=await admin.provision("acct-push"))
    await assert_pushed_promptly(admin, ea, server.ws_url, "now", limit_s=1.0)


async def test_held_poll_exchange_answers_as_soon_as_a_command_arrives(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    admin = Admin(server.base_url)
    ea = EA(server.base_url, "acct-hold", key=await admin.provision("acct-hold"))
    await ea.create_session()
    await ea.exchange([init_request()])

    async def queue_later() -> None:
        await asyncio.sleep(0.5)
        await admin.queue("acct-hold", order_command(command_id="late"))

    started = time.monotonic()
    task = asyncio.create_task(queue_later())
    response = await ea.exchange(wait_ms=10_000)
    elapsed = time.monotonic() - started
    await task
    assert [m["payload"]["command_id"] for m in response.json()["messages"]] == ["late"]
    assert 0.4 < elapsed < 3.0


async def test_unacknowledged_commands_survive_a_gateway_restart(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    admin = Admin(server.base_url)
    key = await admin.provision("acct-restart")
    ea = EA(server.base_url, "acct-restart", key=key)
    await ea.create_session()
    await admin.queue("acct-restart", order_command(command_id="survivor"))
    async with ea.websocket(server.ws_url) as ws:
        await ws.recv_type("OrderCommand")  # received, never acknowledged
        stopping = asyncio.create_task(asyncio.to_thread(server.stop))
        notice = await ws.recv_type("ShutdownNotice")
        assert notice["payload"]["reason"] == "server_shutdown"
        assert await ws.wait_closed() == 4004
    await stopping
    restarted = start_server(port=server.port)
    ea2 = EA(restarted.base_url, "acct-restart", key=key)
    await ea2.create_session()
    body = (await ea2.exchange([init_request()])).json()
    assert [
        m["payload"]["command_id"] for m in body["messages"] if m["type"] == "OrderCommand"
    ] == ["survivor"]


async def test_seq_is_strictly_increasing_and_never_reused_across_sessions(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    admin = Admin(server.base_url)
    key = await admin.provision("acct-seq")
    seen: list[int] = []
    for round_ in range(3):
        ea = EA(server.base_url, "acct-seq", key=key)
        await ea.create_session()
        await admin.queue("acct-seq", order_command(command_id=f"r{round_}"))
        messages = (
            await ea.exchange(
                [init_request(ack_seq=max(seen, default=0))], ack_seq=max(seen, default=0)
            )
        ).json()["messages"]
        seen.extend(m["seq"] for m in messages)
    assert seen == sorted(seen) and len(seen) == len(set(seen))


# ---- several gateway nodes on one Redis ----------------------------------------------


async def test_preemption_works_across_nodes(start_server: ServerFactory) -> None:
    node_a, node_b = start_server(), start_server()
    admin = Admin(node_a.base_url)
    key = await admin.provision("acct-nodes")
    first = EA(node_a.base_url, "acct-nodes", key=key)
    await first.create_session()
    async with first.websocket(node_a.ws_url) as ws:
        await ws.send(heartbeat())
        second = EA(node_b.base_url, "acct-nodes", key=key)
        await second.create_session()
        assert (await ws.recv_type("ShutdownNotice"))["payload"]["reason"] == "preempted"
        assert await ws.wait_closed() == 4001
    stale = EA(node_b.base_url, "acct-nodes", key=key, session=first.session)
    assert (await stale.exchange()).status_code == 410


async def test_approval_on_one_node_promotes_a_session_on_another(
    start_server: ServerFactory,
) -> None:
    node_a, node_b = start_server(), start_server()
    ea = EA(node_b.base_url, "acct-approve-x")
    await ea.create_session()
    async with ea.websocket(node_b.ws_url) as ws:
        await ws.send(init_request())
        admin = Admin(node_a.base_url)
        await admin.approve(await admin.pending_key_id("acct-approve-x"))
        assert (await ws.recv())["type"] == "SessionStateChange"
        assert (await ws.recv())["type"] == "InitAck"


async def test_command_queued_on_one_node_reaches_a_websocket_on_another_promptly(
    start_server: ServerFactory,
) -> None:
    node_a, node_b = start_server(), start_server()
    admin_a = Admin(node_a.base_url)
    ea = EA(node_b.base_url, "acct-cross", key=await admin_a.provision("acct-cross"))
    await assert_pushed_promptly(admin_a, ea, node_b.ws_url, "x-node", limit_s=0.5)


async def test_a_too_large_ack_seq_neither_drops_nor_hides_later_commands(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    admin = Admin(server.base_url)
    key = await admin.provision("acct-bogus-ack")
    await admin.queue("acct-bogus-ack", order_command(command_id="before"))
    ws_ea = EA(server.base_url, "acct-bogus-ack", key=key)
    await ws_ea.create_session()
    async with ws_ea.websocket(server.ws_url) as ws:
        await ws.send(init_request(ack_seq=10**12))  # nothing was ever handed out
        assert (await ws.recv_type("OrderCommand"))["payload"]["command_id"] == "before"
        await admin.queue("acct-bogus-ack", order_command(command_id="after"))
        assert (await ws.recv_type("OrderCommand"))["payload"]["command_id"] == "after"
    poll_ea = EA(server.base_url, "acct-bogus-ack", key=key)
    await poll_ea.create_session()
    await admin.queue("acct-bogus-ack", order_command(command_id="polled"))
    body = (await poll_ea.exchange(ack_seq=10**12)).json()
    assert "polled" in [
        m["payload"]["command_id"] for m in body["messages"] if m["type"] == "OrderCommand"
    ]
