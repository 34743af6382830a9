"""Key layouts: unchanged names on a single Redis; one slot per partition on a cluster."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from gateway.store.keys import RedisKeys, partition_tags


def test_single_redis_layout_keeps_the_account_tag_and_global_names() -> None:
    keys = RedisKeys("cg")
    assert keys.account("acme") == "cg:{acme}:account"
    assert keys.session("acme", "s1") == "cg:{acme}:session:s1"
    assert keys.intent_stream() == "cg:intents"
    assert keys.heartbeat_deadlines() == "cg:heartbeat-deadlines"
    assert (keys.partition_count, keys.partition_of("acme"), keys.cluster) == (1, 0, False)


def test_each_partition_tag_lies_in_its_own_equal_slot_range() -> None:
    for partitions in (1, 3, 16, 64):
        for n, tag in enumerate(partition_tags(partitions)):
            slot = key_slot(tag.encode())
            assert n * REDIS_CLUSTER_HASH_SLOTS // partitions <= slot
            assert slot < (n + 1) * REDIS_CLUSTER_HASH_SLOTS // partitions


@settings(deadline=None)  # the first example computes the partition tags
@given(account=st.text(min_size=1, max_size=40).filter(lambda a: "{" not in a and "}" not in a))
def test_every_key_of_an_account_shares_the_slot_of_its_partitions_indexes(account: str) -> None:
    keys = RedisKeys("cg", partitions=16)
    n = keys.partition_of(account)
    slots = {
        key_slot(name.encode())
        for name in (
            keys.account(account),
            keys.session(account, "s1"),
            keys.delivery_log(account),
            keys.account_events(account),
            keys.intent_stream(n),
            keys.ea_inbox_stream(n),
            keys.heartbeat_deadlines(n),
            keys.closed_sessions(n),
            keys.session_counts(n),
        )
    }
    assert len(slots) == 1


def test_pinned_keys_place_any_account_in_the_given_partition() -> None:
    keys = RedisKeys("cg", partitions=16)
    assert keys.pinned(5).account("x") == keys.pinned(5).account("y").replace(":y:", ":x:")
    assert key_slot(keys.pinned(5).account("\x01").encode()) == key_slot(
        keys.intent_stream(5).encode()
    )
