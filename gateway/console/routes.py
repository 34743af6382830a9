"""The console's routes: the page, its static files and the admin endpoints it reads.

- ``GET /console``: the page (a jinja2 template; data comes from the API below);
- ``GET /console/static/...``: its script and stylesheet (shipped in the package);
- ``GET /admin/v1/accounts``: the accounts in the caller's scope;
- ``GET /admin/v1/health``: replication health in the caller's scope;
- ``GET /admin/v1/console/events``: Server-Sent Events, one console snapshot a
  second (``event: snapshot``), for as long as the client stays connected.

Every admin endpoint takes the same ``Authorization: Bearer`` token as the rest of
the admin API, so the page keeps the token in ``sessionStorage`` and sends it in
that header (never in a URL).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from gateway.auth.admin import AdminAuthenticator, AdminPrincipal
from gateway.console.feed import ConsoleFeed
from gateway.http_errors import json_response
from schemas.subscriptions import AllocationMode, SubscriptionStatus

__all__ = ["ConsoleRoutes", "console_routes"]

_HERE = Path(__file__).parent
#: Seconds between two snapshots of the event stream.
PUSH_INTERVAL_S = 1.0
#: The page loads only its own script and stylesheet, and talks only to this origin.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


class ConsoleRoutes:
    """Handlers of the console page and of the admin endpoints it adds."""

    def __init__(self, feed: ConsoleFeed, authenticator: AdminAuthenticator) -> None:
        self.feed = feed  #: snapshots per principal
        self.authenticator = authenticator  #: bearer token -> principal
        self.templates = Jinja2Templates(directory=_HERE / "templates")  #: the page
        self.closing = asyncio.Event()  #: set at shutdown: every event stream ends

    def close(self) -> None:
        """End every event stream (the server is shutting down; clients reconnect)."""
        self.closing.set()

    async def _principal(self, request: Request) -> AdminPrincipal:
        return await self.authenticator.authenticate(request.headers.get("authorization"))

    async def page(self, request: Request) -> Response:
        """`GET /console`."""
        return self.templates.TemplateResponse(
            request,
            "console.html",
            {
                "allocation_modes": [m.value for m in AllocationMode],
                "statuses": [s.value for s in SubscriptionStatus],
            },
            headers=_PAGE_HEADERS,
        )

    async def accounts(self, request: Request) -> Response:
        """`GET /admin/v1/accounts`: accounts in the caller's scope, by id."""
        principal = await self._principal(request)
        return json_response({"accounts": await self.feed.accounts(principal)})

    async def health(self, request: Request) -> Response:
        """`GET /admin/v1/health`: replication health in the caller's scope."""
        principal = await self._principal(request)
        return json_response(await self.feed.health(principal))

    async def events(self, request: Request) -> Response:
        """`GET /admin/v1/console/events`: a snapshot a second as Server-Sent Events."""
        principal = await self._principal(request)  # 401 before the stream starts
        first = await self.feed.snapshot(principal)

        async def stream() -> AsyncIterator[bytes]:
            snapshot = first
            while True:
                yield b"event: snapshot\ndata: " + orjson.dumps(snapshot) + b"\n\n"
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.closing.wait(), PUSH_INTERVAL_S)
                if self.closing.is_set() or await request.is_disconnected():
                    return
                snapshot = await self.feed.snapshot(principal)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )


def console_routes(routes: Callable[[], ConsoleRoutes]) -> list[BaseRoute]:
    """The console's routes; handlers are looked up on `routes()` at call time."""

    def call(name: str) -> Callable[[Request], object]:
        async def handler(request: Request) -> Response:
            response: Response = await getattr(routes(), name)(request)
            return response

        return handler

    return [
        Route("/console", call("page"), methods=["GET"]),
        Mount("/console/static", StaticFiles(directory=_HERE / "static"), name="console-static"),
        Route("/admin/v1/accounts", call("accounts"), methods=["GET"]),
        Route("/admin/v1/health", call("health"), methods=["GET"]),
        Route("/admin/v1/console/events", call("events"), methods=["GET"]),
    ]
