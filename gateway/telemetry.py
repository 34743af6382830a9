"""OpenTelemetry at the edges: spans for session creation and inbound messages,
counters for sessions by state and closes by reason.

Every inbound message is counted by type, but heartbeats, the bulk of the traffic
(10,000 EAs every 5 s), get a span only one time in `heartbeat_span_every`: a span
per heartbeat cost more CPU than the heartbeat's own work. Trade messages
(`OrderIntent`, `ExecutionReport`, ...) always get one.

The exporter is chosen by `COPYGATE_OTEL_EXPORTER` (none, console, otlp); the
standard `OTEL_EXPORTER_OTLP_*` variables configure the OTLP exporter. With
`none`, the API's no-op providers are used, and the gateway's tracer is the no-op
one: no per-message span is even started (`Telemetry.spans`).
"""

from __future__ import annotations

import logging
from collections import Counter
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.metrics import Meter
from opentelemetry.trace import NoOpTracer, Span, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import CollectorRegistry
from prometheus_client import Counter as PromCounter

__all__ = [
    "HEARTBEAT_SPAN_EVERY",
    "Telemetry",
    "configure_telemetry",
    "context_from_traceparent",
    "current_traceparent",
]

_log = logging.getLogger("copygate.telemetry")

#: One heartbeat in this many gets a span (the first one always does).
HEARTBEAT_SPAN_EVERY = 100

_SAMPLED_TYPES = frozenset({"StatusHeartbeat"})
_NO_SPAN: AbstractContextManager[None] = nullcontext()


class _TwinCounter:
    """An OpenTelemetry counter and its Prometheus twin (dots become underscores).

    Prometheus names the series ``<name>_total``, with at most one label.
    """

    def __init__(
        self,
        meter: Meter,
        registry: CollectorRegistry,
        name: str,
        description: str,
        label: str | None = None,
    ) -> None:
        self.label = label  #: the one label, if any
        by = f", by {label}" if label else ""
        self.otel = meter.create_counter(name, description=description + by)  #: OTel instrument
        self.prometheus = PromCounter(
            name.replace(".", "_"),
            f"{description} on this node{by}",
            [label] if label else [],
            registry=registry,
        )  #: Prometheus counter on the process registry

    def add(self, value: str | None = None) -> None:
        """Count one event (with `value` for the label)."""
        if self.label is None or value is None:
            self.otel.add(1)
            self.prometheus.inc()
        else:
            self.otel.add(1, {self.label: value})
            self.prometheus.labels(value).inc()


