"""The worker end to end over the store (embedded and real Redis): intents -> commands."""

from __future__ import annotations

import asyncio

from copier.core import derive_command_id
from copier.keys import CONSUMER_GROUP
from tests.copier.worker.world import MASTER, World


async def test_every_follower_gets_its_sized_open_once(world: World) -> None:
    await world.follower("f1")
    await world.follower("f2", allocation={"mode": "mirror", "multiplier": 0.5})
    intent_id = await world.intent("open", 100, volume=0.37)
    await world.run()
    (c1,) = await world.commands("f1")
    (c2,) = await world.commands("f2")
    assert (c1["volume"], c2["volume"]) == (0.37, 0.18)
    assert c1["command_id"] == derive_command_id(MASTER, intent_id, "f1")
    assert c1["expires_at"] > 0 and c1["master_account_id"] == MASTER


async def test_a_follower_of_two_masters_gets_commands_from_both(world: World) -> None:
    await world.ea_state("master-2", equity=10_000)
    await world.follower("f1")
    await world.subscribe("f1", "master-2")
    await world.intent("open", 100)
    await world.intent("open", 200, master="master-2")
    await world.run()
    commands = await world.commands("f1")
    assert sorted(c["master_account_id"] for c in commands) == [MASTER, "master-2"]


async def test_a_re_sent_intent_never_creates_a_second_command(world: World) -> None:
    await world.follower("f1")
    await world.intent("open", 100, intent_id="same")
    await world.run()
    assert len(await world.commands("f1")) == 1  # delivered and acknowledged
    await world.intent("open", 100, intent_id="same")  # the master EA sends it again
    await world.run()
    assert await world.commands("f1") == []


async def test_a_re_processed_entry_is_decided_once(world: World) -> None:
    await world.follower("f1")
    await world.intent("open", 100)
    (entry,) = await world.worker.streams.read(1)
    await world.worker.pump.on_intent_entry(entry)
    assert len(await world.commands("f1")) == 1
    await world.worker.pump.on_intent_entry(entry)  # e.g. a worker died before its XACK
    assert await world.commands("f1") == []


async def test_close_before_the_open_report_waits_then_goes_to_the_reported_ticket(
    world: World,
) -> None:
    await world.follower("f1")
    await world.intent("open", 100, volume=1.0)
    await world.intent("close", 100, volume=1.0)
    await world.run()
    (opened,) = await world.commands("f1")
    statuses = {c["action"]: c["status"] for c in await world.copies("f1")}
    assert statuses == {"open": "queued", "close": "waiting"}
    await world.report("f1", opened["command_id"], "filled", ticket=555, volume=1.0, price=1.1002)
    await world.run()
    (closed,) = await world.commands("f1")
    assert (closed["action"], closed["ticket"], closed["volume"]) == ("close", 555, 1.0)
    copies = {c["action"]: c for c in await world.copies("f1")}
    assert copies["open"]["follower_ticket"] == 555
    assert copies["open"]["slippage"] == 0.0002
    assert copies["close"]["status"] == "queued"


async def test_partial_closes_follow_the_copied_volume_and_the_last_takes_the_rest(
    world: World,
) -> None:
    await world.follower("f1", allocation={"mode": "mirror", "multiplier": 0.33})
    await world.intent("open", 100, volume=1.0)
    await world.run()
    (opened,) = await world.commands("f1")
    await world.report("f1", opened["command_id"], "filled", ticket=7, volume=0.33)
    await world.intent("close", 100, volume=0.5, new_ticket=101)
    await world.run()
    (first,) = await world.commands("f1")
    assert (first["ticket"], first["volume"]) == (7, 0.16)
    await world.report("f1", first["command_id"], "closed", volume=0.16, new_ticket=8)
    await world.intent("close", 101, volume=0.5)
    await world.run()
    (last,) = await world.commands("f1")
    assert (last["ticket"], last["volume"]) == (8, 0.17)


async def test_requote_is_retried_after_backoff_under_a_new_id(world: World) -> None:
    await world.follower("f1")
    await world.intent("open", 100)
    await world.run()
    (opened,) = await world.commands("f1")
    await world.report("f1", opened["command_id"], "rejected", error_code=138)
    await world.run()
    assert await world.commands("f1") == []  # not before the backoff
    world.clock.advance(300)
    await world.run()
    (retry,) = await world.commands("f1")
    assert retry["command_id"] == opened["command_id"] + ".r1"
    await world.report("f1", retry["command_id"], "filled", ticket=9, volume=1.0)
    await world.run()
    (record,) = await world.copies("f1")
    assert (record["status"], record["attempts"], record["follower_ticket"]) == ("filled", 2, 9)


