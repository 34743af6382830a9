"""Whether the copier's spans would be recorded at all (per-report spans are skipped if not).

With ``COPYGATE_OTEL_EXPORTER=none`` no SDK tracer provider is installed and
every span is a no-op; starting one still reads two traceparents, builds a
link and an attribute dict and enters a context: about a tenth of the report
path's CPU, for nothing. `records_spans` tells that case apart (a tracer from an
SDK provider, or the global proxy once one is installed, records).
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import (
    NoOpTracer,
    NoOpTracerProvider,
    ProxyTracer,
    ProxyTracerProvider,
    Tracer,
)

__all__ = ["records_spans"]


def records_spans(tracer: Tracer) -> bool:
    """False when `tracer` can only make no-op spans (now: a proxy follows the global
    provider, which an SDK may be installed as later)."""
    if isinstance(tracer, NoOpTracer):
        return False
    if isinstance(tracer, ProxyTracer):
        provider = trace.get_tracer_provider()
        return not isinstance(provider, ProxyTracerProvider | NoOpTracerProvider)
    return True
