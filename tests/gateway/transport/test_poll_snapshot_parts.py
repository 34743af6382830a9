"""A SyncSnapshot sent in parts over the poll exchange reaches the copier's stream once,
whole, after its last part; a newer snapshot supersedes an incomplete one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from gateway.app import create_app
from schemas import SyncSnapshot, parse_client_envelope
from tests.gateway.inprocess import Api, rules_settings


@pytest.fixture
async def served() -> AsyncIterator[tuple[Api, Starlette]]:
    app = create_app(rules_settings())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            yield Api(client), app


def position(ticket: int) -> dict[str, Any]:
    return {
        "ticket": ticket,
        "symbol": "EURUSD",
        "side": "buy",
        "volume": "0.1",
        "open_price": "1.1",
    }


def part(snapshot_id: str, n: int, parts: int, tickets: range) -> dict[str, Any]:
    payload = {
        "positions": [position(t) for t in tickets],
        "orders": [],
        "balance": "100",
        "snapshot_id": snapshot_id,
        "part": n,
        "parts": parts,
    }
    return {"type": "SyncSnapshot", "id": f"{snapshot_id}-{n}", "ts": 1, "payload": payload}


async def exchange(api: Api, session: dict[str, Any], *messages: dict[str, Any]) -> None:
    body = orjson.dumps({"ack_seq": 0, "messages": list(messages)})
    response = await api.exchange(session, body)
    assert response.status_code == 200, response.text
    alerts = [m for m in response.json()["messages"] if m["type"] == "ErrorAlert"]
    assert alerts == []


async def snapshots(app: Starlette) -> list[SyncSnapshot]:
    store = app.state.runtime.store
    entries = await store.redis.xrange(store.keys.ea_inbox_stream())
    found = [parse_client_envelope(fields[b"body"]) for _, fields in entries]
    return [e for e in found if isinstance(e, SyncSnapshot)]


async def test_parts_in_two_exchanges_and_out_of_order_reach_the_copier_once_whole(
    served: tuple[Api, Starlette],
) -> None:
    api, app = served
    await api.account("m-1", "master")
    session = await api.keyed_session("m-1")

    await exchange(api, session, part("s1", 3, 3, range(200, 300)), part("s1", 1, 3, range(100)))
    assert await snapshots(app) == []  # part 2 missing: nothing for the copier yet
    await exchange(api, session, part("s1", 2, 3, range(100, 200)))
    await exchange(api, session, part("s1", 2, 3, range(100, 200)))  # resent after a lost 200

    (whole,) = await snapshots(app)
    assert [p.ticket for p in whole.payload.positions] == list(range(300))
    assert whole.id == "s1-1" and whole.payload.snapshot_id is None


async def test_a_newer_snapshot_supersedes_an_incomplete_one(
    served: tuple[Api, Starlette],
) -> None:
    api, app = served
    await api.account("m-1", "master")
    session = await api.keyed_session("m-1")

    await exchange(api, session, part("old", 1, 2, range(5)))
    await exchange(api, session, part("new", 1, 2, range(3)), part("new", 2, 2, range(3, 4)))
    await exchange(api, session, part("old", 2, 2, range(5, 9)))  # too late: never complete

    (whole,) = await snapshots(app)
    assert whole.id == "new-1" and [p.ticket for p in whole.payload.positions] == [0, 1, 2, 3]


async def test_a_whole_snapshot_is_published_at_once_as_before(
    served: tuple[Api, Starlette],
) -> None:
    api, app = served
    await api.account("m-1", "master")
    session = await api.keyed_session("m-1")
    whole = {
        "type": "SyncSnapshot",
        "id": "w-1",
        "ts": 1,
        "payload": {"positions": [position(1)], "orders": []},
    }
    await exchange(api, session, whole)
    (published,) = await snapshots(app)
    assert published.id == "w-1" and [p.ticket for p in published.payload.positions] == [1]


async def test_parts_whose_whole_exceeds_the_snapshot_limits_are_refused_with_an_alert(
    served: tuple[Api, Starlette],
) -> None:
    api, app = served
    await api.account("m-1", "master")
    session = await api.keyed_session("m-1")
    # 26 parts of 200 positions: each part is valid, the whole (5200) is not
    parts = [part("big", n, 26, range((n - 1) * 200, n * 200)) for n in range(1, 27)]
    body = orjson.dumps({"ack_seq": 0, "messages": parts})

    response = await api.exchange(session, body)

    assert response.status_code == 200, response.text
    alerts = [m for m in response.json()["messages"] if m["type"] == "ErrorAlert"]
    assert [(a["payload"]["code"], a["payload"]["ref_id"]) for a in alerts] == [
        ("validation_error", "big-1")
    ]
    assert await snapshots(app) == []
