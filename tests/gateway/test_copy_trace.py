"""One OpenTelemetry trace per copied trade: master's OrderIntent -> copier -> follower's report.

The gateway's ``ea.message OrderIntent`` span is the root; the intent stream entry
carries its context to the copier's ``copier.intent`` span; the copy record
carries that to ``copier.report``, which links to the gateway span that received
the follower's ExecutionReport.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.app import create_app
from gateway.settings import Settings
from gateway.telemetry import Telemetry
from tests.gateway.copy_flow import copy_one_trade


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def client(spans: InMemorySpanExporter) -> AsyncIterator[httpx.AsyncClient]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    telemetry = Telemetry(provider.get_tracer("test"), MeterProvider().get_meter("test"))
    settings = Settings(admin_token="t0ken", argon2_memory_kib=8, argon2_time_cost=1)
    app = create_app(settings, telemetry=telemetry)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as test_client:
            yield test_client


def _named(spans: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in spans.get_finished_spans() if s.name == name]


async def test_copied_trade_is_one_trace_from_master_intent_to_follower_report(
    client: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    _, _, command = await copy_one_trade(client)
    async with asyncio.timeout(10):
        while not _named(spans, "copier.report"):  # noqa: ASYNC110 (an exporter, no event)
            await asyncio.sleep(0.02)

    [intent] = _named(spans, "ea.message OrderIntent")
    [copier_intent] = _named(spans, "copier.intent")
    [copier_report] = _named(spans, "copier.report")
    [report] = _named(spans, "ea.message ExecutionReport")
    assert intent.parent is None
    assert copier_intent.context.trace_id == intent.context.trace_id
    assert copier_intent.parent is not None
    assert copier_intent.parent.span_id == intent.context.span_id
    assert copier_report.context.trace_id == intent.context.trace_id
    assert copier_report.parent is not None
    assert copier_report.parent.span_id == copier_intent.context.span_id
    assert [link.context.span_id for link in copier_report.links] == [report.context.span_id]
    assert copier_report.attributes is not None
    assert copier_report.attributes["copygate.command_id"] == command["payload"]["command_id"]
