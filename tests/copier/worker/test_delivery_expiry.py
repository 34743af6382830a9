"""Issue 13, item 8: the gateway never hands an expired open to a transport.

An open whose ``expires_at`` (the copier's planning time + the subscription's
``max_signal_age_ms``) has passed when a transport would send it is replaced, at
its seq, by an informational ``ErrorAlert{signal_expired}``, and the copier records
the copy as expired with reason ``signal_expired``. The EA's own expiry check stays
as a second line for commands it was already handed.
"""

from __future__ import annotations

from tests.copier.worker.world import World


async def test_expired_open_is_not_handed_to_the_follower_and_is_recorded(world: World) -> None:
    await world.follower("f1", max_signal_age_ms=1_000)
    await world.intent("open", ticket=7)
    await world.run()
    world.clock.advance(5_000)  # the follower's session reads the log only now

    delivered = await world.delivered("f1")

    assert [e["type"] for e in delivered] == ["ErrorAlert"]
    (copy,) = await world.copies("f1")
    assert delivered[0]["payload"]["code"] == "signal_expired"
    assert delivered[0]["payload"]["ref_id"] == copy["command_id"]
    await world.run()
    (copy,) = await world.copies("f1")
    assert (copy["status"], copy["reason"]) == ("expired", "signal_expired")


async def test_open_still_in_time_is_handed_out_unchanged(world: World) -> None:
    await world.follower("f1", max_signal_age_ms=60_000)
    await world.intent("open", ticket=7)
    await world.run()
    world.clock.advance(5_000)

    (command,) = await world.commands("f1")

    assert command["action"] == "open" and command["expires_at"] > world.clock()


async def test_open_handed_out_before_it_expired_is_sent_again_unchanged(world: World) -> None:
    await world.follower("f1", max_signal_age_ms=1_000)
    await world.intent("open", ticket=7)
    await world.run()
    sid = world.sessions["f1"]
    first = await world.store.delivery.read("f1", sid, after_seq=0)  # handed out, not acked
    await world.store.delivery.settled()  # type: ignore[attr-defined]
    world.clock.advance(5_000)

    again = await world.store.delivery.read("f1", sid, after_seq=0)

    assert [e.body for e in again] == [e.body for e in first]
    assert b'"OrderCommand"' in again[0].body  # the EA's own expiry check decides


async def test_closes_never_expire_on_the_way_out(world: World) -> None:
    await world.follower("f1", max_signal_age_ms=1_000)
    await world.intent("open", ticket=7)
    await world.run()
    (opened,) = await world.commands("f1")
    await world.report("f1", opened["command_id"], "filled", ticket=70, volume=1.0, price=1.1)
    await world.run()
    await world.intent("close", ticket=7)
    await world.run()
    world.clock.advance(60_000)

    (close,) = await world.commands("f1")

    assert close["action"] == "close"
