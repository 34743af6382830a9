"""Intents in batches: a master's waiting intents are one load/decide/commit per follower."""

from __future__ import annotations

from tests.copier.worker.world import World


async def test_worker_commits_a_master_s_waiting_intents_once_per_follower_in_their_order(
    world: World,
) -> None:
    for follower in ("f1", "f2"):
        await world.follower(follower)
    await world.intent("open", 100)
    await world.intent("open", 101)
    await world.intent("close", 100)
    await world.run()
    counters = world.worker.pump.counters
    assert (counters.intents, counters.decisions) == (3, 2)  # one merged write per follower
    for follower in ("f1", "f2"):
        opens = [(c["action"], c["master_ticket"]) for c in await world.commands(follower)]
        assert opens == [("open", 100), ("open", 101)]
        statuses = {
            (c["master_ticket"], c["action"]): c["status"] for c in await world.copies(follower)
        }
        assert statuses[(100, "close")] == "waiting"  # parked behind the open's fill


async def test_worker_decides_only_the_intents_not_yet_committed_when_a_batch_is_re_read(
    world: World,
) -> None:
    await world.follower("f1")
    await world.intent("open", 100)
    await world.run()
    assert len(await world.commands("f1")) == 1
    await world.intent("open", 100, intent_id=None)  # a different intent for a known ticket
    await world.intent("open", 101)
    entries = await world.worker.streams.read(1)
    await world.worker.pump.on_intent_entries({"master-1": entries})
    again = [c["master_ticket"] for c in await world.commands("f1")]
    await world.worker.pump.on_intent_entries({"master-1": entries})  # e.g. died before XACK
    assert again == [101] and await world.commands("f1") == []
