"""The copier's admin API over HTTP, and a copier worker killed between read and ack."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from gateway.store.keys import RedisKeys
from tests.e2e.conftest import ServerFactory
from tests.e2e.copier_harness import Terminal, setup
from tests.e2e.harness import ROOT, Admin, Server, free_port, server_env

SUB = "/admin/v1/accounts/{f}/subscriptions/{m}"


async def test_subscriptions_are_validated_listed_deleted_and_audited(
    server: Server, admin: Admin
) -> None:
    await admin.put_account("m1", "master")
    await admin.put_account("m2", "master")
    await admin.put_account("f1", "follower")
    bad = await admin.request(
        "PUT",
        SUB.format(f="f1", m="m1"),
        json={"allocation": {"mode": "fixed_lot"}, "status": "sleepy"},
    )
    assert bad.status_code == 422
    locs = {tuple(d["loc"]) for d in bad.json()["error"]["details"]}
    assert ("allocation", "fixed_lot", "lots") in locs and ("status",) in locs
    assert (await admin.request("PUT", SUB.format(f="f1", m="f1"), json={})).status_code == 422
    wrong_role = await admin.request("PUT", SUB.format(f="m2", m="m1"), json={})
    assert wrong_role.status_code == 409
    for master in ("m1", "m2"):
        response = await admin.request(
            "PUT",
            SUB.format(f="f1", m=master),
            json={"allocation": {"mode": "fixed_lot", "lots": 0.1}},
        )
        assert response.status_code == 200, response.text
        assert response.json()["allocation"] == {"mode": "fixed_lot", "lots": 0.1}
    listed = (await admin.request("GET", "/admin/v1/accounts/f1/subscriptions")).json()
    assert [s["master_id"] for s in listed["subscriptions"]] == ["m1", "m2"]
    assert (await admin.request("DELETE", SUB.format(f="f1", m="m2"))).status_code == 204
    assert (await admin.request("GET", SUB.format(f="f1", m="m2"))).status_code == 404
    assert (await admin.request("DELETE", SUB.format(f="f1", m="m2"))).status_code == 404
    audit = (await admin.request("GET", "/admin/v1/audit", params={"account_id": "m2"})).json()
    assert [e["action"] for e in audit["entries"]] == ["delete", "put"]
    assert audit["entries"][0]["before"]["allocation"]["lots"] == 0.1
    assert all(isinstance(e["actor"], str) and e["actor"] for e in audit["entries"])


async def test_tenant_admins_only_subscribe_accounts_of_their_own_tenant(
    server: Server, admin: Admin
) -> None:
    await admin.put_account("m-t1", "master", tenant="t1")
    await admin.put_account("m-t2", "master", tenant="t2")
    await admin.put_account("f-t1", "follower", tenant="t1")
    issued = await admin.request("POST", "/admin/v1/tenants/t1/tokens", json={"label": "ops"})
    tenant = Admin(server.base_url, token=issued.json()["token"])
    ok = await tenant.request("PUT", SUB.format(f="f-t1", m="m-t1"), json={})
    assert ok.status_code == 200
    denied = await tenant.request("PUT", SUB.format(f="f-t1", m="m-t2"), json={})
    assert denied.status_code == 403
    assert (
        await tenant.request("GET", "/admin/v1/audit", params={"account_id": "m-t2"})
    ).status_code == 403
    assert (await tenant.request("GET", "/admin/v1/copier/dead-letters")).status_code == 403
    letters = await admin.request("GET", "/admin/v1/copier/dead-letters")
    assert letters.status_code == 200 and letters.json() == {"dead_letters": []}
    assert (await tenant.request("GET", "/admin/v1/copier/backlog")).status_code == 403


async def test_operators_see_the_copier_backlog_in_the_admin_api_and_the_metrics(
    server: Server, admin: Admin
) -> None:
    backlog = await admin.request("GET", "/admin/v1/copier/backlog")
    assert backlog.status_code == 200
    assert backlog.json()["waiting"] == 0
    assert set(backlog.json()) == {"waiting", "intents", "ea_events", "fan_out"}
    metrics = await admin.request("GET", "/metrics.json")
    assert metrics.json()["copier_backlog"]["intents"]["unread"] == 0
    exposition = (await admin.request("GET", "/metrics")).text
    assert 'copygate_copier_backlog{measure="lag",stream="intents"} 0.0' in exposition


@pytest.fixture
def copier_processes(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.terminate()
            process.wait(10)


def _copier(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway", "copier", "--workers", "1", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


@pytest.fixture
async def terminals() -> AsyncIterator[list[Terminal]]:
    made: list[Terminal] = []
    yield made
    for terminal in made:
        await terminal.disconnect()


async def test_a_copier_killed_between_read_and_ack_loses_and_duplicates_nothing(
    start_server: ServerFactory,
    real_redis_url: str,
    prefix: str,
    tmp_path: Path,
    copier_processes: list[subprocess.Popen[bytes]],
    terminals: list[Terminal],
) -> None:
    server = start_server(COPYGATE_COPIER_IN_PROCESS="false")
    _admin, master, f = await setup(server, {"f1": {}, "f2": {}})
    terminals.extend([master, *f.values()])
    # TEST HOOK: this worker sleeps 60 s after reading, i.e. between read and ack
    doomed = _copier(
        server_env(real_redis_url, prefix, COPYGATE_COPIER_TEST_PAUSE_AFTER_READ_MS="60000"),
        tmp_path / "doomed.log",
    )
    copier_processes.append(doomed)
    await master.intent("open", 90)
    client = aioredis.Redis.from_url(real_redis_url)
    try:
        stream = RedisKeys(prefix).intent_stream()
        for _ in range(200):
            pending: Any = None
            if await client.exists(stream):
                groups = await client.xinfo_groups(stream)
                pending = groups[0]["pending"] if groups else None
            if pending == 1:
                break
            await asyncio.sleep(0.05)
        assert pending == 1, (tmp_path / "doomed.log").read_text()
    finally:
        await client.aclose()
    doomed.kill()  # SIGKILL mid-batch: the entry is read, never processed nor acked
    doomed.wait(5)
    rescuer = _copier(
        server_env(
            real_redis_url,
            prefix,
            COPYGATE_COPIER_CLAIM_IDLE_MS="300",
            COPYGATE_COPIER_CLAIM_INTERVAL_MS="100",
        ),
        tmp_path / "rescuer.log",
    )
    copier_processes.append(rescuer)
    for name in ("f1", "f2"):
        command = await f[name].command(within=5)
        assert (command["action"], command["master_ticket"]) == ("open", 90)
    for name in ("f1", "f2"):
        await f[name].no_command(0.5)


async def test_a_standalone_copier_serves_its_copy_metrics_when_given_a_port(
    start_server: ServerFactory,
    real_redis_url: str,
    prefix: str,
    tmp_path: Path,
    copier_processes: list[subprocess.Popen[bytes]],
    terminals: list[Terminal],
) -> None:
    server = start_server(COPYGATE_COPIER_IN_PROCESS="false")
    _admin, master, f = await setup(server, {"f1": {}})
    terminals.extend([master, *f.values()])
    port = free_port()
    copier = _copier(
        server_env(real_redis_url, prefix),
        tmp_path / "copier.log",
        "--metrics-port",
        str(port),
    )
    copier_processes.append(copier)

    await master.intent("open", 92)
    await f["f1"].fill(await f["f1"].command(within=10))

    filled = 'copygate_copy_latency_seconds_count{stage="total"} 1.0'
    text = ""
    async with httpx.AsyncClient() as http:
        for _ in range(100):
            with contextlib.suppress(httpx.HTTPError):
                text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            if filled in text:
                break
            await asyncio.sleep(0.1)
    assert filled in text, (tmp_path / "copier.log").read_text()
    assert 'copygate_copies_total{status="filled"} 1.0' in text
    assert 'copygate_copy_latency_seconds_count{stage="delivered_to_reported"} 1.0' in text
    assert "copygate_redis_errors_total" in text
