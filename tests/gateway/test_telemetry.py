"""Spans for session creation and each inbound message type; counters by state and reason."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracer

from gateway.app import create_app
from gateway.settings import Settings
from gateway.telemetry import Telemetry, configure_telemetry

ADMIN = {"Authorization": "Bearer t0ken"}


@pytest.fixture
def instruments() -> tuple[Telemetry, InMemorySpanExporter, InMemoryMetricReader]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    telemetry = Telemetry(tracer_provider.get_tracer("test"), meter_provider.get_meter("test"))
    return telemetry, spans, reader


@pytest.fixture
async def client(
    instruments: tuple[Telemetry, InMemorySpanExporter, InMemoryMetricReader],
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app in-process on the embedded store, lifespan included."""
    settings = Settings(admin_token="t0ken", argon2_memory_kib=8, argon2_time_cost=1)
    app = create_app(settings, telemetry=instruments[0])
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as test_client:
            yield test_client


def _metric_points(
    reader: InMemoryMetricReader, name: str
) -> dict[tuple[tuple[str, str], ...], int]:
    data = reader.get_metrics_data()
    points: dict[tuple[tuple[str, str], ...], int] = {}
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        key = tuple(sorted((k, str(v)) for k, v in point.attributes.items()))
                        points[key] = int(point.value)
    return points


async def test_session_creation_and_each_inbound_message_type_get_spans_and_counts(
    client: httpx.AsyncClient,
    instruments: tuple[Telemetry, InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    _, spans, reader = instruments
    key = (await client.post("/admin/v1/accounts/a-1/keys", headers=ADMIN)).json()["key"]
    created = await client.post(
        "/ea-gateway/v1/sessions",
        json={
            "account_id": "a-1",
            "auth_method": "account_session_key",
            "credentials": {"key": key},
        },
    )
    session = created.json()
    messages = [
        {"type": "InitRequest", "id": "m1", "ts": 1, "payload": {"ack_seq": 0}},
        {"type": "StatusHeartbeat", "id": "m2", "ts": 1, "payload": {"ack_seq": 0}},
        {"type": "Nope", "id": "m3", "ts": 1, "payload": {}},
    ]
    await client.post(
        f"/ea-gateway/v1/sessions/{session['session_id']}/exchange",
        headers={"Authorization": f"Bearer {session['session_token']}"},
        json={"messages": messages, "ack_seq": 0},
    )
    names = [span.name for span in spans.get_finished_spans()]
    assert "ea.session.create" in names
    assert {"ea.message InitRequest", "ea.message StatusHeartbeat", "ea.message invalid"} <= set(
        names
    )
    assert _metric_points(reader, "copygate.sessions.created") == {(("state", "authenticated"),): 1}
    assert _metric_points(reader, "copygate.messages.inbound")[(("type", "invalid"),)] == 1


async def test_closes_are_counted_by_reason(
    client: httpx.AsyncClient,
    instruments: tuple[Telemetry, InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    _, _, reader = instruments
    key = (await client.post("/admin/v1/accounts/a-2/keys", headers=ADMIN)).json()["key"]
    body = {"account_id": "a-2", "auth_method": "account_session_key", "credentials": {"key": key}}
    await client.post("/ea-gateway/v1/sessions", json=body)
    await client.post("/ea-gateway/v1/sessions", json=body)  # preempts the first
    assert _metric_points(reader, "copygate.sessions.closed") == {(("reason", "preempted"),): 1}


def test_heartbeats_are_all_counted_but_only_one_in_n_gets_a_span(
    instruments: tuple[Telemetry, InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    telemetry, spans, reader = instruments
    telemetry.heartbeat_span_every = 10

    for _ in range(25):
        with telemetry.message_span("websocket", "a-1", "StatusHeartbeat"):
            pass
    with telemetry.message_span("websocket", "a-1", "OrderIntent"):
        pass

    names = [span.name for span in spans.get_finished_spans()]
    assert names.count("ea.message StatusHeartbeat") == 3  # the 1st, 11th and 21st
    assert names.count("ea.message OrderIntent") == 1
    counted = _metric_points(reader, "copygate.messages.inbound")
    assert counted[(("type", "StatusHeartbeat"),)] == 25
    assert counted[(("type", "OrderIntent"),)] == 1


def test_a_message_span_starts_before_parsing_when_told(
    instruments: tuple[Telemetry, InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    telemetry, spans, _ = instruments

    with telemetry.message_span("poll", "a-1", None, start_time_ns=1_000):
        pass

    [span] = spans.get_finished_spans()
    assert span.name == "ea.message invalid" and span.start_time == 1_000
    assert span.attributes == {"copygate.transport": "poll", "copygate.account_id": "a-1"}


class _CountingNoOpTracer(NoOpTracer):
    """The API's no-op tracer, remembering every span it was asked to start."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def start_as_current_span(self, name: str, *args: Any, **kwargs: Any) -> Any:
        self.started.append(name)
        return super().start_as_current_span(name, *args, **kwargs)


def test_no_message_span_is_started_when_nothing_is_exported() -> None:
    tracer = _CountingNoOpTracer()
    reader = InMemoryMetricReader()
    telemetry = Telemetry(tracer, MeterProvider(metric_readers=[reader]).get_meter("test"))

    for kind in ("ExecutionReport", "OrderIntent", "StatusHeartbeat", None):
        with telemetry.message_span("websocket", "a-1", kind, start_time_ns=1_000) as span:
            assert span is None

    assert tracer.started == []
    counted = _metric_points(reader, "copygate.messages.inbound")  # still counted
    assert counted[(("type", "ExecutionReport"),)] == 1
    assert counted[(("type", "invalid"),)] == 1


def test_exporter_none_gives_the_no_op_tracer_and_any_other_a_recording_one() -> None:
    assert configure_telemetry("none").spans is False
    assert Telemetry(TracerProvider().get_tracer("t"), MeterProvider().get_meter("t")).spans
