"""`GET /metrics` in the Prometheus text exposition format (and the JSON view).

Cheap at any number of sessions: counters are bumped where events happen
(`Telemetry`, `copier.metrics.CopyMetrics`, `gateway.store.redis_errors`), and a
scrape adds a fixed handful of O(1) Redis reads: the live-session counts the
session scripts keep (one HGETALL), the copier group's lag and pending count on
its two streams (XINFO GROUPS each) and the dead-letter stream's length (XLEN).
No scrape walks sessions or accounts.

Series (all prefixed ``copygate_``): ``sessions{state}`` (all nodes),
``websocket_connections`` (this node), ``sessions_created_total{state}``,
``sessions_closed_total{reason}``, ``sessions_promoted_total``,
``messages_inbound_total{type}``, ``copies_total{status}``,
``copy_latency_seconds{stage}`` (histogram of the copy records' latency split),
``copier_backlog{stream,measure}``
(``lag``: entries not yet read by the group; ``pending``: read, not acknowledged),
``copier_dead_letters``, ``redis_errors_total{kind}``, ``metrics_store_errors_total``.
"""

from __future__ import annotations

import logging
from collections.abc import Sized

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from redis import exceptions as rex

from copier.keys import CONSUMER_GROUP, CopierKeys
from gateway.errors import StoreError
from gateway.store.factory import StoreBundle
from gateway.store.redis_errors import RedisErrorCollector
from gateway.transport.handoff import LocalConnections

__all__ = ["CONTENT_TYPE_LATEST", "GatewayMetrics"]

_log = logging.getLogger("copygate.metrics")


class GatewayMetrics:
    """The store-backed gauges of one gateway process, on its telemetry's registry."""

    def __init__(
        self,
        registry: CollectorRegistry,
        store: StoreBundle,
        connections: Sized,
        handoffs: LocalConnections | None = None,
    ):
        self.registry = registry  #: everything `render` exposes
        self._store = store  #: read at each scrape (O(1) commands only)
        self._keys = CopierKeys.of(store.keys)  #: copier stream names
        self.sessions = Gauge(
            "copygate_sessions",
            "Live sessions of all nodes, by state",
            ["state"],
            registry=registry,
        )  #: from the store's counts hash
        websocket = Gauge(
            "copygate_websocket_connections",
            "EA WebSocket connections open on this node",
            registry=registry,
        )
        websocket.set_function(lambda: len(connections))
        if handoffs is not None:
            offers = Gauge(
                "copygate_local_handoff_offers",
                "Entries offered to this node's connections right after they were logged, "
                "by outcome (handed: written without a log read; refused: left to the read)",
                ["outcome"],
                registry=registry,
            )
            offers.labels("handed").set_function(lambda: handoffs.handed)
            offers.labels("refused").set_function(lambda: handoffs.offered - handoffs.handed)
        self.backlog = Gauge(
            "copygate_copier_backlog",
            "Copier consumer group backlog per stream: lag (unread) and pending (unacked)",
            ["stream", "measure"],
            registry=registry,
        )  #: XINFO GROUPS
        self.dead_letters = Gauge(
            "copygate_copier_dead_letters",
            "Entries in the copier's dead-letter stream",
            registry=registry,
        )  #: XLEN
        self.scrape_errors = Counter(
            "copygate_metrics_store_errors",
            "Scrapes whose store-backed gauges could not be refreshed",
            registry=registry,
        )  #: refresh failures (the gauges keep their last values)
        registry.register(RedisErrorCollector())

    async def refresh(self) -> None:
        """Read the store-backed gauges; a store failure is counted, never raised."""
        try:
            counts = await self._store.sessions.count_by_state()
            for state, count in counts.items():
                self.sessions.labels(state.value).set(count)
            keys = self._store.keys
            for name, stream_of in (
                ("intents", keys.intent_stream),
                ("ea_events", keys.ea_inbox_stream),
                ("fan_out", self._keys.fan_out_stream),
            ):  # summed over the streams' partitions (one on a single Redis)
                lag = pending = 0
                for n in range(keys.partition_count):
                    part_lag, part_pending = await self._group_backlog(stream_of(n))
                    lag, pending = lag + part_lag, pending + part_pending
                self.backlog.labels(name, "lag").set(lag)
                self.backlog.labels(name, "pending").set(pending)
            self.dead_letters.set(await self._store.redis.xlen(self._keys.dead_letters()))
        except (StoreError, rex.RedisError, OSError) as exc:
            self.scrape_errors.inc()
            _log.warning("metrics: store-backed gauges not refreshed: %s", exc)

    async def _group_backlog(self, stream: str) -> tuple[int, int]:
        try:
            groups = await self._store.redis.xinfo_groups(stream)
        except rex.ResponseError:  # no stream yet: nothing was ever published
            return 0, 0
        for group in groups:
            name = group.get("name")
            if name in (CONSUMER_GROUP, CONSUMER_GROUP.encode()):
                return int(group.get("lag") or 0), int(group.get("pending") or 0)
        return 0, 0

    async def render(self) -> bytes:
        """Refresh the store-backed gauges, then the whole registry in text format."""
        await self.refresh()
        return generate_latest(self.registry)
