"""A Redis Cluster node is refused at startup with a clear error, not CROSSSLOT later."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.errors import UnsupportedStore
from gateway.settings import Settings
from gateway.store.factory import open_store
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
        ("redis+cluster://127.0.0.1:7000", "asks for Redis Cluster"),
        ("rediss+cluster://h:7000", "asks for Redis Cluster"),
        ("http://127.0.0.1:6379", "expected a redis://, rediss:// or unix:// URL"),
    ],
)
def test_settings_refuse_urls_that_are_not_a_single_redis(url: str, error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        Settings(redis_url=url)


async def test_open_store_refuses_a_redis_cluster_node_and_names_the_alternative(
    redis_cluster_nodes: ClusterNodes,
) -> None:
    with pytest.raises(UnsupportedStore, match=r"Redis Cluster is not supported.*Sentinel"):
        await open_store(Settings(redis_url=redis_cluster_nodes.url))


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
