"""Per-report spans are started only when a tracer would record them."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import NoOpTracer

from copier.worker.report_span import records_spans


def test_a_tracer_from_an_sdk_provider_records_spans() -> None:
    assert records_spans(TracerProvider().get_tracer("copier"))


def test_a_no_op_tracer_records_nothing() -> None:
    assert not records_spans(NoOpTracer())


def test_the_global_tracer_records_nothing_while_no_sdk_provider_is_installed() -> None:
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)  # the test process
    assert not records_spans(trace.get_tracer("copygate.copier"))