class Telemetry:
    """The gateway's instruments: OpenTelemetry, Prometheus (`registry`) and plain counts.

    Every Prometheus series is a counter bumped where the event happens, so a
    scrape reads numbers and never walks sessions (see `gateway.metrics`).
    """

    def __init__(
        self,
        tracer: Tracer,
        meter: Meter,
        *,
        heartbeat_span_every: int = HEARTBEAT_SPAN_EVERY,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.tracer = tracer  #: span factory
        #: False for the API's no-op tracer (exporter `none`): no message span is
        #: started at all. Such a span is dropped anyway, but starting one (a context
        #: attach and detach) cost about 4 us per message, a tenth of the WebSocket
        #: ingest path (docs/benchmarks.md, round 7).
        self.spans = not isinstance(tracer, NoOpTracer)
        self.registry = registry or CollectorRegistry()  #: what `GET /metrics` exposes
        self.heartbeat_span_every = heartbeat_span_every  #: one heartbeat in this many is spanned
        self._heartbeats = 0  #: heartbeats seen, for sampling
        self._attributes: dict[str, dict[str, str]] = {}  #: message type -> counter attributes
        self._created = _TwinCounter(
            meter, self.registry, "copygate.sessions.created", "sessions created", "state"
        )  #: by initial state
        self._closed = _TwinCounter(
            meter, self.registry, "copygate.sessions.closed", "sessions closed", "reason"
        )  #: by reason
        self._promoted = _TwinCounter(
            meter, self.registry, "copygate.sessions.promoted", "pending sessions promoted"
        )  #: promotions
        self._messages = _TwinCounter(
            meter, self.registry, "copygate.messages.inbound", "inbound EA messages", "type"
        )  #: by type
        self._message_children: dict[str, Any] = {}  #: type -> bound Prometheus child
        self.counts: Counter[str] = Counter()  #: local totals, exposed on /metrics.json

    def session_created(self, state: str) -> None:
        """Count a creation in `state`."""
        self._created.add(state)
        self.counts[f"sessions_created_{state}"] += 1

    def session_promoted(self) -> None:
        """Count a promotion."""
        self._promoted.add()
        self.counts["sessions_promoted"] += 1

    def session_closed(self, reason: str) -> None:
        """Count a close for `reason`."""
        self._closed.add(reason)
        self.counts[f"sessions_closed_{reason}"] += 1

    def count_message(self, message_type: str | None) -> str:
        """Count one inbound message (no span); returns its kind (``invalid``: not an
        envelope)."""
        kind = message_type or "invalid"
        attributes = self._attributes.get(kind)
        if attributes is None:
            attributes = self._attributes.setdefault(kind, {"type": kind})
            self._message_children[kind] = self._messages.prometheus.labels(kind)
        self._messages.otel.add(1, attributes)
        self._message_children[kind].inc()
        return kind

    def message_span(
        self,
        transport: str,
        account_id: str,
        message_type: str | None,
        *,
        start_time_ns: int | None = None,
    ) -> AbstractContextManager[Span | None]:
        """Count one inbound message and give the span around its handling (or none).

        The span is named ``ea.message <type>`` (``invalid`` for a frame that was not
        a valid envelope) and starts at `start_time_ns` (before parsing) when given.
        Heartbeats are sampled (see `heartbeat_span_every`); everything else is
        spanned.
        """
        kind = self.count_message(message_type)
        if kind in _SAMPLED_TYPES:
            self._heartbeats += 1
            if (self._heartbeats - 1) % self.heartbeat_span_every:
                return _NO_SPAN
        if not self.spans:
            return _NO_SPAN
        return self.tracer.start_as_current_span(
            f"ea.message {kind}",
            attributes={"copygate.transport": transport, "copygate.account_id": account_id},
            start_time=start_time_ns,
        )


_PROPAGATOR = TraceContextTextMapPropagator()


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span (None when nothing is traced).

    Stream entries carry it from the gateway to the copier, copy records from the
    copier's intent span to its report span: one trace per copied trade.
    """
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def context_from_traceparent(traceparent: str | bytes | None) -> Context | None:
    """The parent context a ``traceparent`` names (None for none or garbage)."""
    if not traceparent:
        return None
    value = traceparent.decode() if isinstance(traceparent, bytes) else traceparent
    context = _PROPAGATOR.extract({"traceparent": value})
    return context if trace.get_current_span(context).get_span_context().is_valid else None


def configure_telemetry(exporter: str, service_name: str = "copygate") -> Telemetry:
    """Install SDK providers with the chosen exporter (or none) and build the instruments."""
    if exporter != "none":
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import (
            ConsoleMetricExporter,
            MetricExporter,
            PeriodicExportingMetricReader,
        )
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SpanExporter,
        )

        span_exporter: SpanExporter
        metric_exporter: MetricExporter
        if exporter == "otlp":
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                OTLPMetricExporter,
            )
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            span_exporter, metric_exporter = OTLPSpanExporter(), OTLPMetricExporter()
        else:
            span_exporter, metric_exporter = ConsoleSpanExporter(), ConsoleMetricExporter()
        resource = Resource.create({"service.name": service_name})
        tracer_provider = TracerProvider(resource=resource)
        tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
        trace.set_tracer_provider(tracer_provider)
        reader = PeriodicExportingMetricReader(metric_exporter)
        metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[reader]))
        _log.info("telemetry exporter: %s", exporter)
        tracer = trace.get_tracer("copygate.gateway")
    else:
        tracer = NoOpTracer()  # nothing is exported: no span is started (`Telemetry.spans`)
    return Telemetry(tracer, metrics.get_meter("copygate.gateway"))
