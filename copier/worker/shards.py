"""Fan-out in follower shards: one master's intents planned by several workers at once.

A master's intents are processed in order under the master's lock, by one worker
at a time. For a master with many followers (`CopierSettings.fan_out_shard_followers`)
that worker does not plan the followers itself: it **splits** the intents of its
read into one entry per follower shard (`FAN_OUT_SHARDS` shards, a follower's shard
is a hash of its id) on the fan-out stream, and acknowledges the intents. Any
worker then plans a shard entry under the lock of its partition ``<master>#<shard>``,
with the same ordered-stream rules as every entry (catch-up, marks, claims, dead
letters), so:

- **order per follower** holds: a follower always falls in the same shard, the
  intents of one master are split in order (under the master's lock), and one
  partition's entries are planned in stream order;
- **exactly once** holds as on the direct path: command ids are derived from
  (master, intent, follower) and a follower's copy record is checked before
  deciding; a split repeated after a crash only appends entries whose decisions
  already exist;
- **nothing is lost**: the split (`FAN_OUT_SPLIT`: every shard entry and its
  partition's last id, atomically) happens before the intents are acknowledged.

On Redis Cluster the fan-out stream and its last-ids hash are per partition: a
master's shard entries go to its partition's (`CopierKeys.fan_out_stream`), so the
split touches one slot, and the shard partitions' locks and marks share that slot
(`CopierKeys.partition_lock`); a worker consumes the fan-out streams of the
partitions it consumes.

Switching a master between the direct path and shards must not reorder a
follower's intents: a master is planned directly only when every shard entry
written for it is finished (each partition's mark has reached its last id),
otherwise its intents go through shards even below the threshold.

Workers read at most `CopierSettings.fan_out_read` shard entries at a time, so a
split is shared by the workers that are free instead of being taken whole by the
first reader.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis

from copier.core import MasterSignal
from copier.keys import FAN_OUT_SEPARATOR, CopierKeys
from copier.worker.lua import FAN_OUT_SPLIT
from copier.worker.ops import netstrings
from copier.worker.signal_codec import encode_signals
from copier.worker.stream_entry import entry_key
from gateway.store.redis_errors import translates_redis_errors

__all__ = [
    "FAN_OUT_SHARDS",
    "FanOutShards",
    "partition_of",
    "shard_of",
    "split_partition",
]

#: Follower shards per master. Changing it reorders followers between shards: only
#: change it while the fan-out stream has nothing pending.
FAN_OUT_SHARDS = 8

#: Between master and shard in a partition name (never part of an account id).
_SEPARATOR = FAN_OUT_SEPARATOR


def shard_of(follower_id: str) -> int:
    """The shard a follower's intents are planned in (stable: a hash of its id)."""
    return zlib.crc32(follower_id.encode()) % FAN_OUT_SHARDS


def partition_of(master_id: str, shard: int) -> str:
    """The ordered-stream partition (lock, mark) of one master's shard."""
    return f"{master_id}{_SEPARATOR}{shard}"


def split_partition(partition: str) -> tuple[str, int]:
    """(master, shard) of a partition name."""
    master, _, shard = partition.rpartition(_SEPARATOR)
    return master, int(shard)


def _key(raw: bytes) -> tuple[int, int]:
    return entry_key(raw.decode())


class FanOutShards:
    """Writes masters' intents as shard entries and tells whether a master's shards are done."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: CopierKeys,
        *,
        min_followers: int,
        stream_maxlen: int = 100_000,
    ) -> None:
        self._redis = redis  #: bytes-mode client
        self._keys = keys  #: copier key names
        self.min_followers = min_followers  #: followers from which a master is split (0: never)
        self._maxlen = stream_maxlen  #: approximate MAXLEN of the fan-out stream
        self._split = redis.register_script(FAN_OUT_SPLIT)  #: entries + last ids

    @translates_redis_errors
    async def unfinished(self, master_id: str) -> bool:
        """True while a shard entry written for `master_id` is not finished (marked)."""
        fields = [partition_of(master_id, s) for s in range(FAN_OUT_SHARDS)]
        n = self._keys.partition_of(master_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hmget(self._keys.fan_out_last(n), fields)
            pipe.hmget(self._keys.marks(self._keys.fan_out_stream(n)), fields)
            lasts, marks = await pipe.execute()
        return any(
            last is not None and (mark is None or _key(mark) < _key(last))
            for last, mark in zip(lasts, marks, strict=True)
        )

    def wanted(self, followers: int, unfinished: bool) -> bool:
        """Whether a master with `followers` followers is split (see the module docstring)."""
        return unfinished or (0 < self.min_followers <= followers)

    @translates_redis_errors
    async def split(self, signals: Sequence[MasterSignal], followers: Mapping[str, Any]) -> int:
        """Write one master's intents (in order) as one entry per shard that has followers.

        Returns how many shard entries were written.
        """
        master = signals[0].master_account_id
        body = encode_signals(signals)
        shards = sorted({shard_of(f) for f in followers})
        values = [
            value
            for shard in shards
            for value in (partition_of(master, shard).encode(), master.encode(), body)
        ]
        if values:
            n = self._keys.partition_of(master)  # the master's partition: one slot
            keys = [self._keys.fan_out_stream(n), self._keys.fan_out_last(n)]
            await self._split(keys=keys, args=[self._maxlen, netstrings(values)])
        return len(shards)
