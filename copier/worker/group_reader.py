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
- *Report* streams (the EA-event streams) are read with their own, larger count:
  at N followers every copied intent brings N ExecutionReports, so a read of as
  many reports as intents would let reports fall behind without bound. While
  they are behind (the last read of a report stream came back full), new intents
  are not read (`ReportBackPressure`): the backlog then waits in the intent
  stream, where the gateway's admission control bounds it, and the fills that
  closes wait for are applied first.
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

__all__ = [
    "DEFERRED_RETRY_MS",
    "MAX_ROUNDS_HELD_BACK",
    "NON_BLOCKING_POLL_S",
    "ConsumerGroupReader",
    "ReportBackPressure",
]

_log = logging.getLogger("copygate.copier.streams")

#: Longest wait for new entries while busy partitions wait to be tried again (ms).
DEFERRED_RETRY_MS = 2

#: Poll interval when the store does not block on XREADGROUP (the embedded store).
NON_BLOCKING_POLL_S = 0.01

#: Consecutive reads at most that leave new intents unread while reports are behind
#: (then intents are read once anyway: reports that never stop coming cannot starve
#: them). 128 reads of 1,024 reports drain what one read of 256 intents makes for
#: a master below the fan-out shard threshold (500 followers; bigger masters' intents
#: are split into shard entries, read a few at a time).
MAX_ROUNDS_HELD_BACK = 128


class ReportBackPressure:
    """Whether the next read leaves the held-back streams (new intents) unread.

    Pure: fed with what each read of the report streams returned. Reports are
    behind when a report stream's read came back full (more are waiting); then
    up to `max_rounds` reads in a row skip the held-back streams.
    """

    def __init__(self, max_rounds: int = MAX_ROUNDS_HELD_BACK) -> None:
        self._max_rounds = max_rounds  #: consecutive reads that may hold intents back
        self._behind = False  #: the last read of a report stream came back full
        self._held_rounds = 0  #: reads in a row that held intents back
        self.rounds_held_back = 0  #: reads that held intents back, over the reader's life

    def holds_back(self) -> bool:
        """True when the next read should leave the held-back streams unread."""
        return self._behind and self._held_rounds < self._max_rounds

    def after_read(self, *, held_back: bool, reports_full: bool) -> None:
        """Record one read: whether it held intents back and whether its reports were full."""
        self._held_rounds = self._held_rounds + 1 if held_back else 0
        self.rounds_held_back += held_back
        self._behind = reports_full


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
        reports: dict[str, int] | None = None,
        held_back: frozenset[str] = frozenset(),
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
        #: report streams, read ahead with their own (larger) count (stream -> count)
        self._reports = dict(reports or {})
        #: streams not read while reports are behind (the intent streams)
        self._held_back = held_back
        self.back_pressure = ReportBackPressure()  #: when reports hold intents back
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
        hold_back = self.back_pressure.holds_back()
        streams = [s for s in self._streams if not (hold_back and s in self._held_back)]
        if self._keys.cluster:  # one XREADGROUP per stream (slot), pipelined per node
            async with self._redis.pipeline(transaction=False) as pipe:
                for stream in streams:
                    pipe.xreadgroup(
                        CONSUMER_GROUP, self.consumer, {stream: ">"}, count=self._count(stream)
                    )
                replies: list[Any] = await pipe.execute()
            reply = [row for each in replies for row in each or ()]
        elif self._narrow or self._reports:
            reply = await self._read_counted(streams, block_ms)
        else:
            reply = await self._redis.xreadgroup(
                CONSUMER_GROUP,
                self.consumer,
                dict.fromkeys(streams, ">"),
                count=self._batch,
                block=block_ms if self._blocking else None,
            )
        self.back_pressure.after_read(held_back=hold_back, reports_full=self._reports_full(reply))
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

    def _count(self, stream: str) -> int:
        """Entries one read takes of `stream`: its narrow or report count, else the batch."""
        return self._narrow.get(stream) or self._reports.get(stream) or self._batch

    def _reports_full(self, reply: Any) -> bool:
        """True when a report stream's read in `reply` came back full (more are waiting)."""
        return any(
            len(rows) >= self._reports[name]
            for stream, rows in reply or ()
            if (name := stream.decode()) in self._reports
        )

    async def _read_counted(self, streams: list[str], block_ms: int) -> Any:
        """Read `streams`, each group at its own count (the other streams `batch`, the
        report streams theirs, each narrow stream its own) in one pipelined round
        trip, not blocking; when all are empty, block on every stream for at most one
        entry each (woken by the first entry to arrive)."""
        wide = [s for s in streams if s not in self._narrow and s not in self._reports]
        reports = [s for s in streams if s in self._reports]
        async with self._redis.pipeline(transaction=False) as pipe:
            if wide:
                pipe.xreadgroup(
                    CONSUMER_GROUP, self.consumer, dict.fromkeys(wide, ">"), count=self._batch
                )
            if reports:
                pipe.xreadgroup(
                    CONSUMER_GROUP,
                    self.consumer,
                    dict.fromkeys(reports, ">"),
                    count=max(self._reports[s] for s in reports),
                )
            for stream in streams:
                if stream in self._narrow:
                    pipe.xreadgroup(
                        CONSUMER_GROUP, self.consumer, {stream: ">"}, count=self._narrow[stream]
                    )
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
