"""Followers with equal settings hand the planner one settings object (so plans are shared)."""

from __future__ import annotations

from schemas.subscriptions import SubscriptionSettings, SubscriptionView
from tests.copier.worker.world import MASTER, World


async def test_followers_with_equal_settings_share_one_settings_object(world: World) -> None:
    await world.follower("f1")
    await world.follower("f2")
    await world.follower("f3", allocation={"mode": "fixed_lot", "lots": "0.5"})
    store = world.worker.follower_store
    views = await store.followers_of(MASTER)
    shared = {f: store.shared_settings(MASTER, f, v) for f, v in views.items()}
    assert shared["f1"] is shared["f2"] and shared["f1"] is not shared["f3"]
    for follower, settings in shared.items():
        fields = set(SubscriptionSettings.model_fields)
        assert settings.model_dump(include=fields) == views[follower].model_dump(include=fields)


async def test_a_view_the_store_did_not_read_is_used_as_it_is(world: World) -> None:
    view = SubscriptionView(follower_id="f9", master_id=MASTER, updated_ms=1)
    assert world.worker.follower_store.shared_settings(MASTER, "f9", view) is view
