"""What a WebSocket connection costs the gateway: one task, no idle timers or queues.

The real app runs in this process (embedded store, uvicorn on a free port), so the
test can count the event loop's tasks while EAs are connected and idle.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from gateway.app import create_app
from gateway.settings import Settings
from tests.e2e.harness import ADMIN_TOKEN, Admin, order_command
from tests.gateway.served import initialised_eas, served_in_this_loop

CONNECTIONS = 20


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    """The gateway (with its in-process copier) served by uvicorn in this event loop."""
    settings = Settings(admin_token=ADMIN_TOKEN, argon2_memory_kib=1024, argon2_time_cost=1)
    async with served_in_this_loop(create_app(settings)) as url:
        yield url


async def test_an_idle_connection_costs_one_task_and_events_reach_it(base_url: str) -> None:
    admin = Admin(base_url)
    async with contextlib.AsyncExitStack() as stack:
        connected = await initialised_eas(stack, base_url, [f"acc-{i}" for i in range(CONNECTIONS)])
        eas = [ea for ea, _ in connected]
        sockets = [ws for _, ws in connected]
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
