"""Decisions built by hand for the outbox tests: a follower's copies of master opens."""

from __future__ import annotations

from copier.core import MasterSignal
from copier.worker.decide import FollowerWrite, decide_signal, merge_writes
from schemas.subscriptions import SubscriptionSettings
from tests.copier.core.builders import intent
from tests.copier.worker.world import MASTER, World

SETTINGS = SubscriptionSettings()


async def decide_opens(world: World, *tickets: int, follower: str = "f1") -> FollowerWrite:
    """One decision (not committed) copying master opens of `tickets`, in order, on the
    follower's record as the store loads it now."""
    loaded = (await world.worker.follower_store.load({follower: None}))[follower]
    record, parts = loaded.record, []
    for ticket in tickets:
        signal = MasterSignal(MASTER, f"i-{ticket}", intent(ticket=ticket), world.clock(), None)
        write = decide_signal(signal, SETTINGS, record, loaded.ctx, world.clock())
        parts.append(write)
        record = write.after
    return merge_writes(parts)
