"""The copier's backlog: what waits in its two streams, and for how long.

Under more load than the copier can serve, entries wait in the intent stream and
the EA event stream. `read_backlog` measures that wait, per stream, for the
consumer group: entries not yet handed to any worker (``lag``), entries handed
out but not finished (``pending``), and the age of the oldest unfinished entry.
It is a plain function over the Redis client, so the admin API
(``GET /admin/v1/copier/backlog``), `/metrics` and the gateway can all read it.

Appends do not trim the streams (an approximate ``MAXLEN`` trims the oldest
entries whether the copier finished them or not: acknowledged intents and reports
would be lost silently). `trim_finished` drops only what the group finished, and
the intent backlog is bounded by admission at the gateway (`gateway.admission`,
`gateway.backlog_monitor`). Stale opens in it are skipped as ``signal_expired``
when they are planned (``max_signal_age_ms``); closes are always copied.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from copier.keys import CONSUMER_GROUP, CopierKeys
from gateway.store.keys import RedisKeys

__all__ = [
    "CopierBacklog",
    "StreamBacklog",
    "read_backlog",
    "read_stream_backlog",
    "trim_finished",
]


@dataclass(frozen=True, slots=True)
class StreamBacklog:
    """One stream's backlog in the copier group."""

    length: int  #: entries in the stream (processed ones included, until trimmed)
    unread: int  #: entries not yet handed to a worker (the group's lag)
    pending: int  #: entries handed to a worker and not finished
    oldest_ms: int | None  #: age of the oldest unread or pending entry (ms), None when none

    @property
    def waiting(self) -> int:
        """Entries not finished: unread + pending."""
        return self.unread + self.pending


@dataclass(frozen=True, slots=True)
class CopierBacklog:
    """The backlog of the copier streams."""

    intents: StreamBacklog  #: master OrderIntents
    ea_events: StreamBacklog  #: ExecutionReports and SyncSnapshots
    #: big masters' intents split into follower shards (`copier.worker.shards`)
    fan_out: StreamBacklog = StreamBacklog(0, 0, 0, None)

    @property
    def waiting(self) -> int:
        """Entries not finished in any of the streams."""
        return self.intents.waiting + self.ea_events.waiting + self.fan_out.waiting

    def as_dict(self) -> dict[str, Any]:
        """JSON form (the admin API's answer)."""
        return {
            "waiting": self.waiting,
            "intents": {**asdict(self.intents), "waiting": self.intents.waiting},
            "ea_events": {**asdict(self.ea_events), "waiting": self.ea_events.waiting},
            "fan_out": {**asdict(self.fan_out), "waiting": self.fan_out.waiting},
        }


def _ms(entry_id: bytes | str | None) -> int | None:
    if entry_id is None:
        return None
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.partition("-")[0])


async def read_stream_backlog(redis: aioredis.Redis, stream: str, now_ms: int) -> StreamBacklog:
    """One stream's backlog in the copier group (no stream or no group: all unread)."""
    length = int(await redis.xlen(stream))
    try:
        groups: Any = await redis.xinfo_groups(stream)
    except ResponseError:  # no such stream yet
        return StreamBacklog(length, 0, 0, None)
    group = next((g for g in groups if _name(g["name"]) == CONSUMER_GROUP), None)
    if group is None:
        return StreamBacklog(length, length, 0, None)
    pending = int(group["pending"])
    summary: Any = await redis.xpending(stream, CONSUMER_GROUP) if pending else None
    oldest = _ms(summary["min"]) if summary else None
    last = _name(group["last-delivered-id"])
    lag = group.get("lag")
    if lag is None:  # older servers, or a trimmed stream: count what follows the last read
        after: Any = await redis.xrange(stream, min=f"({last}", count=100_000)
        lag = len(after)
    unread = int(lag)
    if unread and oldest is None:
        first: Any = await redis.xrange(stream, min=f"({last}", count=1)
        oldest = _ms(first[0][0]) if first else None
    return StreamBacklog(length, unread, pending, None if oldest is None else now_ms - oldest)


async def trim_finished(redis: aioredis.Redis, stream: str) -> int:
    """Drop the stream's entries the copier group finished; returns how many went.

    Every entry older than the group's oldest pending entry (or, with none pending,
    than its last delivered entry) was acknowledged: those go (``XTRIM MINID ~``,
    so whole macro nodes only, which is cheap). Unread and pending entries are
    never trimmed; without the group nothing is. The group only moves forward, so
    a bound read a moment ago is still safe when the trim runs.
    """
    try:
        groups: Any = await redis.xinfo_groups(stream)
    except ResponseError:  # no such stream yet
        return 0
    group = next((g for g in groups if _name(g["name"]) == CONSUMER_GROUP), None)
    if group is None:
        return 0
    floor = _name(group["last-delivered-id"])
    if int(group["pending"]):
        summary: Any = await redis.xpending(stream, CONSUMER_GROUP)
        if summary and summary["min"] is not None:
            floor = _name(summary["min"])
    if floor in ("0-0", "0"):
        return 0
    return int(await redis.xtrim(stream, minid=floor, approximate=True))


def _name(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


async def read_backlog(redis: aioredis.Redis, keys: RedisKeys, now_ms: int) -> CopierBacklog:
    """Measure the copier's backlog now (a few reads; safe to call on every scrape).

    Args:
        redis: the store's client.
        keys: the deployment's key names.
        now_ms: the current time (epoch ms, the Redis clock's scale).
    """
    parts = range(keys.partition_count)  # the streams' partitions (one on a single Redis)
    ckeys = CopierKeys.of(keys)
    return CopierBacklog(
        _merged([await read_stream_backlog(redis, keys.intent_stream(n), now_ms) for n in parts]),
        _merged([await read_stream_backlog(redis, keys.ea_inbox_stream(n), now_ms) for n in parts]),
        _merged([await read_stream_backlog(redis, ckeys.fan_out_stream(n), now_ms) for n in parts]),
    )


def _merged(parts: list[StreamBacklog]) -> StreamBacklog:
    """The backlog of a partitioned stream: sums, and the oldest age of any partition."""
    if len(parts) == 1:
        return parts[0]
    ages = [p.oldest_ms for p in parts if p.oldest_ms is not None]
    return StreamBacklog(
        sum(p.length for p in parts),
        sum(p.unread for p in parts),
        sum(p.pending for p in parts),
        max(ages) if ages else None,
    )
