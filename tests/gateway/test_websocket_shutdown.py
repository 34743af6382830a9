"""Graceful shutdown of the WebSocket pump: one ShutdownNotice each, in batches.

The real app runs in this process (embedded store, uvicorn on a free port) with
EAs connected over real sockets; the test calls the pump's `shutdown` itself, with
the session and delivery ports wrapped in a call-counting fake, so it can check
both what every EA saw and how many store calls closing them all took.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
import websockets
from starlette.applications import Starlette

from gateway.app import GatewayRuntime, create_app
from gateway.settings import Settings
from tests.e2e.harness import ADMIN_TOKEN, WsEA
from tests.gateway.counting import Counted, Unreachable
from tests.gateway.served import initialised_eas, served_in_this_loop

CONNECTIONS = 30


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, Starlette]]:
    """The gateway served by uvicorn in this event loop: (base URL, app)."""
    settings = Settings(admin_token=ADMIN_TOKEN, argon2_memory_kib=1024, argon2_time_cost=1)
    app = create_app(settings)
    async with served_in_this_loop(app) as base_url:
        yield base_url, app


async def _everything_until_closed(ws: WsEA) -> tuple[list[dict[str, Any]], int | None]:
    """Every message the EA receives until the server closes the socket, and the code."""
    messages: list[dict[str, Any]] = []
    with contextlib.suppress(websockets.ConnectionClosed):
        async with asyncio.timeout(10):
            while True:
                messages.append(await ws.recv(timeout=10))
    return messages, ws.ws.close_code


async def test_every_ea_gets_one_numbered_notice_then_4004_and_its_session_is_closed(
    served: tuple[str, Starlette],
) -> None:
    base_url, app = served
    runtime: GatewayRuntime = app.state.runtime
    calls: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        connected = await initialised_eas(stack, base_url, [f"acc-{i}" for i in range(CONNECTIONS)])
        eas = [ea for ea, _ in connected]
        sockets = [ws for _, ws in connected]
        real = runtime.service.store
        runtime.service.store = replace(
            real,
            sessions=Counted("sessions", real.sessions, calls),
            delivery=Counted("delivery", real.delivery, calls),
        )

        await runtime.websocket.shutdown(1.0)

        seen = await asyncio.gather(*(_everything_until_closed(ws) for ws in sockets))
        runtime.service.store = real

    for messages, code in seen:
        notices = [m for m in messages if m["type"] == "ShutdownNotice"]
        assert len(notices) == 1
        assert notices[0]["payload"] == {"reason": "server_shutdown", "reconnect_after_s": 1.0}
        assert isinstance(notices[0]["seq"], int) and notices[0]["seq"] > 0
        assert messages[-1] is notices[0]  # nothing after it
        assert code == 4004
    for ea in eas:
        record = await runtime.store.sessions.get_session(ea.session["session_id"])
        assert record is not None
        assert (record.state.value, record.closed_reason) == ("closed", "server_shutdown")
    # one close_many script and one numbering round for all of them, not one per EA
    # (a flush round already under way when the shutdown began may add one more read)
    assert calls.count("sessions.close_many") == 1
    assert 1 <= calls.count("delivery.read_many") <= 2
    assert set(calls) == {"delivery.read_many", "sessions.close_many"}
    assert runtime.telemetry.counts["sessions_closed_server_shutdown"] == CONNECTIONS


async def test_a_second_shutdown_sends_nothing_more(served: tuple[str, Starlette]) -> None:
    base_url, app = served
    runtime: GatewayRuntime = app.state.runtime
    async with contextlib.AsyncExitStack() as stack:
        [(_, ws)] = await initialised_eas(stack, base_url, ["acc-once"])

        await runtime.websocket.shutdown(1.0)
        await runtime.websocket.shutdown(1.0)

        messages, code = await _everything_until_closed(ws)

    assert [m["type"] for m in messages] == ["ShutdownNotice"]
    assert code == 4004


async def test_with_the_store_down_each_ea_still_gets_one_notice_and_4004(
    served: tuple[str, Starlette],
) -> None:
    base_url, app = served
    runtime: GatewayRuntime = app.state.runtime
    async with contextlib.AsyncExitStack() as stack:
        [(_, ws)] = await initialised_eas(stack, base_url, ["acc-down"])
        real = runtime.service.store
        runtime.service.store = replace(
            real, sessions=Unreachable(real.sessions), delivery=Unreachable(real.delivery)
        )

        await runtime.websocket.shutdown(1.0)

        messages, code = await _everything_until_closed(ws)
        runtime.service.store = real

    [notice] = messages
    assert notice["type"] == "ShutdownNotice"
    assert notice["payload"] == {"reason": "server_shutdown", "reconnect_after_s": 1.0}
    assert "seq" not in notice  # none can be handed out without the store
    assert code == 4004
