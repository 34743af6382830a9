"""The gateway (with its copier) served in this process, and its admin API as a client."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import uvicorn

from gateway.app import create_app
from gateway.settings import Settings

__all__ = ["AdminClient", "embedded_gateway", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class _InProcessServer(uvicorn.Server):
    """uvicorn without its own signal handling: the demo owns Ctrl-C."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def embedded_gateway(settings: Settings, host: str, port: int) -> AsyncIterator[str]:
    """Serve `copygate` (gateway + in-process copier) on host:port; yields the base URL."""
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ws="websockets-sansio",
        ws_max_size=settings.max_frame_bytes,
        ws_per_message_deflate=False,
        ws_ping_interval=None,
        lifespan="on",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=3,
    )
    server = _InProcessServer(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the gateway did not start")
            await asyncio.sleep(0.02)
        yield f"http://{host}:{port}"
    finally:
        runtime = getattr(app.state, "runtime", None)
        if runtime is not None:  # tell EAs goodbye (ShutdownNotice + 4004) first
            with contextlib.suppress(Exception):
                await runtime.websocket.shutdown(1.0)
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task


class AdminClient:
    """The admin REST API of the running gateway (the same calls an operator makes)."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, token: str) -> None:
        self.http = http  #: shared client
        self.base_url = base_url  #: gateway URL
        self.headers = {"Authorization": f"Bearer {token}"}  #: admin bearer

    async def call(self, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        """One request; raises RuntimeError on an unexpected status."""
        response = await self.http.request(
            method, self.base_url + path, headers=self.headers, timeout=15, **kwargs
        )
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    async def put_account(self, account_id: str, role: str, tenant: str, label: str) -> None:
        """Create or update an account."""
        body = {"tenant_id": tenant, "role": role, "label": label}
        await self.call("PUT", f"/admin/v1/accounts/{account_id}", 200, json=body)

    async def provision_key(self, account_id: str) -> str:
        """A pre-shared session key for the account."""
        body = await self.call("POST", f"/admin/v1/accounts/{account_id}/keys", 201)
        return str(body["key"])

    async def subscribe(self, follower: str, master: str, settings: dict[str, Any]) -> None:
        """Create or replace a subscription."""
        path = f"/admin/v1/accounts/{follower}/subscriptions/{master}"
        await self.call("PUT", path, 200, json=settings)

    async def copies(self, follower: str, limit: int = 1000) -> list[dict[str, Any]]:
        """The follower's latest copy records, newest first."""
        body = await self.call("GET", f"/admin/v1/accounts/{follower}/copies?limit={limit}", 200)
        rows: list[dict[str, Any]] = body["copies"]
        return rows

    async def sessions(self) -> list[dict[str, Any]]:
        """Live sessions."""
        body = await self.call("GET", "/admin/v1/sessions", 200)
        rows: list[dict[str, Any]] = body["sessions"]
        return rows
