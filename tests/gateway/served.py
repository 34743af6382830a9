"""The real gateway app served by uvicorn inside the test's event loop, and EAs on it.

For tests that must look at the process while real sockets are connected (tasks,
shutdown): the app, uvicorn and the EAs' `websockets` clients share one loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette

from tests.e2e.harness import EA, Admin, WsEA, free_port, init_request

__all__ = ["initialised_eas", "served_in_this_loop"]


@contextlib.asynccontextmanager
async def served_in_this_loop(app: Starlette) -> AsyncIterator[str]:
    """Serve `app` on a free port until the block ends; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app,
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
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving


async def initialised_eas(
    stack: contextlib.AsyncExitStack, base_url: str, accounts: list[str]
) -> list[tuple[EA, WsEA]]:
    """EAs with provisioned keys, each on a WebSocket (closed with `stack`) past InitAck."""
    admin = Admin(base_url)
    ws_url = base_url.replace("http", "ws", 1) + "/ea-gateway/v1/stream"
    connected: list[tuple[EA, WsEA]] = []
    for account in accounts:
        ea = EA(base_url, account)
        ea.key = await admin.provision(account)
        await ea.create_session()
        ws = await stack.enter_async_context(ea.websocket(ws_url))
        await ws.send(init_request())
        await ws.recv_type("InitAck")
        connected.append((ea, ws))
    return connected
