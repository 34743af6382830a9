"""Reports in batches: the worker folds every waiting ExecutionReport into one step."""

from __future__ import annotations

from tests.copier.worker.world import World


async def _two_followers_with_a_close_parked_on_ticket_100(world: World) -> None:
    for follower in ("f1", "f2"):
        await world.follower(follower)
    await world.intent("open", 100)
    await world.intent("close", 100)
    await world.run()


async def test_worker_applies_many_followers_reports_in_one_step_when_they_wait_together(
    world: World,
) -> None:
    followers = [f"f{i}" for i in range(12)]
    for follower in followers:
        await world.follower(follower)
    await world.intent("open", 100)
    await world.run()
    for n, follower in enumerate(followers):
        (command,) = await world.commands(follower)
        await world.report(follower, command["command_id"], "filled", ticket=500 + n, volume=1.0)
    steps = world.worker.pump.counters.report_steps
    await world.run()
    # one step per stream: one on a single Redis, one per partition on a cluster
    assert world.worker.pump.counters.report_steps == steps + world.partitions(*followers)
    for n, follower in enumerate(followers):
        (copy,) = await world.copies(follower)
        assert (copy["status"], copy["follower_ticket"]) == ("filled", 500 + n)


async def test_worker_releases_a_parked_close_in_the_step_that_applies_the_open_s_fill(
    world: World,
) -> None:
    await _two_followers_with_a_close_parked_on_ticket_100(world)
    for n, follower in enumerate(("f1", "f2")):
        (opened,) = await world.commands(follower)
        await world.report(follower, opened["command_id"], "filled", ticket=700 + n, volume=1.0)
    steps = world.worker.pump.counters.report_steps
    await world.run()
    assert world.worker.pump.counters.report_steps == steps + world.partitions("f1", "f2")
    for n, follower in enumerate(("f1", "f2")):
        (closed,) = await world.commands(follower)
        assert (closed["action"], closed["ticket"]) == ("close", 700 + n)


async def test_worker_applies_one_follower_s_several_reports_in_order_in_one_step(
    world: World,
) -> None:
    await world.follower("f1")
    await world.intent("open", 100)
    await world.intent("open", 101)
    await world.intent("close", 100)
    await world.run()
    first, second = await world.commands("f1")
    await world.report("f1", first["command_id"], "filled", ticket=900, volume=1.0)
    await world.report("f1", second["command_id"], "filled", ticket=901, volume=1.0)
    await world.report("f1", first["command_id"], "filled", ticket=900, volume=1.0)  # again
    steps = world.worker.pump.counters.report_steps
    await world.run()
    assert world.worker.pump.counters.report_steps == steps + 1
    assert world.worker.pump.counters.reports == 3
    (closed,) = await world.commands("f1")
    assert (closed["action"], closed["ticket"]) == ("close", 900)
    copies = sorted(
        (c["master_ticket"], c["action"], c["status"]) for c in await world.copies("f1")
    )
    assert copies == [(100, "close", "queued"), (100, "open", "filled"), (101, "open", "filled")]


async def test_worker_catches_up_a_follower_s_earlier_report_held_elsewhere_before_its_batch(
    world: World,
) -> None:
    await _two_followers_with_a_close_parked_on_ticket_100(world)
    opened = {f: (await world.commands(f))[0]["command_id"] for f in ("f1", "f2")}
    await world.report("f1", opened["f1"], "filled", ticket=3, volume=1.0)
    assert len(await world.worker.streams.read(1)) == 1  # w1 holds it, unprocessed
    await world.report("f1", opened["f1"], "filled", ticket=999, volume=1.0)  # a late duplicate
    await world.report("f2", opened["f2"], "filled", ticket=4, volume=1.0)
    other = world.another_worker("w2")
    assert await other.process_batch(1) == 2
    closes = {f: (await world.commands(f))[0] for f in ("f1", "f2")}
    assert {f: (c["action"], c["ticket"]) for f, c in closes.items()} == {
        "f1": ("close", 3),
        "f2": ("close", 4),
    }
