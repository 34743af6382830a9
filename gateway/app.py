"""The ASGI application: routes, lifespan (store, monitor) and error handling."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from copier.backlog import read_backlog
from copier.runtime import CopierRuntime, copier_routes
from gateway.admin.routes import AdminRoutes
from gateway.admin.rules import SubscriptionLinks
from gateway.auth.admin import AdminAuthenticator
from gateway.auth.hashing import SecretHasher
from gateway.auth.session_key import AccountSessionKeyStrategy
from gateway.auth.strategies import AuthRegistry
from gateway.backlog_monitor import BacklogMonitor
from gateway.clock import Clock, system_clock_ms
from gateway.console.feed import ConsoleFeed
from gateway.console.routes import ConsoleRoutes, console_routes
from gateway.heartbeat import HeartbeatMonitor
from gateway.http_errors import exception_handlers, json_response
from gateway.metrics import CONTENT_TYPE_LATEST, GatewayMetrics
from gateway.sessions import SessionService
from gateway.settings import Settings
from gateway.specs import spec_routes
from gateway.store.factory import StoreBundle, open_store
from gateway.telemetry import Telemetry, configure_telemetry
from gateway.transport.poll import SessionRoutes
from gateway.transport.websocket import WebSocketPump

__all__ = ["GatewayRuntime", "create_app"]

_log = logging.getLogger("copygate.app")

#: `reconnect_after_s` announced to EAs when this process shuts down.
SHUTDOWN_RECONNECT_AFTER_S = 1.0
#: The EA WebSocket endpoint (served ahead of Starlette's middleware and router).
STREAM_PATH = "/ea-gateway/v1/stream"


class GatewayRuntime:
    """Everything a running gateway process holds, built in the lifespan."""

    def __init__(
        self,
        settings: Settings,
        store: StoreBundle,
        clock: Clock,
        telemetry: Telemetry | None = None,
        links: SubscriptionLinks | None = None,
    ) -> None:
        self.settings = settings  #: process settings
        self.store = store  #: store ports
        self.telemetry = telemetry or configure_telemetry(settings.otel_exporter)  #: instruments
        self.hasher = SecretHasher(settings)  #: argon2id off the event loop
        self.key_strategy = AccountSessionKeyStrategy.from_settings(
            store.key_store, self.hasher, settings
        )  #: account_session_key
        self.auth = AuthRegistry([self.key_strategy])  #: strategies by auth_method
        self.service = SessionService(
            settings=settings, store=store, auth=self.auth, telemetry=self.telemetry, clock=clock
        )  #: sessions
        self.connections: set[Any] = set()  #: live WebSocket connections of this node
        self.websocket = WebSocketPump(self.service, self.connections)  #: WS endpoint
        self.session_routes = SessionRoutes(self.service)  #: EA REST endpoints
        self.admin = AdminRoutes(
            self.service,
            AdminAuthenticator.from_settings(store.admin_tokens, settings),
            self.key_strategy,
            links,
        )  #: admin endpoints
        self.metrics = GatewayMetrics(
            self.telemetry.registry, store, self.connections, self.websocket.local
        )  #: GET /metrics
        self.monitor = HeartbeatMonitor(
            store.sessions, self.telemetry, clock, idle_check_s=settings.heartbeat_timeout_s
        )  #: rule 3
        self.backlog = BacklogMonitor(
            store.redis,
            store.keys,
            settings.admission_limits,
            clock,
            refresh_ms=settings.intent_backlog_refresh_ms,
            trim_interval_ms=settings.stream_trim_interval_ms,
            registry=self.telemetry.registry,
        )  #: intent admission from the cached copier backlog, stream trimming
        self.service.admission = self.backlog

    async def aclose(self) -> None:
        """Tell connected EAs to come back, stop background work, close the store."""
        await self.websocket.shutdown(SHUTDOWN_RECONNECT_AFTER_S)
        await self.monitor.stop()
        await self.backlog.stop()
        self.hasher.close()
        await self.store.aclose()


def _routes(runtime: Callable[[], GatewayRuntime], settings: Settings) -> list[BaseRoute]:
    async def healthz(request: Request) -> Response:
        try:
            rt = runtime()
        except KeyError:
            return json_response({"status": "starting"}, status=503)
        return json_response(
            {
                "status": "ok",
                "node_id": settings.node_id,
                "store": "embedded" if rt.store.embedded else "redis",
            }
        )

    async def metrics(request: Request) -> Response:
        rt = runtime()
        return Response(await rt.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    async def metrics_json(request: Request) -> Response:
        rt = runtime()
        by_state = {
            state.value: count
            for state, count in (await rt.store.sessions.count_by_state()).items()
        }
        return json_response(
            {
                "node_id": settings.node_id,
                "sessions_live": by_state,
                "websocket_connections": len(rt.connections),
                "counters": dict(rt.telemetry.counts),
                "copier_backlog": (
                    await read_backlog(rt.store.redis, rt.store.keys, system_clock_ms())
                ).as_dict(),
            }
        )

    def ea(name: str) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            response: Response = await getattr(runtime().session_routes, name)(request)
            return response

        return handler

    def admin(name: str) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            response: Response = await getattr(runtime().admin, name)(request)
            return response

        return handler

    async def stream(websocket: WebSocket) -> None:
        await runtime().websocket(websocket)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/metrics.json", metrics_json, methods=["GET"]),
        Route("/ea-gateway/v1/sessions", ea("create"), methods=["POST"]),
        Route("/ea-gateway/v1/sessions/{session_id}", ea("delete"), methods=["DELETE"]),
        Route("/ea-gateway/v1/sessions/{session_id}/close", ea("delete"), methods=["POST"]),
        Route("/ea-gateway/v1/sessions/{session_id}/exchange", ea("exchange"), methods=["POST"]),
        WebSocketRoute(STREAM_PATH, stream),
        Route("/admin/v1/keys", admin("list_keys"), methods=["GET"]),
        Route("/admin/v1/keys/{key_id}/{decision}", admin("decide_key"), methods=["POST"]),
        Route("/admin/v1/accounts/{account_id}/keys", admin("provision_key"), methods=["POST"]),
        Route("/admin/v1/accounts/{account_id}", admin("put_account"), methods=["PUT"]),
        Route("/admin/v1/accounts/{account_id}", admin("get_account"), methods=["GET"]),
        Route("/admin/v1/accounts/{account_id}/messages", admin("queue_message"), methods=["POST"]),
        Route("/admin/v1/sessions", admin("list_sessions"), methods=["GET"]),
        Route("/admin/v1/sessions/{session_id}", admin("close_session"), methods=["DELETE"]),
        Route(
            "/admin/v1/tenants/{tenant_id}/tokens", admin("issue_tenant_token"), methods=["POST"]
        ),
        Route(
            "/admin/v1/tenants/{tenant_id}/tokens/{token_id}",
            admin("revoke_tenant_token"),
            methods=["DELETE"],
        ),
    ]


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock = system_clock_ms,
    telemetry: Telemetry | None = None,
) -> Starlette:
    """Build the gateway application; state is opened in the lifespan.

    `telemetry` replaces the instruments built from `settings.otel_exporter` (tests
    pass in-memory exporters).
    """
    settings = settings or Settings()
    holder: dict[str, GatewayRuntime] = {}
    copier: dict[str, CopierRuntime] = {}  # the copier half (worker + routes), see copier.runtime
    console: dict[str, ConsoleRoutes] = {}  # the web console, see gateway.console

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = await open_store(settings)
        instruments = telemetry or configure_telemetry(settings.otel_exporter)
        copier["runtime"] = CopierRuntime(
            store, settings, clock, registry=instruments.registry, tracer=instruments.tracer
        )  # wraps store.delivery first
        rt = GatewayRuntime(
            settings, store, clock, instruments, links=copier["runtime"].routes.subscriptions
        )
        holder["runtime"] = rt
        # the in-process copier hands what it logs straight to this node's connections
        copier["runtime"].delivery_times.local = rt.websocket.local
        console["routes"] = ConsoleRoutes(
            ConsoleFeed(rt.service, copier["runtime"].routes), rt.admin.authenticator
        )
        app.state.console = console["routes"]
        app.state.runtime = rt
        if settings.auth_pepper is None and not store.embedded:
            _log.warning(
                "COPYGATE_AUTH_PEPPER is not set: the re-authentication fast path "
                "will not survive a restart and is not shared between nodes"
            )
        rt.monitor.start()
        rt.backlog.start()
        copier["runtime"].start()
        _log.info(
            "gateway %s ready (%s store)",
            settings.node_id,
            "embedded" if store.embedded else "redis",
        )
        try:
            yield
        finally:
            await copier["runtime"].stop()
            await rt.aclose()

    return _GatewayApp(
        routes=_routes(lambda: holder["runtime"], settings)
        + copier_routes(lambda: copier["runtime"])
        + spec_routes()
        + console_routes(lambda: console["routes"]),
        lifespan=lifespan,
        exception_handlers=exception_handlers(),
    )


class _GatewayApp(Starlette):
    """Starlette, with the EA stream dispatched straight to the WebSocket pump.

    An idle EA connection lives for hours inside its ASGI call: through Starlette's
    middleware stack, router and exception wrappers it keeps about ten suspended
    coroutine frames and their closures (≈ 4 KiB per connection, see
    docs/benchmarks.md). None of them does anything for this endpoint (the pump
    handles its own errors and HTTP error handlers never answer a WebSocket), so
    the stream skips them; the route stays in the table for anything else.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == STREAM_PATH:
            runtime: GatewayRuntime = self.state.runtime
            await runtime.websocket(WebSocket(scope, receive, send))
            return
        await super().__call__(scope, receive, send)