async def test_a_final_rejection_is_recorded_and_never_retried(world: World) -> None:
    await world.follower("f1")
    await world.intent("open", 100)
    await world.run()
    (opened,) = await world.commands("f1")
    await world.report(
        "f1", opened["command_id"], "rejected", error_code=134, error_message="not enough money"
    )
    world.clock.advance(10_000)
    await world.run()
    assert await world.commands("f1") == []
    (record,) = await world.copies("f1")
    assert (record["status"], record["reason"]) == ("rejected", "not_retryable")


async def test_a_duplicate_execution_report_changes_nothing(world: World) -> None:
    await world.follower("f1")
    await world.intent("open", 100)
    await world.run()
    (opened,) = await world.commands("f1")
    await world.report("f1", opened["command_id"], "filled", ticket=5, volume=1.0)
    await world.run()
    before = await world.copies("f1")
    await world.report("f1", opened["command_id"], "filled", ticket=6, volume=2.0)
    await world.run()
    assert await world.copies("f1") == before


async def test_an_offline_follower_gets_its_backlog_when_it_connects(world: World) -> None:
    await world.follower("f1", online=False)
    for ticket in (1, 2, 3):
        await world.intent("open", ticket)
    await world.run()
    await world.connect("f1")
    assert [c["master_ticket"] for c in await world.commands("f1")] == [1, 2, 3]


async def test_a_paused_subscription_copies_nothing_and_records_why(world: World) -> None:
    await world.follower("f1", status="paused")
    await world.intent("open", 100)
    await world.run()
    assert await world.commands("f1") == []
    (record,) = await world.copies("f1")
    assert (record["status"], record["reason"]) == ("skipped", "paused")


async def test_a_killed_worker_s_entries_are_claimed_and_copied_once(world: World) -> None:
    await world.follower("f1")
    await world.intent("open", 100)
    assert len(await world.worker.streams.read(1)) == 1  # read, then "killed": never acked
    await asyncio.sleep(0.1)  # longer than claim_idle_ms
    other = world.another_worker("w2")
    assert await other.recover() == 1
    assert len(await world.commands("f1")) == 1
    pending = await world.client.xpending(
        world.keys.intent_stream(world.keys.partition_of(MASTER)), CONSUMER_GROUP
    )
    assert pending["pending"] == 0


async def test_one_master_s_entries_keep_their_order_across_consumers(world: World) -> None:
    await world.follower("f1")
    await world.intent("open", 100)
    assert len(await world.worker.streams.read(1)) == 1  # w1 holds the open, unprocessed
    await world.intent("modify", 100, sl=1.08)
    other = world.another_worker("w2")
    assert await other.process_batch(1) == 1  # w2 must process the open first (catch-up)
    (opened,) = await world.commands("f1")
    assert opened["action"] == "open"
    await world.report("f1", opened["command_id"], "filled", ticket=3, volume=1.0)
    await world.run(other)
    assert [c["action"] for c in await world.commands("f1")] == ["modify"]
    await asyncio.sleep(0.1)
    await world.worker.recover()  # w1's entry: already processed -> only acked
    assert await world.commands("f1") == []
    pending = await world.client.xpending(
        world.keys.intent_stream(world.keys.partition_of(MASTER)), CONSUMER_GROUP
    )
    assert pending["pending"] == 0


async def test_an_entry_that_keeps_failing_goes_to_the_dead_letters(
    redis_client: object, keys: object
) -> None:
    world = await World.create(redis_client, keys, max_failures=2)  # type: ignore[arg-type]
    await world.follower("f1")
    await world.client.xadd(
        world.keys.intent_stream(world.keys.partition_of(MASTER)),
        {"account_id": MASTER, "session_id": "s", "body": b"{not json"},
    )
    await world.run()
    for _ in range(3):
        await asyncio.sleep(0.08)
        await world.worker.recover()
    letters = await world.client.xrange(world.worker.follower_store.ckeys.dead_letters())
    assert len(letters) == 1
    assert b"not valid JSON" in letters[0][1][b"error"]
    await world.intent("open", 100)  # the master's later intents still flow
    await world.run()
    assert len(await world.commands("f1")) == 1
