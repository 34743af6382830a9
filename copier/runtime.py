"""The copier inside a process: its worker(s), its admin routes, the delivery hook.

`copygate serve` builds one `CopierRuntime` in the gateway's lifespan (right
after the store opens) and stops it before the store closes; `copygate copier`
runs `run_standalone` with ``--workers N`` consumers in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

from opentelemetry.trace import Tracer
from prometheus_client import CollectorRegistry, start_http_server
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from copier.api import CopierRoutes
from copier.delivery_hook import DeliveryTimestamps
from copier.keys import CopierKeys
from copier.metrics import CopyMetrics
from copier.settings import CopierSettings
from copier.worker import CopierWorker
from gateway.auth.admin import AdminAuthenticator
from gateway.clock import Clock, system_clock_ms
from gateway.gc_tuning import tune_gc as tune_process_gc
from gateway.settings import Settings
from gateway.store.factory import StoreBundle, open_store
from gateway.store.redis_errors import RedisErrorCollector

__all__ = ["CopierRuntime", "copier_routes", "run_standalone", "tune_gc"]

_log = logging.getLogger("copygate.copier")


class CopierRuntime:
    """What the copier holds in a gateway process."""

    def __init__(
        self,
        store: StoreBundle,
        settings: Settings,
        clock: Clock = system_clock_ms,
        copier_settings: CopierSettings | None = None,
        registry: CollectorRegistry | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        keys = CopierKeys.of(store.keys)
        if not isinstance(store.delivery, DeliveryTimestamps):
            store.delivery = DeliveryTimestamps(
                store.delivery, store.redis, keys, clock, store.keys.ea_inbox_stream()
            )
        self.delivery_times: DeliveryTimestamps = store.delivery  #: the hook installed above
        self.settings = copier_settings or CopierSettings()  #: worker settings
        self.metrics = (
            CopyMetrics(registry) if registry is not None else None
        )  #: copy outcomes and latencies on the process's /metrics
        self.worker = CopierWorker(
            store, self.settings, clock=clock, metrics=self.metrics, tracer=tracer
        )  #: the in-process worker
        self.routes = CopierRoutes(
            store.redis,
            keys,
            self.worker.follower_store,
            store.accounts,
            AdminAuthenticator.from_settings(store.admin_tokens, settings),
            clock,
        )  #: admin endpoints

    def start(self) -> None:
        """Start the in-process worker unless ``COPYGATE_COPIER_IN_PROCESS=false``."""
        if self.settings.in_process:
            self.worker.start()
        else:
            _log.info("in-process copier disabled; run `copygate copier`")

    async def stop(self) -> None:
        """Stop the worker and let delivery-time writes finish (before the store closes)."""
        await self.worker.stop()
        await self.delivery_times.settled()


def copier_routes(runtime: Callable[[], CopierRuntime]) -> list[BaseRoute]:
    """The copier's admin routes; handlers are looked up on the runtime at call time."""

    def handler(name: str) -> Callable[[Request], Awaitable[Response]]:
        async def call(request: Request) -> Response:
            response: Response = await getattr(runtime().routes, name)(request)
            return response

        return call

    subscription = "/admin/v1/accounts/{follower_id}/subscriptions/{master_id}"
    return [
        Route(subscription, handler("put_subscription"), methods=["PUT"]),
        Route(subscription, handler("get_subscription"), methods=["GET"]),
        Route(subscription, handler("delete_subscription"), methods=["DELETE"]),
        Route(
            "/admin/v1/accounts/{follower_id}/subscriptions",
            handler("list_subscriptions"),
            methods=["GET"],
        ),
        Route("/admin/v1/accounts/{follower_id}/copies", handler("list_copies"), methods=["GET"]),
        Route("/admin/v1/audit", handler("audit"), methods=["GET"]),
        Route("/admin/v1/copier/dead-letters", handler("dead_letters"), methods=["GET"]),
        Route("/admin/v1/copier/backlog", handler("backlog"), methods=["GET"]),
    ]


def tune_gc(copier_settings: CopierSettings) -> None:
    """Set up the garbage collector of a process that runs only copier workers.

    Freezes what is alive now (modules, settings: never collected again) and
    raises the generation-0 threshold to ``standalone_gc_threshold`` (see
    `CopierSettings`); 0 changes nothing.
    """
    tune_process_gc(copier_settings.standalone_gc_threshold)


async def run_standalone(
    settings: Settings,
    workers: int,
    copier_settings: CopierSettings | None = None,
    *,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
) -> None:
    """Run `workers` consumers in this process until SIGINT/SIGTERM.

    With `metrics_port`, the workers' copy outcomes and latencies (and the store
    edge's Redis errors) are served in the Prometheus format on that port.

    Raises:
        SystemExit: no ``COPYGATE_REDIS_URL`` (a standalone copier needs a shared store).
    """
    if not settings.shared_store:
        raise SystemExit(
            "copygate copier needs COPYGATE_REDIS_URL or COPYGATE_REDIS_SENTINELS (a shared Redis)"
        )
    store = await open_store(settings)
    copier_settings = copier_settings or CopierSettings()
    tune_gc(copier_settings)
    metrics = None
    if metrics_port is not None:
        registry = CollectorRegistry()
        metrics = CopyMetrics(registry)
        registry.register(RedisErrorCollector())
        start_http_server(metrics_port, metrics_host, registry=registry)
        _log.info("copier: metrics on http://%s:%d/metrics", metrics_host, metrics_port)
    running = [CopierWorker(store, copier_settings, metrics=metrics) for _ in range(workers)]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    for worker in running:
        worker.start()
    _log.info("copier: %d worker(s) running: %s", workers, ", ".join(w.name for w in running))
    try:
        await stop.wait()
    finally:
        for worker in running:
            await worker.stop()
        await store.aclose()
