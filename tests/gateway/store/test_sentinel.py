"""Sentinel: the store follows the primary across a failover, and WAIT guards replies."""

from __future__ import annotations

import asyncio
import logging

import pytest
from pydantic import ValidationError

from gateway.errors import StoreUnavailable
from gateway.settings import Settings
from gateway.store.factory import StoreBundle, open_store
from tests.redis_topologies import SentinelGroup, cli


def _settings(group: SentinelGroup, **overrides: object) -> Settings:
    return Settings(
        redis_sentinels=group.sentinel_spec,
        redis_sentinel_master=group.master_name,
        key_prefix="cgsentinel",
        **overrides,  # type: ignore[arg-type]
    )


async def _until_served(bundle: StoreBundle, account: str, within: float = 20.0) -> int:
    """Retry `next_seq` through the failover; the first seq it hands out."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            return await bundle.delivery.next_seq(account)
        except StoreUnavailable:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)


@pytest.mark.parametrize(
    "spec", ["127.0.0.1", "127.0.0.1:", "host:port", "a:1,:2", "127.0.0.1:70000"]
)
def test_settings_refuse_sentinels_that_are_not_host_port_pairs(spec: str) -> None:
    with pytest.raises(ValidationError, match="expected host:port"):
        Settings(redis_sentinels=spec)


def test_settings_read_sentinels_as_host_port_pairs() -> None:
    settings = Settings(redis_sentinels="10.0.0.1:26379, s2:26380")
    assert settings.sentinel_addresses == [("10.0.0.1", 26379), ("s2", 26380)]
    assert settings.shared_store


async def test_store_follows_the_new_primary_across_two_sentinel_failovers(
    sentinel_group: SentinelGroup,
) -> None:
    bundle = await open_store(_settings(sentinel_group, redis_wait_replicas=1))
    first = sentinel_group.current_primary()
    try:
        assert not bundle.embedded
        assert await bundle.delivery.next_seq("acct-1") == 1
        assert not (await bundle.delivery.enqueue("acct-1", "m1", b'{"id":"m1"}')).duplicate

        assert sentinel_group.kill_primary() is first
        assert await _until_served(bundle, "acct-1") == 2  # the counter survived
        second = sentinel_group.wait_for_failover()
        assert second is not first
        assert (await bundle.delivery.enqueue("acct-1", "m1", b'{"id":"m1"}')).duplicate

        sentinel_group.rejoin(first)  # back, empty, as the new primary's replica
        assert sentinel_group.kill_primary() is second
        assert await _until_served(bundle, "acct-1") == 3
        assert sentinel_group.wait_for_failover() is first
        assert (await bundle.delivery.enqueue("acct-1", "m1", b'{"id":"m1"}')).duplicate
    finally:
        await bundle.aclose()


async def test_replies_wait_for_the_replica_and_warn_when_it_does_not_confirm(
    sentinel_group: SentinelGroup, caplog: pytest.LogCaptureFixture
) -> None:
    bundle = await open_store(
        _settings(sentinel_group, redis_wait_replicas=1, redis_wait_timeout_ms=300)
    )
    try:
        with caplog.at_level(logging.WARNING, logger="copygate.store.scripts"):
            await bundle.delivery.enqueue("acct-2", "m1", b'{"id":"m1"}')
            assert not caplog.records  # the healthy replica confirmed
            primary = sentinel_group.current_primary()
            (replica,) = (s for s in sentinel_group.servers if s is not primary)
            asleep = asyncio.create_task(
                asyncio.to_thread(cli, replica.port, "DEBUG", "SLEEP", "1")
            )
            await asyncio.sleep(0.1)
            assert not (await bundle.delivery.enqueue("acct-2", "m2", b'{"id":"m2"}')).full
            await asleep
        assert "only 0 replica(s) confirmed" in caplog.text
        stats = cli(primary.port, "INFO", "commandstats")
        assert "cmdstat_wait:calls=" in stats
    finally:
        await bundle.aclose()
