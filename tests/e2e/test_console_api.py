"""The admin endpoints the console reads: accounts, health and the live event stream."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from tests.e2e.conftest import ServerFactory
from tests.e2e.harness import Admin, Server


async def _tenant_admin(admin: Admin, tenant: str) -> Admin:
    response = await admin.request("POST", f"/admin/v1/tenants/{tenant}/tokens", json={})
    assert response.status_code == 201, response.text
    return Admin(admin.base_url, token=response.json()["token"])


async def _snapshots(server: Server, token: str) -> AsyncIterator[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx.AsyncClient(base_url=server.base_url, timeout=10) as http,
        http.stream("GET", "/admin/v1/console/events", headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                yield orjson.loads(line.removeprefix("data: "))


@pytest.mark.parametrize("token", [None, "not-a-token"])
async def test_event_stream_refuses_a_caller_without_a_valid_admin_token(
    server: Server, token: str | None
) -> None:
    response = await Admin(server.base_url, token=token or "").request(
        "GET", "/admin/v1/console/events"
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


async def test_tenant_admin_lists_and_measures_only_their_tenant(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    admin = Admin(server.base_url)
    await admin.put_account("a-1", "follower", tenant="a")
    await admin.put_account("b-1", "follower", tenant="b")
    await admin.queue(
        "b-1", {"type": "SyncSnapshot", "payload": {"request_id": "r-1"}}
    )  # backlog of tenant b only
    tenant_a = await _tenant_admin(admin, "a")

    accounts = (await tenant_a.request("GET", "/admin/v1/accounts")).json()["accounts"]
    assert [a["account_id"] for a in accounts] == ["a-1"]
    everyone = (await admin.request("GET", "/admin/v1/accounts")).json()["accounts"]
    assert [a["account_id"] for a in everyone] == ["a-1", "b-1"]
    assert (await tenant_a.request("GET", "/admin/v1/health")).json()["backlog"] == 0
    assert (await admin.request("GET", "/admin/v1/health")).json()["backlog"] == 1

    snapshot = await anext(_snapshots(server, tenant_a.token))
    assert snapshot["principal"] == {"role": "tenant_admin", "tenant_id": "a"}
    assert [a["account_id"] for a in snapshot["accounts"]] == ["a-1"]


async def test_event_stream_pushes_a_change_within_seconds(start_server: ServerFactory) -> None:
    server = start_server()
    admin = Admin(server.base_url)
    stream = _snapshots(server, admin.token)
    first = await anext(stream)
    assert first["accounts"] == []
    await admin.put_account("late-1", "master")
    for _ in range(5):
        snapshot = await anext(stream)
        if snapshot["accounts"]:
            break
    assert [a["account_id"] for a in snapshot["accounts"]] == ["late-1"]
    await stream.aclose()  # type: ignore[attr-defined]


async def test_server_shutdown_ends_open_event_streams_instead_of_waiting_for_them(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    headers = {"Authorization": f"Bearer {Admin(server.base_url).token}"}
    async with (
        httpx.AsyncClient(base_url=server.base_url, timeout=10) as http,
        http.stream("GET", "/admin/v1/console/events", headers=headers) as response,
    ):
        lines = response.aiter_lines()
        assert (await anext(lines)).startswith("event: snapshot")
        await asyncio.to_thread(server.stop)
        with contextlib.suppress(httpx.HTTPError):
            async for _ in lines:  # until the server ends the stream
                pass
    assert "graceful shutdown exceeded" not in server.logs()
