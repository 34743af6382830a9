"""The "command delivered" timestamp: a thin wrapper around the gateway's `DeliveryLog`.

`DeliveryTimestamps` delegates every call to the wrapped delivery log. After a
`read` that hands entries to a transport, it records, for each `OrderCommand`
envelope among them, the first time it was handed out (``HSETNX`` into the
account's ``copy-delivered`` hash, which expires a week after its last write).
That is the "command delivered" point of a copy record's latency split.

It is installed in `gateway.app` (one line) instead of changing ``read.lua``,
which belongs to the delivery log: reads without commands cost nothing extra,
reads with commands cost one script call (`RECORD_DELIVERED`, every account of
the read in one netstring argument), which the read does **not** wait for. The
time is taken when the read returns (the hand-out time); the script call runs in
a task of its own, so a transport writes the frames in the same turn of the
event loop and the call is sent right after, long before the EA's reply to a
command can reach the copier. A failed recording is logged and costs the copy
record its delivered time, never a delivery.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import orjson
import redis.asyncio as aioredis

from copier.keys import CopierKeys
from copier.worker.evalsha import evalsha_many
from copier.worker.lua import RECORD_DELIVERED
from copier.worker.ops import netstrings
from gateway.clock import Clock
from gateway.store.ports import DeliveryLog
from gateway.store.records import EnqueueResult, LogBatch, LogEntry, LogRead
from gateway.store.redis_errors import translates_redis_errors

__all__ = ["DELIVERED_TTL_S", "DeliveryTimestamps"]

#: The delivered-times hash of an account expires this long after its last write.
DELIVERED_TTL_S = 7 * 24 * 3600

_COMMAND_MARK = b'"type":"OrderCommand"'

_log = logging.getLogger("copygate.copier")


class DeliveryTimestamps:
    """`DeliveryLog` that remembers when each OrderCommand was first handed to a transport."""

    def __init__(
        self, inner: DeliveryLog, redis: aioredis.Redis, keys: CopierKeys, clock: Clock
    ) -> None:
        self.inner = inner  #: the real delivery log
        self._redis = redis  #: bytes-mode client
        self._keys = keys  #: copier key names
        self._clock = clock  #: epoch ms
        self._recording: set[asyncio.Task[None]] = set()  #: delivery-time writes in flight
        self._record = redis.register_script(RECORD_DELIVERED)  #: HSETNX + EXPIRE per account
        self._template = keys.delivered_times("\x01").encode()  #: its key template

    async def enqueue(self, account_id: str, envelope_id: str, body: bytes) -> EnqueueResult:
        """See `DeliveryLog.enqueue`."""
        return await self.inner.enqueue(account_id, envelope_id, body)

    async def enqueue_many(self, items: Sequence[tuple[str, str, bytes]]) -> list[EnqueueResult]:
        """See `DeliveryLog.enqueue_many`."""
        return await self.inner.enqueue_many(items)

    async def log_for_session(self, account_id: str, session_id: str, body: bytes) -> int:
        """See `DeliveryLog.log_for_session`."""
        return await self.inner.log_for_session(account_id, session_id, body)

    async def next_seq(self, account_id: str) -> int:
        """See `DeliveryLog.next_seq`."""
        return await self.inner.next_seq(account_id)

    async def read(
        self, account_id: str, session_id: str, *, after_seq: int, limit: int = 500
    ) -> list[LogEntry]:
        """See `DeliveryLog.read`; also records first-delivery times of OrderCommands."""
        entries = await self.inner.read(account_id, session_id, after_seq=after_seq, limit=limit)
        ids = [_command_id(e.body) for e in entries if _COMMAND_MARK in e.body]
        found = [i for i in ids if i]
        if found:
            self._start_recording({account_id: found})
        return entries

    async def read_many(self, reads: Sequence[LogRead]) -> list[LogBatch]:
        """See `DeliveryLog.read_many`; one script call records the OrderCommands of all reads."""
        batches = await self.inner.read_many(reads)
        found: dict[str, list[str]] = {}
        for read, batch in zip(reads, batches, strict=True):
            ids = [_command_id(e.body) for e in batch.entries if _COMMAND_MARK in e.body]
            if any(ids):
                found.setdefault(read.account_id, []).extend(i for i in ids if i)
        if found:
            self._start_recording(found)
        return batches

    @property
    def recording(self) -> int:
        """How many delivery-time writes are in flight."""
        return len(self._recording)

    async def settled(self) -> None:
        """Wait until every delivery-time write started so far has ended."""
        while self._recording:
            await asyncio.wait(list(self._recording))

    def _start_recording(self, envelope_ids: dict[str, list[str]]) -> None:
        """Record the hand-out time now, written by a task the read does not wait for."""
        task = asyncio.get_running_loop().create_task(
            self._record_many(envelope_ids, self._clock())
        )
        self._recording.add(task)
        task.add_done_callback(self._recorded)

    def _recorded(self, task: asyncio.Task[None]) -> None:
        self._recording.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            _log.warning("delivery times not recorded: %r", exc)

    @translates_redis_errors
    async def _record_many(self, envelope_ids: dict[str, list[str]], now: int) -> None:
        values: list[bytes] = []
        for account_id, ids in envelope_ids.items():
            values += (account_id.encode(), b"%d" % len(ids), *(i.encode() for i in ids))
        args: list[bytes | int] = [self._template, now, DELIVERED_TTL_S, netstrings(values)]
        await evalsha_many(self._redis, self._record, [args])

    async def ack(self, account_id: str, session_id: str, ack_seq: int) -> int:
        """See `DeliveryLog.ack`."""
        return await self.inner.ack(account_id, session_id, ack_seq)

    async def pending_count(self, account_id: str) -> tuple[int, int]:
        """See `DeliveryLog.pending_count`."""
        return await self.inner.pending_count(account_id)


def _command_id(body: bytes) -> str | None:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    envelope_id = value.get("id") if isinstance(value, dict) else None
    return envelope_id if isinstance(envelope_id, str) else None
