"""What a WebSocket connection costs the gateway: one task, no idle timers or queues.

The real app runs in this process (embedded store, uvicorn on a free port), so the
test can count the event loop's tasks while EAs are connected and idle.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import uvicorn

from gateway.app import create_app
from gateway.settings import Settings
from tests.e2e.harness import ADMIN_TOKEN, EA, Admin, WsEA, free_port, init_request, order_command

CONNECTIONS = 20


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    """The gateway (with its in-process copier) served by uvicorn in this event loop."""
    settings = Settings(admin_token=ADMIN_TOKEN, argon2_memory_kib=1024, argon2_time_cost=1)
    port = free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        ws_ping_interval=None,
        lifespan="on",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn exposes a flag, not an event)
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await serving


async def test_an_idle_connection_costs_one_task_and_events_reach_it(base_url: str) -> None:
    admin = Admin(base_url)
    eas = [EA(base_url, f"acc-{i}") for i in range(CONNECTIONS)]
    for ea in eas:
        ea.key = await admin.provision(ea.account_id)
        await ea.create_session()
    ws_url = base_url.replace("http", "ws", 1) + "/ea-gateway/v1/stream"
    async with contextlib.AsyncExitStack() as stack:
        sockets: list[WsEA] = []
        for ea in eas:
            ws = await stack.enter_async_context(ea.websocket(ws_url))
            await ws.send(init_request())
            await ws.recv_type("InitAck")
            sockets.append(ws)
        await asyncio.sleep(0.6)  # past the ready grace period of the last one

        per_connection, process_wide = _gateway_tasks()
        assert per_connection == CONNECTIONS  # uvicorn's ASGI task, which reads the socket
        assert process_wide < CONNECTIONS // 2  # event bus, monitor, copier...: not per EA

        queued = [await admin.queue(ea.account_id, order_command(i)) for i, ea in enumerate(eas)]
        received = [await ws.recv_type("OrderCommand") for ws in sockets]

    assert [m["seq"] for m in received] == [q["seq"] for q in queued]


def _gateway_tasks() -> tuple[int, int]:
    """(ASGI WebSocket tasks, every other task) of the loop, less the EAs' client tasks."""
    asgi = others = 0
    for task in asyncio.all_tasks():
        coro = task.get_coro()
        code = getattr(coro, "cr_code", None)
        filename = code.co_filename if code is not None else ""
        if "/websockets/" in filename and "/uvicorn/" not in filename:
            continue  # an EA's `websockets` client runs in this loop too
        if getattr(coro, "__qualname__", "") == "WebSocketsSansIOProtocol.run_asgi":
            asgi += 1
        else:
            others += 1
    return asgi, others
