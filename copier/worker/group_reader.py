"""One consumer's reads from the copier group: new entries, idle ones, deferred ones.

`ConsumerGroupReader` is the reading half of `streams.OrderedStreams`:

- ``XREADGROUP`` (group ``copiers``) hands this consumer new entries: a batch of
  every stream at once, or, on Redis Cluster, one read per stream (slot) pipelined
  per node. *Narrow* streams (the fan-out stream) are read a few entries at a time,
  so that one consumer does not take all of them while others are free.
- ``XAUTOCLAIM`` takes over entries idle longer than ``claim_idle_ms`` in any
  consumer (a dead or stuck one); each claim counts as a failed attempt.
- Entries of a narrow stream whose partition was busy are *deferred*: handed out
  again with the next read instead of waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

import fakeredis
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from copier.keys import CONSUMER_GROUP, CopierKeys
from copier.worker.stream_entry import StreamEntry, entry_key, failure_field

__all__ = ["DEFERRED_RETRY_MS", "NON_BLOCKING_POLL_S", "ConsumerGroupReader"]

_log = logging.getLogger("copygate.copier.streams")

#: Longest wait for new entries while busy partitions wait to be tried again (ms).
DEFERRED_RETRY_MS = 2

#: Poll interval when the store does not block on XREADGROUP (the embedded store).
NON_BLOCKING_POLL_S = 0.01


class ConsumerGroupReader:
    """Reads one consumer's entries of the copier group over several streams."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: CopierKeys,
        streams: Iterable[str],
        *,
        consumer: str,
        claim_idle_ms: int,
        batch: int,
        pause_after_read_ms: int,
        narrow: dict[str, int],
    ) -> None:
        self._redis = redis  #: bytes-mode client
        self._keys = keys  #: copier key names
        self._streams = list(streams)  #: stream keys read
        self.consumer = consumer  #: this consumer's name in the group
        self._claim_idle = claim_idle_ms  #: idle time before an entry is claimed
        self._batch = batch  #: entries per read
        #: streams read a few entries at a time (stream -> count), so that one consumer
        #: does not take all of them while others are free (the fan-out stream)
        self._narrow = narrow
        #: narrow-stream entries whose partition was busy: retried with the next read
        self._deferred: dict[str, list[StreamEntry]] = {s: [] for s in self._narrow}
        self._pause = pause_after_read_ms  #: TEST HOOK: sleep between read and processing
        self._cursors = dict.fromkeys(self._streams, "0-0")  #: XAUTOCLAIM cursors
        #: False over the in-process store (fakeredis) and on Redis Cluster, which
        #: are polled instead (a cluster reads each partition's stream on its own)
        self._blocking = not isinstance(redis, fakeredis.FakeAsyncRedis) and not keys.cluster

    def is_narrow(self, stream: str) -> bool:
        """True for a stream read a few entries at a time (its busy entries are deferred)."""
        return stream in self._narrow

    def defer(self, stream: str, entries: list[StreamEntry]) -> None:
        """Hand `entries` of narrow `stream` out again with the next read (replacing any)."""
        self._deferred[stream] = entries

    async def ensure_groups(self) -> None:
        """Create the consumer group on every stream (from the start) if missing."""
        for stream in self._streams:
            with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists
                await self._redis.xgroup_create(stream, CONSUMER_GROUP, id="0", mkstream=True)

    async def read(self, block_ms: int) -> list[StreamEntry]:
        """New entries for this consumer (blocks up to `block_ms`).

        The in-process store (fakeredis) is read without BLOCK: its blocking
        XREADGROUP leaves a task behind when the read is cancelled (a worker
        stopping), and older releases answered at once anyway; there an empty
        answer is followed by a short sleep, so an idle worker does not spin a core.
        """
        reply: Any
        if self._keys.cluster:  # one XREADGROUP per stream (slot), pipelined per node
            async with self._redis.pipeline(transaction=False) as pipe:
                for stream in self._streams:
                    count = self._narrow.get(stream, self._batch)
                    pipe.xreadgroup(CONSUMER_GROUP, self.consumer, {stream: ">"}, count=count)
                replies: list[Any] = await pipe.execute()
            reply = [row for each in replies for row in each or ()]
        elif self._narrow:
            reply = await self._read_narrow(block_ms)
        else:
            reply = await self._redis.xreadgroup(
                CONSUMER_GROUP,
                self.consumer,
                dict.fromkeys(self._streams, ">"),
                count=self._batch,
                block=block_ms if self._blocking else None,
            )
        entries = [
            StreamEntry(stream.decode(), entry_id.decode(), fields)
            for stream, rows in reply or ()
            for entry_id, fields in rows
        ]
        for stream, deferred in self._deferred.items():
            if deferred:
                self._deferred[stream] = []
                entries += deferred
                entries.sort(key=lambda e: (e.stream, entry_key(e.entry_id)))
        if not entries and not self._blocking:
            await asyncio.sleep(min(block_ms / 1000, NON_BLOCKING_POLL_S))
        if entries and self._pause:
            _log.warning(
                "TEST HOOK: pausing %d ms after reading %d entries", self._pause, len(entries)
            )
            await asyncio.sleep(self._pause / 1000)
        return entries

    async def _read_narrow(self, block_ms: int) -> Any:
        """Read the wide streams `batch` and each narrow stream its own count at a time
        (one pipelined round trip, not blocking); when all are empty, block on every
        stream for at most one entry each (woken by the first entry to arrive)."""
        wide = [s for s in self._streams if s not in self._narrow]
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xreadgroup(
                CONSUMER_GROUP, self.consumer, dict.fromkeys(wide, ">"), count=self._batch
            )
            for stream, count in self._narrow.items():
                pipe.xreadgroup(CONSUMER_GROUP, self.consumer, {stream: ">"}, count=count)
            replies: list[Any] = await pipe.execute()
        rows = [row for reply in replies for row in reply or ()]
        if rows or not self._blocking:
            return rows
        if any(self._deferred.values()):  # busy partitions to try again soon
            block_ms = min(block_ms, DEFERRED_RETRY_MS)
        return await self._redis.xreadgroup(
            CONSUMER_GROUP,
            self.consumer,
            dict.fromkeys(self._streams, ">"),
            count=1,
            block=block_ms,
        )

    async def claim(self) -> list[tuple[StreamEntry, int]]:
        """Entries idle too long in any consumer, now ours, with their claim counts."""
        claimed: list[tuple[StreamEntry, int]] = []
        for stream in self._streams:
            reply = await self._redis.xautoclaim(
                stream,
                CONSUMER_GROUP,
                self.consumer,
                self._claim_idle,
                start_id=self._cursors[stream],
                count=self._batch,
            )
            cursor, rows = reply[0], reply[1]
            self._cursors[stream] = cursor.decode()
            for entry_id, fields in rows:
                if fields is None:  # trimmed away: nothing to process
                    await self._redis.xack(stream, CONSUMER_GROUP, entry_id)
                    continue
                entry = StreamEntry(stream, entry_id.decode(), fields)
                count = int(
                    await self._redis.hincrby(
                        self._keys.failures(entry.stream), failure_field(entry), 1
                    )
                )
                claimed.append((entry, count))
        return claimed
