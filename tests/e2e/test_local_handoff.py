"""The local handoff over the wire: `copygate serve` with its in-process copier.

A follower connected to the node whose copier logs its commands gets them
handed straight to its connection (counted by
``copygate_local_handoff_offers{outcome="handed"}``), once each, in seq order; a
reconnect replays what it did not acknowledge; a follower on another node gets
them through the event bus and the log read as before.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.e2e.conftest import ServerFactory
from tests.e2e.copier_harness import Terminal, setup
from tests.e2e.harness import Server


@pytest.fixture
async def world() -> AsyncIterator[list[Terminal]]:
    terminals: list[Terminal] = []
    yield terminals
    for terminal in terminals:
        await terminal.disconnect()


async def handed(server: Server) -> float:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        text = (await client.get("/metrics")).text
    found = re.search(r'copygate_local_handoff_offers\{outcome="handed"\} (\S+)', text)
    assert found is not None, text
    return float(found.group(1))


async def frames_of(terminal: Terminal, count: int) -> list[dict[str, object]]:
    queue = terminal.queue("OrderCommand")
    frames = [await asyncio.wait_for(queue.get(), 5) for _ in range(count)]
    await asyncio.sleep(0.5)
    assert queue.empty(), "a command was sent twice"
    return frames


async def test_commands_for_a_follower_on_the_copiers_node_are_handed_once_and_in_order(
    start_server: ServerFactory, world: list[Terminal]
) -> None:
    server = start_server()
    _, master, followers = await setup(server, {"f1": {}})
    world.extend([master, *followers.values()])

    for ticket in range(1, 6):
        await master.intent("open", ticket, volume=0.1)
    frames = await frames_of(followers["f1"], 5)

    seqs = [frame["seq"] for frame in frames]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    assert len({f["id"] for f in frames}) == 5
    assert await handed(server) >= 1


async def test_a_follower_that_reconnects_gets_again_what_it_did_not_acknowledge(
    start_server: ServerFactory, world: list[Terminal]
) -> None:
    server = start_server()
    _, master, followers = await setup(server, {"f1": {}})
    follower = followers["f1"]
    world.extend([master, follower])
    follower.ack_commands = False

    for ticket in (1, 2):
        await master.intent("open", ticket, volume=0.1)
    first = await frames_of(follower, 2)
    assert await handed(server) >= 1
    await follower.disconnect()
    await follower.connect(ack_seq=0)
    again = await frames_of(follower, 2)

    assert [f["id"] for f in again] == [f["id"] for f in first]


async def test_a_follower_on_another_node_still_gets_its_commands_through_the_event_bus(
    start_server: ServerFactory, world: list[Terminal]
) -> None:
    copier_node = start_server()
    other_node = start_server(COPYGATE_COPIER_IN_PROCESS="false")
    _, master, followers = await setup(copier_node, {"f1": {}}, connect=False)
    followers["f1"].server = other_node
    world.extend([master, followers["f1"]])
    await asyncio.gather(master.connect(), followers["f1"].connect())

    for ticket in (1, 2, 3):
        await master.intent("open", ticket, volume=0.1)
    frames = await frames_of(followers["f1"], 3)

    assert len({f["id"] for f in frames}) == 3
    assert await handed(copier_node) == 0 and await handed(other_node) == 0
