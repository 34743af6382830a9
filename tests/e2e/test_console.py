"""The web console in a real browser (headless Debian chromium) against `copygate serve`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.e2e.conftest import ServerFactory
from tests.e2e.console_harness import Console, chromium, create_pending_session, trade_once
from tests.e2e.harness import ADMIN_TOKEN, Admin


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    """One chromium for the whole module."""
    driver = chromium()
    yield driver
    driver.quit()


async def _tenant_token(admin: Admin, tenant: str) -> str:
    response = await admin.request("POST", f"/admin/v1/tenants/{tenant}/tokens", json={})
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


async def _master_and_follower(
    admin: Admin, tenant: str, master: str, follower: str
) -> dict[str, str]:
    """Two accounts of `tenant`, with provisioned keys by account."""
    await admin.put_account(master, "master", tenant=tenant)
    await admin.put_account(follower, "follower", tenant=tenant)
    return {account: await admin.provision(account) for account in (master, follower)}


async def test_backoffice_approves_a_pending_key_and_the_ea_session_is_promoted(
    start_server: ServerFactory, browser: webdriver.Chrome
) -> None:
    server = start_server()
    admin = Admin(server.base_url)
    await admin.put_account("desk-7", "follower", tenant="t1")
    session_id = await create_pending_session(server.base_url, "desk-7", "first-launch-key-7777")
    console = Console(browser, server.base_url)
    await asyncio.to_thread(console.sign_in, ADMIN_TOKEN)
    key_id = await admin.pending_key_id("desk-7")

    row = await asyncio.to_thread(
        console.wait, lambda: [r for r in console.rows("keys-table") if key_id in r]
    )
    assert row[0][0] == "desk-7"
    assert "ea_version: 1.4.2" in row[0][3]  # the EA's telemetry, shown for the decision
    browser.find_element(By.CSS_SELECTOR, f'[data-action="approve"][data-key="{key_id}"]').click()

    await asyncio.to_thread(
        console.wait, lambda: "No keys waiting" in console.rows("keys-table")[0][0]
    )
    keys = (await admin.request("GET", "/admin/v1/keys")).json()["keys"]
    assert [k["status"] for k in keys if k["key_id"] == key_id] == ["approved"]
    console.tab("sessions")
    sessions = await asyncio.to_thread(
        console.wait, lambda: [r for r in console.rows("sessions-table") if session_id in r]
    )
    assert sessions[0][2] == "authenticated"


async def test_tenant_admin_creates_a_subscription_in_the_editor_and_sees_the_copy(
    start_server: ServerFactory, browser: webdriver.Chrome
) -> None:
    server = start_server()
    admin = Admin(server.base_url)
    keys = await _master_and_follower(admin, "t1", "lead-1", "copy-1")
    console = Console(browser, server.base_url)
    await asyncio.to_thread(console.sign_in, await _tenant_token(admin, "t1"))
    console.tab("subscriptions")
    console.type_into("follower_id", "copy-1")
    console.type_into("master_id", "lead-1")
    console.type_into("allocation.multiplier", "-2")
    console.type_into("symbol_map", "EURUSD=EURUSD")
    browser.find_element(By.ID, "sub-save").click()
    error = await asyncio.to_thread(
        console.wait, lambda: console.field_error("allocation.multiplier")
    )
    assert "greater than 0" in error  # the API's 422 detail, shown at the field

    console.type_into("allocation.multiplier", "0.5")
    browser.find_element(By.ID, "sub-save").click()
    saved = await asyncio.to_thread(
        console.wait, lambda: [r for r in console.rows("subscriptions-table") if "copy-1" in r]
    )
    assert saved[0][1:3] == ["lead-1", "mirror 0.5"]
    assert console.field_error("allocation.multiplier") == ""

    await trade_once(server.base_url, ("lead-1", keys["lead-1"]), ("copy-1", keys["copy-1"]))

    console.tab("copies")
    copies = await asyncio.to_thread(
        console.wait,
        lambda: [r for r in console.rows("copies-table") if "copy-1" in r and "open" in r],
    )
    _received, follower, master, action, symbol, status, volume, slippage, split, total = copies[0]
    assert (follower, master, action, symbol, status, volume) == (
        "copy-1",
        "lead-1",
        "open",
        "EURUSD",
        "filled",
        "0.2",
    )
    assert slippage != "" and total.endswith(" ms")
    assert len(split.split(" / ")) == 3
    assert int(browser.find_element(By.ID, "h-copies").text) >= 1


async def test_tenant_admin_sees_and_acts_only_within_their_tenant(
    start_server: ServerFactory, browser: webdriver.Chrome
) -> None:
    server = start_server()
    admin = Admin(server.base_url)
    keys = await _master_and_follower(admin, "alpha", "alpha-lead", "alpha-copy")
    await admin.put_account("beta-copy", "follower", tenant="beta")
    response = await admin.request(
        "PUT", "/admin/v1/accounts/alpha-copy/subscriptions/alpha-lead", json={}
    )
    assert response.status_code == 200, response.text
    await trade_once(
        server.base_url, ("alpha-lead", keys["alpha-lead"]), ("alpha-copy", keys["alpha-copy"])
    )
    await create_pending_session(server.base_url, "alpha-copy", "alpha-second-terminal-key")
    alpha_key = await admin.pending_key_id("alpha-copy")

    console = Console(browser, server.base_url)
    await asyncio.to_thread(console.sign_in, await _tenant_token(admin, "beta"))
    await asyncio.to_thread(
        console.wait, lambda: console.rows("accounts-table")[0][0] == "beta-copy"
    )
    assert [r[0] for r in console.rows("accounts-table")] == ["beta-copy"]
    assert browser.find_element(By.ID, "principal").text == "tenant beta"
    for table in ("keys-table", "copies-table", "subscriptions-table", "audit-table"):
        assert not any("alpha" in cell for row in console.rows(table) for cell in row), table
    assert "alpha" not in browser.find_element(By.ID, "console").text

    assert console.fetch_status("POST", f"/admin/v1/keys/{alpha_key}/approve") in (403, 404)
    assert console.fetch_status("GET", "/admin/v1/accounts/alpha-copy/copies") in (403, 404)
    keys_now = (await admin.request("GET", "/admin/v1/keys")).json()["keys"]
    assert [k["status"] for k in keys_now if k["key_id"] == alpha_key] == ["pending"]

    await asyncio.to_thread(console.sign_in, ADMIN_TOKEN)  # the back-office sees both tenants
    await asyncio.to_thread(console.wait, lambda: len(console.rows("accounts-table")) == 3)
    console.tab("copies")
    await asyncio.to_thread(
        console.wait, lambda: any("alpha-copy" in r for r in console.rows("copies-table"))
    )
