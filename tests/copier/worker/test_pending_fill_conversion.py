"""A pending copy still pending after the master's fill: cancelled after the grace, opened.

Found by the fault suite (`pending_divergence`): the copy reached the follower after
the master's pending order had filled; the market had left the level, so the copy
stayed pending while the master held a position.
"""

from __future__ import annotations

import pytest

from tests.copier.worker.world import World

GRACE = 3_000


async def _placed_then_master_filled(world: World) -> str:
    """f1's copy of master order 100 placed as ticket 7000; the master's order fills."""
    await world.follower("f1", pending_fill_grace_ms=GRACE)
    await world.intent("place_pending", 100, order_type="limit")
    await world.run()
    (place,) = await world.commands("f1")
    assert place["action"] == "place_pending"
    await world.report("f1", place["command_id"], "placed", ticket=7000)
    await world.run()
    await world.intent("open", 100)  # the master's fill
    await world.run()
    assert await world.commands("f1") == []  # the copy may still fill at its broker
    return str(place["command_id"])


async def test_a_copy_still_pending_after_the_grace_is_cancelled_and_opened_once(
    world: World,
) -> None:
    await _placed_then_master_filled(world)
    world.clock.advance(GRACE + 500)
    await world.run()
    (cancel,) = await world.commands("f1")
    assert (cancel["action"], cancel["ticket"]) == ("cancel_pending", 7000)
    await world.run()
    assert await world.commands("f1") == []  # the open waits for the confirmed cancel
    await world.report("f1", cancel["command_id"], "cancelled", ticket=7000)
    await world.run()
    (opened,) = await world.commands("f1")
    assert (opened["action"], opened["order_type"], opened["volume"]) == ("open", "market", 1.0)
    assert (opened["sl"], opened["tp"]) == (1.09, 1.12)
    await world.report("f1", opened["command_id"], "filled", ticket=7001, volume=1.0)
    await world.report("f1", cancel["command_id"], "cancelled", ticket=7000)  # duplicate
    world.clock.advance(60_000)
    await world.run()
    assert await world.commands("f1") == []
    await world.intent("close", 100)  # the master closes: the market copy is closed
    await world.run()
    (close,) = await world.commands("f1")
    assert (close["action"], close["ticket"]) == ("close", 7001)


async def test_a_copy_that_filled_in_the_grace_has_its_cancel_withdrawn(world: World) -> None:
    place_id = await _placed_then_master_filled(world)
    outbox = world.worker.follower_store.ckeys.outbox("f1")
    assert await world.client.hlen(outbox) == 1  # the scheduled cancel
    await world.report("f1", place_id, "filled", ticket=7000, volume=1.0)
    await world.run()
    assert await world.client.hlen(outbox) == 0  # taken back in the fill's commit
    (fill_copy,) = [c for c in await world.copies("f1") if c["command_id"] != place_id]
    assert (fill_copy["status"], fill_copy["reason"]) == ("skipped", "fills_at_broker")
    await world.intent("close", 100)  # not held behind the cancel: sent at once
    await world.run()
    (close,) = await world.commands("f1")
    assert (close["action"], close["ticket"]) == ("close", 7000)
    world.clock.advance(GRACE + 500)
    await world.run()
    assert await world.commands("f1") == []  # no cancel, no market open, ever


async def test_a_close_parked_behind_the_cancel_is_sent_when_the_copy_fills(
    world: World,
) -> None:
    place_id = await _placed_then_master_filled(world)
    await world.intent("close", 100, volume=0.5, new_ticket=101)  # waits behind the cancel
    await world.run()
    assert await world.commands("f1") == []
    await world.report("f1", place_id, "filled", ticket=7000, volume=1.0)
    await world.run()
    (close,) = await world.commands("f1")
    assert (close["action"], close["ticket"], close["volume"]) == ("close", 7000, 0.5)
    world.clock.advance(GRACE + 500)
    await world.run()
    assert await world.commands("f1") == []


@pytest.mark.parametrize("fill_first", [True, False])
async def test_a_copy_that_filled_after_its_cancel_was_sent_is_kept_and_never_opened_again(
    world: World, fill_first: bool
) -> None:
    place_id = await _placed_then_master_filled(world)
    world.clock.advance(GRACE + 500)
    await world.run()
    (cancel,) = await world.commands("f1")  # handed to the log: too late to withdraw
    assert cancel["action"] == "cancel_pending"
    if fill_first:  # filled just before the cancel reached it, reported first
        await world.report("f1", place_id, "filled", ticket=7000, volume=1.0)
        await world.run()
    await world.report(
        "f1",
        cancel["command_id"],
        "rejected",
        error_code=65544,
        error_message="not a pending order",
    )
    if not fill_first:  # reported after the refusal
        await world.report("f1", place_id, "filled", ticket=7000, volume=1.0)
    breaker = (await world.worker.follower_store.load({"f1": None}))["f1"].record.breaker
    assert breaker.failures == 0  # an expected refusal, not a broker failure
    world.clock.advance(60_000)
    await world.run()
    assert await world.commands("f1") == []  # no market open
    await world.intent("close", 100)
    await world.run()
    (close,) = await world.commands("f1")
    assert (close["action"], close["ticket"]) == ("close", 7000)


async def test_a_master_close_in_the_grace_is_carried_by_the_cancel_without_an_open(
    world: World,
) -> None:
    await _placed_then_master_filled(world)
    await world.intent("close", 100)
    await world.run()
    assert await world.commands("f1") == []
    world.clock.advance(GRACE + 500)
    await world.run()
    (cancel,) = await world.commands("f1")
    assert (cancel["action"], cancel["ticket"]) == ("cancel_pending", 7000)
    await world.report("f1", cancel["command_id"], "cancelled", ticket=7000)
    world.clock.advance(60_000)
    await world.run()
    assert await world.commands("f1") == []


async def test_a_master_partial_close_in_the_grace_is_applied_to_the_market_copy(
    world: World,
) -> None:
    await _placed_then_master_filled(world)
    await world.intent("close", 100, volume=0.5, new_ticket=101)  # waits behind the cancel
    await world.run()
    assert await world.commands("f1") == []
    world.clock.advance(GRACE + 500)
    await world.run()
    (cancel,) = await world.commands("f1")
    await world.report("f1", cancel["command_id"], "cancelled", ticket=7000)
    await world.run()
    (opened,) = await world.commands("f1")
    assert (opened["action"], opened["volume"]) == ("open", 1.0)
    await world.report("f1", opened["command_id"], "filled", ticket=7001, volume=1.0)
    await world.run()
    (close,) = await world.commands("f1")
    assert (close["action"], close["ticket"], close["volume"]) == ("close", 7001, 0.5)
