"""Reports in batches: the worker folds every waiting ExecutionReport into one step."""

from __future__ import annotations

from tests.copier.worker.world import World


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
    assert world.worker.pump.counters.report_steps == steps + 1
    for n, follower in enumerate(followers):
        (copy,) = await world.copies(follower)
        assert (copy["status"], copy["follower_ticket"]) == ("filled", 500 + n)


async def test_worker_releases_a_parked_close_in_the_step_that_applies_the_open_s_fill(
    world: World,
) -> None:
    for follower in ("f1", "f2"):
        await world.follower(follower)
    await world.intent("open", 100)
    await world.intent("close", 100)
    await world.run()
    for n, follower in enumerate(("f1", "f2")):
        (opened,) = await world.commands(follower)
        await world.report(follower, opened["command_id"], "filled", ticket=700 + n, volume=1.0)
    steps = world.worker.pump.counters.report_steps
    await world.run()
    assert world.worker.pump.counters.report_steps == steps + 1
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
