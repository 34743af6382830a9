"""A headless Debian chromium driving the console, and simulated terminals that trade.

The browser is Debian's ``chromium`` driven through ``/usr/bin/chromedriver``, named
explicitly so selenium-manager never downloads a driver or a browser.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from gateway.client.rest import ClientConfig
from gateway.client.sim import (
    RandomWalkFeed,
    ScriptedPolicy,
    ScriptStep,
    SimAccount,
    SimTerminal,
    standard_symbols,
)
from gateway.client.sim.orders import TicketSource
from gateway.client.sim.runner import SimEA
from schemas.codes import Action, Role

__all__ = ["Console", "chromium", "create_pending_session", "trade_once"]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: The master opens this long after connecting, once both terminals' first snapshots are in.
OPEN_AFTER_MS = 1500


def chromium() -> webdriver.Chrome:
    """A headless chromium (no sandbox: tests may run as root in a container)."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1440,900",
    ):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))


class Console:
    """The console page in one browser, as one signed-in admin."""

    def __init__(self, driver: webdriver.Chrome, base_url: str) -> None:
        self.driver = driver  #: the shared browser
        self.base_url = base_url  #: the server under test

    def sign_in(self, token: str) -> None:
        """Open the console with a clean tab storage and sign in with `token`."""
        self.driver.get(self.base_url + "/console")
        self.driver.execute_script("sessionStorage.clear()")
        self.driver.get(self.base_url + "/console")
        self.driver.find_element(By.ID, "token").send_keys(token)
        self.driver.find_element(By.ID, "signin-button").click()
        self.wait(
            lambda: self.driver.find_element(By.ID, "live").get_attribute("class") == "live on"
        )

    def tab(self, name: str) -> None:
        """Show one panel."""
        self.driver.find_element(By.CSS_SELECTOR, f'#tabs [data-tab="{name}"]').click()

    def rows(self, table: str) -> list[list[str]]:
        """The cell texts of a table's rows (the empty-table row included)."""
        # Read in one script: the page re-renders its tables with every snapshot.
        rows: list[list[str]] = self.driver.execute_script(
            "return [...document.querySelectorAll('#' + arguments[0] + ' tbody tr')]"
            ".map((tr) => [...tr.cells].map((td) => td.innerText.trim()));",
            table,
        )
        return rows

    def field(self, name: str) -> WebElement:
        """A subscription-editor input by its name."""
        return self.driver.find_element(By.CSS_SELECTOR, f'#sub-form [name="{name}"]')

    def field_error(self, name: str) -> str:
        """The error shown at a subscription-editor field."""
        return self.driver.find_element(By.CSS_SELECTOR, f'[data-error-for="{name}"]').text

    def type_into(self, name: str, value: str) -> None:
        """Replace a field's value."""
        element = self.field(name)
        element.clear()
        element.send_keys(value)

    def fetch_status(self, method: str, path: str) -> int:
        """Call the admin API from the page with the signed-in token; the HTTP status."""
        status: int = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[1], {method: arguments[0], headers: {Authorization: "
            "'Bearer ' + sessionStorage.getItem('copygate.adminToken')}})"
            ".then((r) => done(r.status));",
            method,
            path,
        )
        return status

    def wait(self, condition: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Until `condition()` is truthy (the page updates live, about once a second)."""
        return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(lambda _: condition())


def _sim(base_url: str, account: str, key: str, role: Role, now: int) -> SimEA:
    symbols = standard_symbols()
    policy = (
        ScriptedPolicy([ScriptStep(OPEN_AFTER_MS, Action.OPEN, 1, volume=Decimal("0.4"))], now)
        if role is Role.MASTER
        else None
    )
    terminal = SimTerminal(
        account,
        SimAccount(
            symbols,
            balance=Decimal(10_000),
            rng=random.Random(account),
            tickets=TicketSource(1_000 if role is Role.MASTER else 500_000),
        ),
        role=role,
        policy=policy,
    )
    return SimEA(terminal, ClientConfig(base_url, account, key))


async def trade_once(
    base_url: str, master: tuple[str, str], follower: tuple[str, str], within: float = 15.0
) -> None:
    """A simulated master opens 0.4 lots of EURUSD; a simulated follower executes the copy.

    `master` and `follower` are (account id, provisioned key).
    """
    now = int(time.time() * 1000)
    sims = [
        _sim(base_url, *master, Role.MASTER, now),
        _sim(base_url, *follower, Role.FOLLOWER, now),
    ]
    feed = RandomWalkFeed(standard_symbols().values(), random.Random(7))
    try:
        for sim in sims:
            await sim.client.start()
        await asyncio.gather(*(s.client.wait_authenticated(within) for s in sims))
        deadline = time.monotonic() + within
        while sims[1].stats.commands == 0 and time.monotonic() < deadline:
            ticks = feed.at(int(time.time() * 1000))
            for sim in sims:
                await sim.step(ticks)
            await asyncio.sleep(0.1)
        assert sims[1].stats.commands >= 1, f"no copy executed: {sims[0].stats}, {sims[1].stats}"
    finally:
        await asyncio.gather(*(s.client.close() for s in sims), return_exceptions=True)


async def create_pending_session(base_url: str, account: str, key: str) -> str:
    """An EA opens a session with a key nobody approved yet; its session id."""
    async with httpx.AsyncClient(base_url=base_url) as http:
        response = await http.post(
            "/ea-gateway/v1/sessions",
            json={
                "account_id": account,
                "auth_method": "account_session_key",
                "credentials": {"key": key},
                "client": {"platform": "mt4", "ea_version": "1.4.2", "terminal_build": 1420},
            },
        )
    assert response.status_code == 201, response.text
    assert response.json()["state"] == "pending"
    session_id: str = response.json()["session_id"]
    return session_id
