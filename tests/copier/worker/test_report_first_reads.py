"""Reports first: EA events are read in larger batches than intents, and while they are
behind, new intents wait in their stream (embedded store, real Redis, Redis Cluster).

At N followers every copied intent brings N ExecutionReports. Reading as many
reports as intents per round lets the reports (and the closes waiting for their
fills) fall behind without bound; the copier then serves fewer signals the more
it is sent.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copier.worker.group_reader import ReportBackPressure
from copier.worker.stream_entry import StreamEntry
from tests.copier.worker.world import World


def _kinds(entries: list[StreamEntry], world: World) -> tuple[int, int]:
    """(intents, EA events) among `entries`."""
    streams = {world.keys.intent_stream(n) for n in range(world.keys.partition_count)}
    intents = sum(1 for e in entries if e.stream in streams)
    return intents, len(entries) - intents


async def _waiting(world: World, *, intents: int, reports: int) -> None:
    """`intents` master intents and `reports` ExecutionReports of follower f1, unread."""
    for ticket in range(intents):
        await world.intent("open", 100 + ticket)
    for n in range(reports):
        await world.report("f1", f"cmd-{n}", "filled", ticket=500 + n, volume=1.0)


@pytest.fixture
async def small_batches(world: World) -> World:
    """The world's keys and store, read by a worker with 2 intents and 3 reports a read."""
    world.worker = world.another_worker("w-small", batch=2, report_batch=3)
    await world.worker.streams.ensure_groups()
    return world


async def test_reports_are_read_with_their_own_larger_count(world: World) -> None:
    worker = world.another_worker("w-counts", batch=2, report_batch=8)
    await worker.streams.ensure_groups()
    await _waiting(world, intents=5, reports=6)
    assert _kinds(await worker.streams.read(1), world) == (2, 6)


async def test_new_intents_are_left_unread_while_a_full_read_of_reports_says_more_wait(
    small_batches: World,
) -> None:
    world = small_batches
    await _waiting(world, intents=5, reports=7)
    reads = [_kinds(await world.worker.streams.read(1), world) for _ in range(4)]
    # the first read is full of reports: the next two leave intents unread until the
    # reports caught up (the third read was not full), then intents are read again
    assert reads == [(2, 3), (0, 3), (0, 1), (2, 0)]
    assert world.worker.streams.rounds_held_back == 2


async def test_a_close_read_behind_many_fills_is_copied_once_to_every_follower_with_its_fill(
    small_batches: World,
) -> None:
    world = small_batches
    followers = [f"f{n}" for n in range(6)]
    for follower in followers:
        await world.follower(follower)
    await world.intent("open", 100)
    await world.run()
    for n, follower in enumerate(followers):
        (opened,) = await world.commands(follower)
        await world.report(follower, opened["command_id"], "filled", ticket=700 + n, volume=1.0)
    await world.intent("close", 100)
    await world.run()
    for n, follower in enumerate(followers):
        (closed,) = await world.commands(follower)
        assert (closed["action"], closed["ticket"]) == ("close", 700 + n)
    await world.run()
    assert all([await world.commands(f) == [] for f in followers])


@pytest.mark.parametrize(
    ("reads", "held_back"),
    [
        ([], [False]),  # nothing read yet: intents are read
        ([False], [False, False]),  # reports not full: intents are read
        ([True], [False, True]),  # a full read of reports holds the next read's intents back
        ([True, True, False], [False, True, True, False]),  # caught up: intents again
    ],
)
def test_back_pressure_holds_intents_back_only_after_a_full_read_of_reports(
    reads: list[bool], held_back: list[bool]
) -> None:
    pressure = ReportBackPressure()
    seen = [pressure.holds_back()]
    for full in reads:
        pressure.after_read(held_back=seen[-1], reports_full=full)
        seen.append(pressure.holds_back())
    assert seen == held_back


@given(st.lists(st.booleans(), max_size=200), st.integers(min_value=1, max_value=8))
def test_intents_are_never_held_back_more_reads_in_a_row_than_the_bound(
    reports_full: list[bool], bound: int
) -> None:
    pressure = ReportBackPressure(max_rounds=bound)
    in_a_row = 0
    for full in reports_full:
        held = pressure.holds_back()
        in_a_row = in_a_row + 1 if held else 0
        assert in_a_row <= bound
        pressure.after_read(held_back=held, reports_full=full)
