"""Redis Cluster: `COPYGATE_REDIS_CLUSTER=true` runs the stores on a real cluster; a
cluster node given as a single server (or a single server given as a cluster) is
refused at startup with a clear error, not MOVED/CROSSSLOT errors later.

The store contract suites themselves run on the cluster too (the ``cluster`` param
of `redis_client` in this package's conftest).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from redis.asyncio.cluster import RedisCluster

from gateway.errors import UnsupportedStore
from gateway.settings import Settings
from gateway.store.factory import open_store
from gateway.store.sharded_bus import PartitionedEventBus
from tests.redis_topologies import ClusterNodes, RedisProcess, cli, free_redis_ports


def test_the_cluster_fixture_serves_every_slot_with_three_primaries_and_three_replicas(
    redis_cluster_nodes: ClusterNodes,
) -> None:
    info = cli(redis_cluster_nodes.nodes[0].port, "CLUSTER", "INFO")
    assert "cluster_state:ok" in info
    assert "cluster_slots_assigned:16384" in info
    assert "cluster_size:3" in info
    assert "cluster_known_nodes:6" in info


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("redis+cluster://127.0.0.1:7000", "set COPYGATE_REDIS_CLUSTER=true"),
        ("rediss+cluster://h:7000", "set COPYGATE_REDIS_CLUSTER=true"),
        ("http://127.0.0.1:6379", "expected a redis://, rediss:// or unix:// URL"),
    ],
)
def test_settings_refuse_urls_that_are_not_redis_urls(url: str, error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        Settings(redis_url=url)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({}, "needs COPYGATE_REDIS_URL"),
        ({"redis_url": "redis://h:7000", "redis_sentinels": "h:26379"}, "exclude each other"),
        (
            {"redis_url": "redis://h:7000", "redis_wait_replicas": 1},
            "not supported on Redis Cluster",
        ),
    ],
)
def test_settings_refuse_cluster_combinations_that_cannot_work(
    options: dict[str, object], error: str
) -> None:
    with pytest.raises(ValidationError, match=error):
        Settings(redis_cluster=True, **options)  # type: ignore[arg-type]


async def test_open_store_refuses_a_cluster_node_given_as_a_single_server(
    redis_cluster_nodes: ClusterNodes,
) -> None:
    with pytest.raises(UnsupportedStore, match=r"Cluster node.*COPYGATE_REDIS_CLUSTER=true"):
        await open_store(Settings(redis_url=redis_cluster_nodes.url))


async def test_open_store_refuses_a_single_server_given_as_a_cluster(
    real_redis_url: str,
) -> None:
    with pytest.raises(UnsupportedStore, match="without cluster mode"):
        await open_store(Settings(redis_url=real_redis_url, redis_cluster=True))


async def test_open_store_on_a_cluster_uses_the_cluster_client_and_partitioned_keys(
    redis_cluster_nodes: ClusterNodes,
) -> None:
    bundle = await open_store(
        Settings(redis_url=redis_cluster_nodes.url, redis_cluster=True, key_prefix="cgtest-open")
    )
    try:
        assert isinstance(bundle.redis, RedisCluster)
        assert not bundle.embedded
        assert bundle.keys.partition_count == 16
        assert isinstance(bundle.bus, PartitionedEventBus)  # sharded pub/sub
        created = await bundle.sessions.create_session(
            account_id="acme-1",
            session_id="s-open",
            token_hash="h",
            key_id=None,
            authenticated=True,
            now_ms=1_000,
            heartbeat_timeout_ms=15_000,
            max_pending_sessions=3,
        )
        assert await bundle.sessions.get_session("s-open") == created.session
        await bundle.sessions.close_session("s-open", reason="client_shutdown", now_ms=2_000)
    finally:
        async for name in bundle.redis.scan_iter(match="cgtest-open:*"):
            await bundle.redis.delete(name)
        await bundle.aclose()


async def test_open_store_accepts_a_primary_whose_acl_forbids_info(tmp_path: Path) -> None:
    (port,) = free_redis_ports(1)
    server = RedisProcess(port, tmp_path / "redis").start()
    try:
        cli(port, "ACL", "SETUSER", "app", "on", ">pw", "~*", "&*", "+@all", "-info")
        bundle = await open_store(Settings(redis_url=f"redis://app:pw@127.0.0.1:{port}/0"))
        await bundle.aclose()
        assert not bundle.embedded
    finally:
        server.stop()
