"""The copier over the wire: one master, several followers, real `copygate serve`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.e2e.conftest import ServerFactory
from tests.e2e.copier_harness import Terminal, copies, setup, symbol, wait_for

Setup = tuple[Any, Terminal, dict[str, Terminal]]


@pytest.fixture
async def world(start_server: ServerFactory) -> AsyncIterator[list[Terminal]]:
    """Collects terminals to disconnect after the test."""
    terminals: list[Terminal] = []
    yield terminals
    for terminal in terminals:
        await terminal.disconnect()


async def _setup(
    server: Any, world: list[Terminal], followers: dict[str, dict[str, Any]], **kwargs: Any
) -> Setup:
    admin, master, terminals = await setup(server, followers, **kwargs)
    world.extend([master, *terminals.values()])
    return admin, master, terminals


async def test_open_modify_partial_and_full_close_reach_every_follower_sized_and_mapped(
    start_server: ServerFactory, world: list[Terminal]
) -> None:
    server = start_server()
    admin, master, f = await _setup(
        server,
        world,
        {
            "f1": {"symbol_map": {"EURUSD": "EURUSD.m"}},
            "f2": {"allocation": {"mode": "mirror", "multiplier": 0.5}, "reverse": True},
        },
        symbols={"f1": [symbol("EURUSD.m")]},
    )
    await master.intent("open", 10, volume=0.8)
    o1, o2 = await f["f1"].command(), await f["f2"].command()
    assert (o1["symbol"], o1["side"], o1["volume"]) == ("EURUSD.m", "buy", 0.8)
    assert (o2["side"], o2["volume"], o2["sl"], o2["tp"]) == ("sell", 0.4, 1.12, 1.09)
    t1 = await f["f1"].fill(o1, price=1.1003)
    t2 = await f["f2"].fill(o2)
    await master.intent("modify", 10, sl=1.095)
    m1 = await f["f1"].command()
    assert (m1["action"], m1["ticket"], m1["sl"]) == ("modify", t1, 1.095)
    m2 = await f["f2"].command()
    assert (m2["ticket"], m2["tp"]) == (t2, 1.095)
    await master.intent("close", 10, volume=0.4, new_ticket=11)
    p1, p2 = await f["f1"].command(), await f["f2"].command()
    assert (p1["action"], p1["ticket"], p1["volume"], p2["volume"]) == ("close", t1, 0.4, 0.2)
    await f["f1"].report(p1, "closed", volume=0.4, new_ticket=t1 + 1)
    await f["f2"].report(p2, "closed", volume=0.2, new_ticket=t2 + 1)
    await master.intent("close", 11, volume=0.4)
    c1, c2 = await f["f1"].command(), await f["f2"].command()
    assert (c1["ticket"], c1["volume"], c2["ticket"], c2["volume"]) == (t1 + 1, 0.4, t2 + 1, 0.2)
    record = next(r for r in await copies(admin, "f1") if r["action"] == "open")
    assert (record["follower_ticket"], record["slippage"]) == (t1, 0.0003)
    assert all(v is not None for v in record["times"].values())


async def test_pending_orders_are_placed_and_cancelled_on_the_followers(
    start_server: ServerFactory, world: list[Terminal]
) -> None:
    server = start_server()
    _admin, master, f = await _setup(server, world, {"f1": {}, "f2": {"copy_pending": False}})
    await master.intent("place_pending", 20, order_type="limit", price=1.09)
    placed = await f["f1"].command()
    assert (placed["action"], placed["order_type"], placed["price"]) == (
        "place_pending",
        "limit",
        1.09,
    )
    await f["f2"].no_command(0.3)
    await f["f1"].report(placed, "placed", ticket=777)
    await master.intent("cancel_pending", 20, order_type="limit", price=1.09)
    cancel = await f["f1"].command()
    assert (cancel["action"], cancel["ticket"]) == ("cancel_pending", 777)


async def test_close_sent_before_the_open_report_waits_for_it(
    start_server: ServerFactory, world: list[Terminal]
) -> None:
    server = start_server()
    _admin, master, f = await _setup(server, world, {"f1": {}})
    await master.intent("open", 30)
    opened = await f["f1"].command()
    await master.intent("close", 30)
    await f["f1"].no_command(0.4)  # parked: the follower ticket is not known yet
    ticket = await f["f1"].fill(opened)
    closed = await f["f1"].command()
    assert (closed["action"], closed["ticket"]) == ("close", ticket)


async def test_close_only_blocks_opens_but_lets_closes_through_and_paused_blocks_all(
    start_server: ServerFactory, world: list[Terminal]
) -> None:
    server = start_server()
    admin, master, f = await _setup(server, world, {"f1": {}, "f2": {}})
    await master.intent("open", 40)
    t1 = await f["f1"].fill(await f["f1"].command())
    await f["f2"].fill(await f["f2"].command())
    for follower, status in (("f1", "close_only"), ("f2", "paused")):
        response = await admin.request(
            "PUT", f"/admin/v1/accounts/{follower}/subscriptions/m1", json={"status": status}
        )
        assert response.status_code == 200
    await master.intent("open", 41)
    await master.intent("close", 40)
    closed = await f["f1"].command()
    assert (closed["action"], closed["ticket"]) == ("close", t1)
    await f["f2"].no_command(0.3)
    reasons = {(r["master_ticket"], r["reason"]) for r in await copies(admin, "f2")}
    assert {(41, "paused"), (40, "paused")} <= reasons
    assert (41, "close_only") in {
        (r["master_ticket"], r["reason"]) for r in await copies(admin, "f1")
    }


async def test_max_signal_age_expires_opens_but_never_closes(
    start_server: ServerFactory, world: list[Terminal]
) -> None:
    # the in-process worker pauses 400 ms between reading and processing
    server = start_server(COPYGATE_COPIER_TEST_PAUSE_AFTER_READ_MS="400")
    admin, master, f = await _setup(server, world, {"f1": {"max_signal_age_ms": 5000}})
    await master.intent("open", 50)
    ticket = await f["f1"].fill(await f["f1"].command())
    response = await admin.request(
        "PUT", "/admin/v1/accounts/f1/subscriptions/m1", json={"max_signal_age_ms": 100}
    )
    assert response.status_code == 200
    await master.intent("open", 51)
    await master.intent("close", 50)
    closed = await f["f1"].command()
    assert (closed["action"], closed["ticket"]) == ("close", ticket)
    expired = next(r for r in await copies(admin, "f1") if r["master_ticket"] == 51)
    assert expired["reason"] == "signal_expired"


async def test_offline_follower_gets_its_backlog_and_an_acked_command_never_comes_back(
    start_server: ServerFactory, world: list[Terminal]
) -> None:
    server = start_server()
    _admin, master, f = await _setup(server, world, {"f1": {}})
    follower = f["f1"]
    await follower.disconnect()  # offline (its InitRequest symbols are remembered)
    for ticket in (60, 61):
        await master.intent("open", ticket)
    await asyncio.sleep(0.3)
    await follower.connect()
    backlog = [await follower.command(), await follower.command()]
    assert [c["master_ticket"] for c in backlog] == [60, 61]
    await asyncio.sleep(0.7)  # a heartbeat acknowledges both
    await follower.disconnect()
    await follower.connect(ack_seq=0)  # even an EA that forgot what it processed
    await follower.no_command(0.5)


async def test_reconnecting_follower_snapshot_marks_a_gone_position_closed_for_good(
    start_server: ServerFactory, world: list[Terminal]
) -> None:
    server = start_server()
    admin, master, f = await _setup(server, world, {"f1": {}})
    await master.intent("open", 70)
    await f["f1"].fill(await f["f1"].command())
    await f["f1"].disconnect()
    await f["f1"].connect()
    await f["f1"].snapshot([])  # its SL was hit while it was away

    async def gone() -> bool:
        return any(r["status"] == "closed_at_broker" for r in await copies(admin, "f1"))

    assert await wait_for(gone)
    await master.intent("close", 70)
    await f["f1"].no_command(0.4)
    close = next(r for r in await copies(admin, "f1") if r["action"] == "close")
    assert close["reason"] == "link_closed"


async def test_reconnecting_master_snapshot_propagates_closes_made_offline(
    start_server: ServerFactory, world: list[Terminal]
) -> None:
    server = start_server()
    _admin, master, f = await _setup(server, world, {"f1": {}, "f2": {}})
    await master.intent("open", 80)
    await master.intent("open", 81)
    tickets = {}
    for name in ("f1", "f2"):
        for _ in range(2):
            command = await f[name].command()
            tickets[(name, command["master_ticket"])] = await f[name].fill(command)
    await master.disconnect()
    await master.connect()
    await master.snapshot(
        [
            {
                "ticket": 81,
                "symbol": "EURUSD",
                "side": "buy",
                "volume": 1.0,
                "open_price": 1.1,
                "sl": 1.09,
                "tp": 1.12,
            }
        ]
    )
    for name in ("f1", "f2"):
        closed = await f[name].command()
        assert (closed["action"], closed["ticket"]) == ("close", tickets[(name, 80)])
        await f[name].no_command(0.2)
