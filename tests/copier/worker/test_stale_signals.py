"""Issue 11, item 4: intents that waited in the stream past `max_signal_age_ms`.

Under overload an intent can wait in the stream longer than its subscription's
`max_signal_age_ms` (measured from the stream entry's time). When the worker
finally plans it, a stale open is skipped as `signal_expired` (nothing is sent),
while a close of the same age is still copied: closes never expire.
"""

from __future__ import annotations

from tests.copier.worker.world import World


async def test_an_open_that_waited_past_its_max_age_is_skipped_as_signal_expired_when_planned(
    world: World,
) -> None:
    await world.follower("f1", max_signal_age_ms=1_000)
    await world.intent("open", ticket=7)
    world.clock.advance(5_000)  # the copier was behind: it plans the open only now

    await world.run()

    assert await world.commands("f1") == []
    (copy,) = await world.copies("f1")
    assert (copy["status"], copy["reason"]) == ("skipped", "signal_expired")


async def test_a_close_that_waited_as_long_is_still_copied(world: World) -> None:
    await world.follower("f1", max_signal_age_ms=1_000)
    await world.intent("open", ticket=7)
    await world.run()
    (opened,) = await world.commands("f1")
    await world.report("f1", opened["command_id"], "filled", ticket=555, volume=1.0, price=1.1)
    await world.run()
    await world.intent("close", ticket=7)
    world.clock.advance(5_000)  # as stale as the skipped open above

    await world.run()

    (closed,) = await world.commands("f1")
    assert (closed["action"], closed["ticket"]) == ("close", 555)
