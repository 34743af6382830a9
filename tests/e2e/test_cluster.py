"""Redis Cluster end to end: `copygate serve` and a standalone `copygate copier` on a real
3-primary/3-replica cluster (``COPYGATE_REDIS_CLUSTER=true``); a master's trade reaches
followers whose accounts live on every primary, and their fills and the close follow,
planned directly or (a master with many followers) in fan-out shards.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio.cluster import RedisCluster

from copier.keys import CopierKeys
from gateway.store.keys import RedisKeys
from tests.e2e.copier_harness import Terminal, copies, setup, wait_for
from tests.e2e.harness import Server, free_port, server_env
from tests.redis_topologies import ClusterNodes

ROOT = Path(__file__).resolve().parents[2]
#: the master (partition 6, second primary) and followers on the three primaries
MASTER, FOLLOWERS = "m1", ("f1", "f2", "f3")


@pytest.fixture(params=["direct", "shards"])
def fan_out(request: pytest.FixtureRequest) -> str:
    """How the copier plans the master's followers: directly, or in fan-out shards."""
    return str(request.param)


@pytest.fixture
async def cluster_env(
    redis_cluster_nodes: ClusterNodes, prefix: str, fan_out: str
) -> AsyncIterator[dict[str, str]]:
    """The environment of every process of the deployment; its keys are deleted after."""
    yield server_env(
        redis_cluster_nodes.url,
        prefix,
        COPYGATE_REDIS_CLUSTER="true",
        COPYGATE_COPIER_IN_PROCESS="false",
        # three followers make a big master when fanning out in shards
        COPYGATE_COPIER_FAN_OUT_SHARD_FOLLOWERS="2" if fan_out == "shards" else "0",
    )
    client = RedisCluster.from_url(redis_cluster_nodes.url)
    async for name in client.scan_iter(match=f"{prefix}:*", count=1000):
        await client.delete(name)
    await client.aclose()


@pytest.fixture
def cluster_server(tmp_path: Path, cluster_env: dict[str, str]) -> Iterator[Server]:
    server = Server(free_port(), cluster_env)
    server.start(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def copier_process(
    tmp_path: Path, cluster_env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    with (tmp_path / "copier.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "copier", "--workers", "1"],
            env=cluster_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    yield process
    process.terminate()
    process.wait(10)


@pytest.fixture
async def terminals() -> AsyncIterator[list[Terminal]]:
    made: list[Terminal] = []
    yield made
    for terminal in made:
        await terminal.disconnect()


def test_the_accounts_of_the_test_live_on_every_primary(
    redis_cluster_nodes: ClusterNodes,
) -> None:
    keys = RedisKeys("cg", partitions=16)
    # partitions 0-5 | 6-10 | 11-15 are the three primaries' slot ranges
    primaries = {keys.partition_of(a) * 3 // 16 for a in FOLLOWERS}
    assert primaries == {0, 1, 2}


async def test_a_trade_is_copied_to_followers_on_every_primary_of_a_cluster(
    cluster_server: Server,
    copier_process: subprocess.Popen[bytes],
    terminals: list[Terminal],
    redis_cluster_nodes: ClusterNodes,
    prefix: str,
    fan_out: str,
) -> None:
    admin, master, followers = await setup(
        cluster_server, {f: {} for f in FOLLOWERS}, master=MASTER
    )
    terminals.extend([master, *followers.values()])

    await master.intent("open", 10, volume=0.5)
    opens = {f: await t.command(within=15) for f, t in followers.items()}
    assert {(c["action"], c["volume"], c["master_ticket"]) for c in opens.values()} == {
        ("open", 0.5, 10)
    }
    tickets = {f: await followers[f].fill(c) for f, c in opens.items()}
    await master.intent("close", 10, volume=0.5)
    for f, terminal in followers.items():
        close = await terminal.command(within=15)
        assert (close["action"], close["ticket"]) == ("close", tickets[f])

    for f in FOLLOWERS:
        rows = await wait_for(lambda f=f: copies(admin, f), within=10)
        assert [row["master_ticket"] for row in rows] == [10, 10]  # the open and the close
    assert copier_process.poll() is None
    keys = RedisKeys(prefix, partitions=16)
    client = RedisCluster.from_url(redis_cluster_nodes.url)
    try:  # the shard entries went to the master's partition's fan-out stream
        stream = CopierKeys.of(keys).fan_out_stream(keys.partition_of(MASTER))
        assert (await client.xlen(stream) > 0) == (fan_out == "shards")
    finally:
        await client.aclose()
