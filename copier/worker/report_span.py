"""The ``copier.report`` span of one ExecutionReport, started only when it would be recorded.

It continues the trace of the intent's copy (the copy record's `trace_parent`)
and links to the span that received the report (the EA event stream entry's
traceparent). With ``COPYGATE_OTEL_EXPORTER=none`` no SDK tracer provider is
installed and every span is a no-op; starting one still read two traceparents,
built a link and an attribute dict and entered a context, about 15 µs per report
(docs/benchmarks.md, Round 7): `records_spans` tells that case apart and
`report_span` then starts nothing.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager

from opentelemetry import trace
from opentelemetry.trace import (
    Link,
    NoOpTracer,
    NoOpTracerProvider,
    ProxyTracer,
    ProxyTracerProvider,
    Span,
    SpanKind,
    Tracer,
)

from copier.worker.state import CopyRecord
from gateway.telemetry import context_from_traceparent
from schemas.messages import ExecutionReportPayload

__all__ = ["records_spans", "report_span"]

_NO_SPAN: AbstractContextManager[None] = contextlib.nullcontext()


def records_spans(tracer: Tracer) -> bool:
    """False when `tracer` can only make no-op spans (now: a proxy follows the global
    provider, which an SDK may be installed as later)."""
    if isinstance(tracer, NoOpTracer):
        return False
    if isinstance(tracer, ProxyTracer):
        provider = trace.get_tracer_provider()
        return not isinstance(provider, ProxyTracerProvider | NoOpTracerProvider)
    return True


def report_span(
    tracer: Tracer,
    follower: str,
    report: ExecutionReportPayload,
    copy: CopyRecord | None,
    report_trace: bytes | None,
) -> AbstractContextManager[Span | None]:
    """The report's ``copier.report`` span (made current), or nothing when not recorded."""
    if not records_spans(tracer):
        return _NO_SPAN
    received = context_from_traceparent(report_trace)
    links = [Link(trace.get_current_span(received).get_span_context())] if received else []
    return tracer.start_as_current_span(
        "copier.report",
        context=context_from_traceparent(copy.trace_parent if copy else None),
        kind=SpanKind.CONSUMER,
        links=links,
        attributes={
            "copygate.account_id": follower,
            "copygate.command_id": report.command_id,
            "copygate.status": report.status.value,
        },
    )
