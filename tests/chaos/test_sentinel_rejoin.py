"""The Sentinel group the fault suite runs on never puts an empty server in charge.

A killed primary comes back as the new primary's replica. Were it promotable
before its sync, a stall of the new primary (longer than the sentinels'
`down-after-milliseconds`) would have the sentinels promote the empty server and
make the stalled primary its replica: the whole data set gone, EAs' keys and
sessions with it (the fault suite's open cause 4, seeds 8000003 and 6000055).
"""

from __future__ import annotations

import subprocess
import threading

import redis

from tests.redis_topologies import SentinelGroup, cli

KEYS = 500


def _fill(port: int) -> None:
    client = redis.Redis(port=port)
    pipe = client.pipeline(transaction=False)
    for index in range(KEYS):
        pipe.set(f"cg-rejoin-{index}", "x" * 64)
    pipe.execute()
    client.close()


def _count(port: int) -> int:
    client = redis.Redis(port=port)
    try:
        return len(list(client.scan_iter(match="cg-rejoin-*", count=1000)))
    finally:
        client.close()


def test_a_primary_stalling_while_the_old_one_rejoins_keeps_its_data_and_its_role(
    sentinel_group: SentinelGroup,
) -> None:
    _fill(sentinel_group.current_primary().port)
    sentinel_group.wait_until_promotable()
    old = sentinel_group.kill_primary()
    new = sentinel_group.wait_for_failover()
    assert _count(new.port) == KEYS

    # The new primary stalls for 3 s (> down-after 1 s + the election) just as the
    # old one restarts: the replica cannot sync meanwhile.
    stall = subprocess.Popen(["redis-cli", "-p", str(new.port), "DEBUG", "SLEEP", "3"])
    rejoined = threading.Thread(target=sentinel_group.rejoin, args=(old,))
    rejoined.start()
    stall.wait(10)
    rejoined.join(40)

    assert not rejoined.is_alive()
    assert sentinel_group.current_primary() is new
    assert "role:master" in cli(new.port, "INFO", "replication")
    assert _count(new.port) == KEYS
    assert _count(old.port) == KEYS


def test_a_killed_primary_comes_back_with_its_data_before_it_syncs(
    sentinel_group: SentinelGroup,
) -> None:
    first = sentinel_group.current_primary()
    _fill(first.port)
    cli(first.port, "WAIT", "1", "1000")
    first.kill()
    first.start()  # alone (not a replica of anyone): what its own files hold

    assert _count(first.port) == KEYS
