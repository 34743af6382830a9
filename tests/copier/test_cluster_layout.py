"""The copier's part of the Redis Cluster layout: partitions consumed, writes by slot."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from copier.keys import CopierKeys
from copier.settings import CopierSettings
from gateway.store.keys import RedisKeys


@pytest.mark.parametrize(
    ("setting", "count", "consumed"),
    [
        (None, 16, list(range(16))),
        ("0-3,12", 16, [0, 1, 2, 3, 12]),
        ("5", 16, [5]),
        ("3-4,4-5", 8, [3, 4, 5]),
        ("7", 1, [0]),  # a single Redis has one partition whatever is set
    ],
)
def test_a_worker_consumes_the_configured_partitions(
    setting: str | None, count: int, consumed: list[int]
) -> None:
    assert CopierSettings(partitions=setting).partitions_of(count) == consumed


@pytest.mark.parametrize("setting", ["16", "3-2", "x", "-1"])
def test_partitions_outside_the_layout_are_refused(setting: str) -> None:
    with pytest.raises(ValueError):
        CopierSettings(partitions=setting).partitions_of(16)


def test_streams_bookkeeping_shares_the_slot_of_its_stream_and_accounts() -> None:
    gateway = RedisKeys("cg", partitions=16)
    keys = CopierKeys.of(gateway)
    n = gateway.partition_of("f1")
    stream = gateway.intent_stream(n)
    slots = {
        key_slot(name.encode())
        for name in (
            stream,
            keys.marks(stream),
            keys.failures(stream),
            keys.outbox_index(n),
            keys.follower_state("f1"),
            keys.partition_lock("f1"),
        )
    }
    assert len(slots) == 1


def test_a_decision_s_writes_to_other_accounts_are_set_apart_on_a_cluster() -> None:
    ops = [["HSET", "{cg}:x", "a", "b"]]
    for keys in (CopierKeys("cg"), CopierKeys.of(RedisKeys("cg", partitions=16))):
        local = [["HSET", keys.subscriptions("f1"), "m1", "{}"]]
        master = [["HSET", keys.followers("m1"), "f1", "{}"]]
        audit = [["XADD", keys.global_audit(), "*", "k", "v"]]
        split = keys.split_by_slot("f1", local + master + audit)
        if keys.cluster:
            assert split == (local, master + audit)
        else:
            assert split == (local + master + audit, [])
    assert CopierKeys("cg").split_by_slot("f1", ops) == (ops, [])


def test_a_masters_fan_out_stream_last_ids_and_shard_locks_share_the_masters_slot() -> None:
    gateway = RedisKeys("cg", partitions=16)
    keys = CopierKeys.of(gateway)
    for master in ("m1", "master-77", "a:b"):
        n = gateway.partition_of(master)
        stream = keys.fan_out_stream(n)
        shard_partitions = [f"{master}#{shard}" for shard in range(8)]
        slots = {
            key_slot(name.encode())
            for name in (
                gateway.intent_stream(n),
                stream,
                keys.fan_out_last(n),
                keys.marks(stream),
                keys.failures(stream),
                keys.partition_lock(master),
                *(keys.partition_lock(p) for p in shard_partitions),
            )
        }
        assert len(slots) == 1
        assert {keys.partition_of(p) for p in shard_partitions} == {n}


def test_the_fan_out_keys_keep_their_names_on_a_single_redis() -> None:
    keys = CopierKeys("cg")
    assert keys.fan_out_stream() == "cg:copier:fan-out"
    assert keys.fan_out_last() == "cg:copier:fan-out-last"
    assert keys.partition_lock("m1#3") == "cg:{m1#3}:copier-lock"
    assert keys.partition_of("m1#3") == 0
