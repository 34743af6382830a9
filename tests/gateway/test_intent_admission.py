"""Intents refused under copier overload stay with the EA: never recorded, then dropped.

The real app (embedded store) with its backlog monitor refreshing rarely, so the
test sets the backlog admission decides from (as a refresh would have measured it).
An open over the bound is refused with a retryable answer and nothing reaches the
intent stream: a poll answers 429 (the EA keeps its whole body and sends it
again), a WebSocket gets an `overloaded` ErrorAlert without a Receipt and is
closed 1008 (the EA reconnects and sends its unconfirmed intents first). A close
is admitted up to the hard bound.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from gateway.admission import IntentBacklog
from gateway.app import GatewayRuntime, create_app
from tests.e2e.harness import ADMIN_TOKEN, EA, Admin, WsEA, envelope
from tests.gateway.inprocess import Api, rules_settings
from tests.gateway.served import served_in_this_loop

SOFT, HARD = 5, 50


def order_intent(action: str, ticket: int) -> dict[str, Any]:
    payload = {
        "action": action,
        "ticket": ticket,
        "symbol": "EURUSD",
        "side": "buy",
        "order_type": "market",
        "volume": 0.1,
        "price": 1.1,
    }
    return envelope("OrderIntent", payload)


def settings(**extra: Any) -> Any:
    return rules_settings(
        **extra,
        intent_backlog_max_waiting=SOFT,
        intent_backlog_max_waiting_exits=HARD,
        intent_backlog_refresh_ms=600_000,  # only the first refresh: the test sets the rest
        intent_backlog_retry_after_ms=1_500,
    )


def behind(runtime: GatewayRuntime, account_id: str, waiting: int) -> None:
    """The copier is `waiting` intents behind on the account's partition."""
    partition = runtime.store.keys.partition_of(account_id)
    runtime.backlog.backlogs[partition] = IntentBacklog(waiting, 1_000)


async def recorded(runtime: GatewayRuntime, account_id: str) -> list[str]:
    """The ids of the account's intents in the intent stream (recorded for the copier)."""
    stream = runtime.store.keys.intent_stream(runtime.store.keys.partition_of(account_id))
    ids = []
    for _, fields in await runtime.store.redis.xrange(stream):
        if fields[b"account_id"].decode() == account_id:
            ids.append(httpx.Response(200, content=fields[b"body"]).json()["id"])
    return ids


async def master_with_receipts(
    stack: contextlib.AsyncExitStack, base_url: str, account_id: str
) -> WsEA:
    """A provisioned master on a WebSocket (closed with `stack`), past an InitAck that
    asked for a Receipt per recorded intent."""
    ea = EA(base_url, account_id)
    ea.key = await Admin(base_url).provision(account_id)
    await ea.create_session()
    ws = await stack.enter_async_context(
        ea.websocket(base_url.replace("http", "ws", 1) + "/ea-gateway/v1/stream")
    )
    await ws.send(envelope("InitRequest", {"ack_seq": 0, "receipts": True}))
    await ws.recv_type("InitAck")
    return ws


@pytest.fixture
async def app() -> AsyncIterator[Starlette]:
    application = create_app(settings())
    async with application.router.lifespan_context(application):
        yield application


async def test_a_polled_open_over_the_bound_is_refused_429_and_not_recorded(
    app: Starlette,
) -> None:
    runtime: GatewayRuntime = app.state.runtime
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        api = Api(client)
        session = await api.keyed_session("m-poll")
        behind(runtime, "m-poll", SOFT)
        refused = order_intent("open", 1)
        body = {"messages": [refused], "ack_seq": 0, "wait_ms": 0}
        response = await api.exchange(session, httpx.Request("POST", "/", json=body).content)
        assert response.status_code == 429, response.text
        assert response.json()["error"]["code"] == "overloaded"
        assert response.headers["retry-after"] == "2"
        close = order_intent("close", 7)
        body = {"messages": [close], "ack_seq": 0, "wait_ms": 0}
        response = await api.exchange(session, httpx.Request("POST", "/", json=body).content)
        assert response.status_code == 200, response.text
        assert await recorded(runtime, "m-poll") == [close["id"]]
        behind(runtime, "m-poll", 0)  # the copier caught up: the resend goes through
        body = {"messages": [refused], "ack_seq": 0, "wait_ms": 0}
        response = await api.exchange(session, httpx.Request("POST", "/", json=body).content)
        assert response.status_code == 200, response.text
        assert await recorded(runtime, "m-poll") == [close["id"], refused["id"]]
        metrics = (await client.get("/metrics")).text
        assert 'copygate_intents_refused_total{reason="backlog_full"} 1.0' in metrics


async def test_a_websocket_open_over_the_bound_gets_no_receipt_an_alert_and_a_1008_close() -> None:
    app = create_app(settings(admin_token=ADMIN_TOKEN))  # served: uvicorn runs its lifespan
    async with served_in_this_loop(app) as base_url, contextlib.AsyncExitStack() as stack:
        runtime: GatewayRuntime = app.state.runtime
        ws = await master_with_receipts(stack, base_url, "m-ws")
        admitted = order_intent("open", 1)
        await ws.send(admitted)
        assert (await ws.recv_type("Receipt"))["payload"]["ids"] == [admitted["id"]]
        behind(runtime, "m-ws", HARD - 1)
        close = order_intent("close", 1)
        await ws.send(close)  # an exit still flows below the hard bound
        assert (await ws.recv_type("Receipt"))["payload"]["ids"] == [close["id"]]
        refused = order_intent("open", 2)
        await ws.send(refused)
        alert = await ws.recv()
        assert alert["type"] == "ErrorAlert"
        assert alert["payload"]["code"] == "overloaded"
        assert alert["payload"]["ref_id"] == refused["id"]
        assert alert["payload"]["retry"] == {"policy": "resend_after", "after_ms": 1_500}
        assert await ws.wait_closed() == 1008
        assert await recorded(runtime, "m-ws") == [admitted["id"], close["id"]]
