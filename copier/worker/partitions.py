"""The copier's multi-account script calls on Redis Cluster: one call per partition.

`LOAD_MANY`, `COMMIT_MANY`, `OUTBOX_DONE` and `RECORD_DELIVERED` handle many
accounts in one call. On a single Redis that is one call per chunk; on Redis
Cluster every key of a call must lie in one slot, so accounts are grouped by
partition (`RedisKeys.partition_of`), each call runs with its partition's key
templates and declares one key of the partition (``KEYS[1]``, which routes it).

A decision's writes to *other* accounts (a status change mirrored into the
master's followers hash, the master's and the global audit streams) cannot join
the follower's call there: `CopierKeys.split_by_slot` sets them apart, and the store applies
them right after the call, for the decisions that won their version check.
"""

from __future__ import annotations

from collections.abc import Sequence

from copier.keys import CopierKeys

__all__ = ["chunks", "keyed_call"]


def chunks(keys: CopierKeys, accounts: Sequence[str], size: int) -> list[tuple[int, list[int]]]:
    """(partition, indexes into `accounts`) of each call: at most `size` accounts of one
    partition per call; on a single Redis, consecutive chunks of partition 0."""
    if keys.layout is None:
        return [
            (0, list(range(i, min(i + size, len(accounts))))) for i in range(0, len(accounts), size)
        ]
    parts: dict[int, list[int]] = {}
    for i, account in enumerate(accounts):
        parts.setdefault(keys.layout.partition_of(account), []).append(i)
    return [
        (partition, indexes[i : i + size])
        for partition, indexes in parts.items()
        for i in range(0, len(indexes), size)
    ]


def keyed_call(keys: CopierKeys, routing: str, *argv: bytes | str | int) -> list[bytes | str | int]:
    """numkeys, KEYS and ARGV of one call: no key on a single Redis (as before), on a
    cluster the follower record of `routing` (an account of the call's partition)."""
    if keys.layout is None:
        return [0, *argv]
    return [1, keys.follower_state(routing), *argv]
