"""`GET /metrics` speaks Prometheus: sessions, messages, copies, latency, backlog, errors."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import create_app
from gateway.settings import Settings
from tests.gateway.copy_flow import ADMIN, copy_one_trade

DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana" / "copygate-dashboard.json"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The real app in-process on the embedded store, lifespan (and copier) included."""
    settings = Settings(admin_token="t0ken", argon2_memory_kib=8, argon2_time_cost=1)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as test_client:
            yield test_client


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


async def test_metrics_show_sessions_messages_copies_and_latency_after_a_copied_trade(
    client: httpx.AsyncClient,
) -> None:
    await copy_one_trade(client)
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    async with asyncio.timeout(10):
        total = ("copygate_copy_latency_seconds_count", (("stage", "total"),))
        while samples.get(total) != 1:
            await asyncio.sleep(0.05)
            samples = await scrape(client)

    assert samples[("copygate_sessions", (("state", "authenticated"),))] == 2
    assert samples[("copygate_sessions", (("state", "pending"),))] == 0
    assert samples[("copygate_sessions_created_total", (("state", "authenticated"),))] == 2
    assert samples[("copygate_messages_inbound_total", (("type", "OrderIntent"),))] == 1
    assert samples[("copygate_messages_inbound_total", (("type", "ExecutionReport"),))] == 1
    assert samples[("copygate_copies_total", (("status", "queued"),))] == 1
    for stage in ("received_to_queued", "queued_to_delivered", "delivered_to_reported", "total"):
        assert samples[("copygate_copy_latency_seconds_count", (("stage", stage),))] == 1
    for stream in ("intents", "ea_events", "fan_out"):
        for measure in ("lag", "pending"):
            assert (
                "copygate_copier_backlog",
                (("measure", measure), ("stream", stream)),
            ) in samples
    assert samples[("copygate_copier_dead_letters", ())] == 0
    assert ("copygate_redis_errors_total", (("kind", "transient"),)) in samples


async def test_closing_a_session_moves_it_out_of_the_live_gauge(
    client: httpx.AsyncClient,
) -> None:
    key = (await client.post("/admin/v1/accounts/a-1/keys", headers=ADMIN)).json()["key"]
    body = {"account_id": "a-1", "auth_method": "account_session_key", "credentials": {"key": key}}
    session = (await client.post("/ea-gateway/v1/sessions", json=body)).json()
    assert (await scrape(client))[("copygate_sessions", (("state", "authenticated"),))] == 1

    await client.delete(
        f"/ea-gateway/v1/sessions/{session['session_id']}",
        headers={"Authorization": f"Bearer {session['session_token']}"},
    )

    samples = await scrape(client)
    assert samples[("copygate_sessions", (("state", "authenticated"),))] == 0
    assert samples[("copygate_sessions_closed_total", (("reason", "client_shutdown"),))] == 1


async def test_json_view_stays_under_metrics_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics.json")
    assert response.status_code == 200
    assert response.json()["sessions_live"] == {"pending": 0, "authenticated": 0}


async def test_grafana_dashboard_uses_only_series_the_gateway_exposes(
    client: httpx.AsyncClient,
) -> None:
    exposed: set[str] = set()
    for family in text_string_to_metric_families((await client.get("/metrics")).text):
        suffixes = {
            "counter": ("_total",),
            "histogram": ("_bucket", "_count", "_sum"),
        }.get(family.type, ("",))
        exposed |= {family.name + suffix for suffix in suffixes}
    dashboard = orjson.loads(DASHBOARD.read_bytes())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"copygate_[a-z_]+", expr)}

    assert used, "the dashboard queries no copygate series"
    assert used <= exposed, f"not exposed: {sorted(used - exposed)}"
