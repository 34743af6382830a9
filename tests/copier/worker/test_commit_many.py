"""COMMIT_MANY, LOAD_MANY and the decoded-record cache, over the store (embedded and real Redis).

Many followers' decisions are committed in one script call, each still checked
against its own record version; a (version, epoch) pair names one stored
content, so a record is decoded from the cache only while Redis holds that pair.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

import orjson
import pytest
from redis.exceptions import ResponseError

from copier.core import MasterSignal, derive_command_id
from copier.worker import CopierWorker
from copier.worker.codec import decode_follower, encode_copy
from copier.worker.decide import FollowerWrite, decide_signal, merge_writes
from copier.worker.lua import COMMIT_MANY, commit_templates
from copier.worker.ops import commit_decision, netstrings
from copier.worker.pump import FAN_OUT_PART
from copier.worker.store import FollowerStore
from gateway.errors import StoreUnavailable
from gateway.store.ports import DeliveryLog, EnqueueResult
from schemas.subscriptions import SubscriptionSettings
from tests.copier.core.builders import intent
from tests.copier.worker.world import MASTER, World

SETTINGS = SubscriptionSettings()


async def _open(store: FollowerStore, world: World, follower: str, ticket: int) -> FollowerWrite:
    """A decision to copy a master open of `ticket`, on the record as `store` loads it."""
    loaded = (await store.load({follower: None}))[follower]
    signal = MasterSignal(MASTER, f"i-{ticket}", intent(ticket=ticket), world.clock(), None)
    return decide_signal(signal, SETTINGS, loaded.record, loaded.ctx, world.clock())


async def _tickets(store: FollowerStore, follower: str) -> set[int]:
    record = (await store.load({follower: None}))[follower].record
    return {root for _master, root in record.links.links}


async def test_a_decision_on_a_stale_version_writes_nothing_while_the_others_apply(
    world: World,
) -> None:
    await world.follower("f1")
    await world.follower("f2")
    store = world.worker.follower_store
    stale = await _open(store, world, "f1", 100)
    fresh = await _open(store, world, "f2", 100)
    other = world.another_worker("w2").follower_store
    assert await other.commit([await _open(other, world, "f1", 200)], now_ms=world.clock()) == [
        True
    ]
    assert await store.commit([stale, fresh], now_ms=world.clock()) == [False, True]
    keys = store.ckeys
    fields = await world.client.hgetall(keys.follower_state("f1"))
    f1 = decode_follower("f1", int(fields[b"v"]), fields, stale.before.breaker)
    assert {root for _m, root in f1.links.links} == {200}
    lost = derive_command_id(MASTER, "i-100", "f1")
    assert await world.client.hexists(keys.copies("f1"), lost) == 0
    assert await world.client.hexists(keys.outbox("f1"), lost) == 0
    assert await _tickets(store, "f2") == {100}


async def test_a_record_changed_by_another_worker_is_read_again(world: World) -> None:
    await world.follower("f1")
    mine = world.worker.follower_store
    assert await mine.commit([await _open(mine, world, "f1", 100)], now_ms=world.clock()) == [True]
    other = world.another_worker("w2").follower_store
    assert await other.commit([await _open(other, world, "f1", 200)], now_ms=world.clock()) == [
        True
    ]
    assert await _tickets(mine, "f1") == {100, 200}


async def test_a_deleted_and_re_created_record_is_never_taken_from_the_cache(world: World) -> None:
    await world.follower("f1")
    mine = world.worker.follower_store
    assert await mine.commit([await _open(mine, world, "f1", 100)], now_ms=world.clock()) == [True]
    await world.client.delete(mine.ckeys.follower_state("f1"))
    other = world.another_worker("w2").follower_store
    assert await other.commit([await _open(other, world, "f1", 200)], now_ms=world.clock()) == [
        True
    ]  # version 1 again, under another epoch
    record = (await mine.load({"f1": None}))["f1"].record
    assert record.version == 1
    assert {root for _m, root in record.links.links} == {200}


async def test_many_followers_are_committed_across_several_script_calls(world: World) -> None:
    followers = [f"f{n:03d}" for n in range(260)]  # more than one chunk
    for follower in followers:
        await world.follower(follower, online=False)
    await world.intent("open", 100)
    await world.run()
    store = world.worker.follower_store
    loaded = await store.load(dict.fromkeys(followers))
    assert {f: item.record.version for f, item in loaded.items()} == dict.fromkeys(followers, 1)
    assert world.worker.pump.counters.commands == len(followers)


class CrashingDelivery:
    """A delivery log whose writer "dies" once: before the enqueue, or right after it."""

    def __init__(self, inner: DeliveryLog, *, after_enqueue: bool) -> None:
        self._inner = inner  # the real delivery log
        self._after = after_enqueue  # die after the enqueue (else before it)
        self.crashes = 1  # crashes left

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    async def enqueue_many(self, items: Sequence[tuple[str, str, bytes]]) -> list[EnqueueResult]:
        if self.crashes and not self._after:
            self.crashes -= 1
            raise StoreUnavailable("writer died before the enqueue")
        results = await self._inner.enqueue_many(items)
        if self.crashes:
            self.crashes -= 1
            raise StoreUnavailable("writer died before OUTBOX_DONE")
        return results


async def _crash_then_recover(world: World, *, after_enqueue: bool) -> list[dict[str, object]]:
    """An intent whose first writer dies between commit and OUTBOX_DONE; what the follower gets."""
    await world.follower("f1")
    crashing = CrashingDelivery(world.store.delivery, after_enqueue=after_enqueue)
    bundle = replace(world.store, delivery=crashing)
    worker = CopierWorker(bundle, world.worker.settings, clock=world.clock, name="dies")
    await world.intent("open", 100)
    assert await worker.process_batch(1) == 1  # committed; the flush raised: entry pending
    assert crashing.crashes == 0
    world.clock.advance(world.worker.settings.outbox_grace_ms + 1)
    assert await world.worker.pump.sweep() == 1  # the orphaned outbox entry
    await asyncio.sleep(0.08)  # longer than claim_idle_ms
    assert await world.worker.recover() == 1  # re-processed: the copy record exists
    await world.run()
    return await world.commands("f1")


async def test_a_writer_dying_between_commit_and_enqueue_is_recovered_once(world: World) -> None:
    (command,) = await _crash_then_recover(world, after_enqueue=False)
    (copy,) = await world.copies("f1")
    assert copy["command_id"] == command["command_id"]
    assert copy["status"] == "queued" and copy["times"]["command_queued_ms"] is not None
    store = world.worker.follower_store
    assert await world.client.hlen(store.ckeys.outbox("f1")) == 0


async def test_a_writer_dying_between_enqueue_and_outbox_done_is_delivered_once(
    world: World,
) -> None:
    (command,) = await _crash_then_recover(world, after_enqueue=True)
    (copy,) = await world.copies("f1")
    assert copy["command_id"] == command["command_id"] and copy["status"] == "queued"
    store = world.worker.follower_store
    assert await world.client.hlen(store.ckeys.outbox("f1")) == 0
    assert await world.client.zcard(store.ckeys.outbox_index(store.ckeys.partition_of("f1"))) == 0


async def test_each_load_sees_the_latest_heartbeat_equity(world: World) -> None:
    await world.follower("f1", equity=10_000)
    store = world.worker.follower_store
    equities = []
    for equity in (9_000, 9_000, 8_000):
        status = orjson.dumps({"account": {"balance": 10_000, "equity": equity}})
        await world.store.intents.record_ea_state(
            "f1", kind="status", payload=status, now_ms=world.clock()
        )
        equities.append((await store.load({"f1": None}))["f1"].ctx.equity)
    assert equities == [Decimal(9_000), Decimal(9_000), Decimal(8_000)]


async def test_commit_refuses_a_command_outside_its_allow_list_and_writes_nothing(
    world: World,
) -> None:
    await world.follower("f1")
    store = world.worker.follower_store
    write = await _open(store, world, "f1", 100)
    blob: list[bytes] = []
    commit_decision(store.ckeys, write, {}, world.clock(), epoch="e1", out=blob)
    (decision,) = blob
    assert decision.endswith(b"1:0")  # no other writes
    forged = decision[:-3] + netstrings([b"1", b"2", b"DEL", b"x"])  # one op: DEL x
    script = world.client.register_script(COMMIT_MANY)
    with pytest.raises(ResponseError, match="op not allowed: DEL"):
        await script(keys=[], args=[commit_templates(store.ckeys), 1000, forged])
    assert await world.client.exists(store.ckeys.follower_state("f1")) == 0


class FailingFor:
    """A delivery log whose enqueue fails for every batch that holds one account."""

    def __init__(self, inner: DeliveryLog, account: str) -> None:
        self._inner = inner  # the real delivery log
        self._account = account  # the account whose batches fail

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    async def enqueue_many(self, items: Sequence[tuple[str, str, bytes]]) -> list[EnqueueResult]:
        if any(account == self._account for account, _id, _body in items):
            raise StoreUnavailable("enqueue failed")
        return await self._inner.enqueue_many(items)


async def test_a_failing_part_of_a_fan_out_raises_its_error_after_the_other_parts_finish(
    world: World,
) -> None:
    followers = [f"f{n:03d}" for n in range(FAN_OUT_PART + 10)]
    for follower in followers:
        await world.follower(follower)
    bundle = replace(world.store, delivery=FailingFor(world.store.delivery, followers[-1]))
    worker = CopierWorker(bundle, world.worker.settings, clock=world.clock, name="partial")
    signal = MasterSignal(MASTER, "i-1", intent(ticket=100), world.clock(), None)
    with pytest.raises(StoreUnavailable):
        await worker.pump.fan_out(signal)
    assert [len(await world.commands(f)) for f in followers[:FAN_OUT_PART]] == [1] * FAN_OUT_PART
    outbox = world.worker.follower_store.ckeys.outbox(followers[-1])
    assert await world.client.hlen(outbox) == 1  # committed; the sweeper enqueues it


async def test_a_record_without_an_epoch_is_replaced_not_an_error(world: World) -> None:
    await world.follower("f1")
    store = world.worker.follower_store
    key = store.ckeys.follower_state("f1")
    await world.client.hset(key, mapping={"v": 3, "state": b"{}"})  # not written by COMMIT_MANY
    write = await _open(store, world, "f1", 100)
    assert write.before.version == 3 and not write.before.links.links
    assert await store.commit([write], now_ms=world.clock()) == [True]
    fields = await world.client.hgetall(key)
    assert fields[b"v"] == b"4" and b"state" not in fields and fields[b"e"]
    assert await _tickets(store, "f1") == {100}


async def test_records_created_by_one_commit_call_each_get_their_own_epoch(world: World) -> None:
    followers = [f"f{n}" for n in range(3)]
    for follower in followers:
        await world.follower(follower, online=False)
    store = world.worker.follower_store
    writes = [await _open(store, world, f, 100) for f in followers]
    assert await store.commit(writes, now_ms=world.clock()) == [True, True, True]
    epochs = [await world.client.hget(store.ckeys.follower_state(f), "e") for f in followers]
    assert None not in epochs
    assert len(set(epochs)) == len(followers)


async def test_a_decision_with_many_copies_and_outbox_entries_stores_each_and_the_earliest_due(
    world: World,
) -> None:
    await world.follower("f1")
    store = world.worker.follower_store
    loaded = (await store.load({"f1": None}))["f1"]
    now = world.clock()
    record, parts = loaded.record, []
    for ticket in range(100, 103):
        signal = MasterSignal(MASTER, f"i-{ticket}", intent(ticket=ticket), now, None)
        write = decide_signal(signal, SETTINGS, record, loaded.ctx, now)
        parts.append(write)
        record = write.after
    merged = merge_writes(parts)
    # the outbox entries due latest first: the index must still hold the earliest
    dues = (now + 9_000, now + 7_000, now + 8_000)
    outbox = tuple(replace(i, due_ms=d) for i, d in zip(merged.outbox, dues, strict=True))
    assert await store.commit([replace(merged, outbox=outbox)], now_ms=now) == [True]
    ids = [c.command_id for c in merged.copies]
    assert await world.client.hmget(store.ckeys.copies("f1"), ids) == [
        encode_copy(c) for c in merged.copies
    ]
    index = await world.client.zrange(store.ckeys.copies_index("f1"), 0, -1, withscores=True)
    assert sorted(index) == sorted((i.encode(), float(now)) for i in ids)
    outboxed = await world.client.hgetall(store.ckeys.outbox("f1"))
    version = loaded.record.version + 1  # each value carries its decision order
    assert outboxed == {
        i.envelope_id.encode(): b"%d|%d.%d|%s" % (i.due_ms, version, n, i.body)
        for n, i in enumerate(outbox)
    }
    index_key = store.ckeys.outbox_index(store.ckeys.partition_of("f1"))  # f1's partition's
    assert await world.client.zscore(index_key, "f1") == now + 7_000
