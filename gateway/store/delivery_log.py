"""`DeliveryLog` over Redis: numbered server -> EA messages, kept until acknowledged.

Per account, a ZSET scored by seq whose members are ``<binding>|<envelope json
without seq>`` (binding ``*`` = durable, else the one session it is meant for), a
LIST of held (unnumbered) durable messages waiting for an active session, a HASH
envelope id -> member for deduplication, and a seq counter that is never reset.
Seqs are handed out by ``INCR`` only, so they are never reused; a promotion
renumbers what is still unacknowledged after everything handed out before (see
`RedisSessionStore`). The account hash keeps ``acked_seq`` and ``read_seq``, the
highest seq `read` ever returned: acknowledgements are clamped to it, because a
message no transport was handed cannot have been processed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis

from gateway.errors import DeliveryLogFull, FencingError
from gateway.store.keys import RedisKeys
from gateway.store.netstrings import netstrings
from gateway.store.partitions import by_partition
from gateway.store.records import EnqueueResult, LogBatch, LogEntry, LogRead
from gateway.store.redis_errors import translates_redis_errors
from gateway.store.scripts import Scripts

__all__ = [
    "DEFAULT_MAX_LOG_ENTRIES",
    "ENQUEUE_CHUNK",
    "FULL_RETRY_AFTER_S",
    "READ_CHUNK",
    "RedisDeliveryLog",
]

#: Numbered + held messages kept per account before enqueues are refused.
DEFAULT_MAX_LOG_ENTRIES = 5000
#: `retry_after_s` of `DeliveryLogFull`: the log drains as soon as the EA acks.
FULL_RETRY_AFTER_S = 5
#: Items per `enqueue_many` script call (bounds how long one call holds Redis).
ENQUEUE_CHUNK = 500
#: Reads per `read_many` script call (bounds how long one call holds Redis).
READ_CHUNK = 500


class RedisDeliveryLog:
    """`DeliveryLog` implementation over `redis.asyncio` (or fakeredis)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: RedisKeys,
        *,
        max_log_entries: int = DEFAULT_MAX_LOG_ENTRIES,
        scripts: Scripts | None = None,
    ) -> None:
        #: bytes-mode client
        self._redis = redis
        #: key names
        self._keys = keys
        #: numbered + held messages allowed per account
        self._max_entries = max_log_entries
        #: the Lua scripts
        self._scripts = scripts or Scripts(redis, keys)

    @translates_redis_errors
    async def enqueue(self, account_id: str, envelope_id: str, body: bytes) -> EnqueueResult:
        """Queue a durable message (envelope JSON without seq).

        Numbered at once, and announced (`deliver`), when the account has an active
        session; otherwise held unnumbered until one activates. An envelope id
        already queued (numbered or held, not yet acknowledged) is ignored.

        Raises:
            DeliveryLogFull: the account already has `max_log_entries` messages.
        """
        reply = await self._scripts.run(
            "enqueue",
            [self._keys.account(account_id)],
            account_id,
            envelope_id,
            body,
            self._max_entries,
            partition=self._keys.partition_of(account_id),
        )
        if reply[0] == b"full":
            raise DeliveryLogFull(
                f"delivery log of {account_id} holds {self._max_entries} messages",
                retry_after_s=FULL_RETRY_AFTER_S,
            )
        seq = int(reply[1])
        return EnqueueResult(seq=seq if seq >= 0 else None, duplicate=reply[0] == b"dup")

    @translates_redis_errors
    async def enqueue_many(self, items: Sequence[tuple[str, str, bytes]]) -> list[EnqueueResult]:
        """Queue many durable messages (account id, envelope id, body) in one script call.

        Each item is handled exactly like `enqueue`; an item whose account's log is
        full comes back with ``full=True`` (nothing is raised). Items go in chunks of
        `ENQUEUE_CHUNK`, so one call never blocks Redis for long, each chunk as one
        netstring argument (packing three arguments per item was most of the call's
        client cost); the script writes consecutive items of one account with one
        call per structure.
        """
        if self._keys.cluster:
            return await by_partition(self._keys, items, lambda i: i[0], self._enqueue_chunks)
        return await self._enqueue_chunks(items, 0)

    async def _enqueue_chunks(
        self, items: Sequence[tuple[str, str, bytes]], partition: int
    ) -> list[EnqueueResult]:
        """`enqueue_many` of items of one partition (all items on a single Redis)."""
        results: list[EnqueueResult] = []
        routing = [self._keys.account(items[0][0])] if self._keys.cluster and items else []
        for start in range(0, len(items), ENQUEUE_CHUNK):
            values: list[bytes] = []
            for account_id, envelope_id, body in items[start : start + ENQUEUE_CHUNK]:
                values += (account_id.encode(), envelope_id.encode(), body)
            reply = await self._scripts.run(
                "enqueue_many",
                routing,
                self._max_entries,
                netstrings(values),
                partition=partition,
            )
            for status, seq in zip(reply[::2], reply[1::2], strict=True):
                number = int(seq)
                results.append(
                    EnqueueResult(
                        seq=number if number >= 0 else None,
                        duplicate=status == b"dup",
                        full=status == b"full",
                    )
                )
        return results

    @translates_redis_errors
    async def log_for_session(self, account_id: str, session_id: str, body: bytes) -> int:
        """Log a message meant for one session only (e.g. an InitAck); returns its seq.

        Raises:
            FencingError: the session is not the account's active session (a pending
                session receives nothing; its opening messages go through `promote`).
        """
        reply = await self._scripts.run(
            "log_for_session",
            [self._keys.account(account_id)],
            account_id,
            session_id,
            body,
            partition=self._keys.partition_of(account_id),
        )
        if reply[0] != b"ok":
            raise FencingError(session_id, reply[1].decode() or None)
        return int(reply[1])

    @translates_redis_errors
    async def next_seq(self, account_id: str) -> int:
        """Hand out one seq for a message sent directly and not kept (e.g. ErrorAlert)."""
        return int(await self._redis.incr(self._keys.account_seq(account_id)))

    @translates_redis_errors
    async def read(
        self, account_id: str, session_id: str, *, after_seq: int, limit: int = 500
    ) -> list[LogEntry]:
        """Logged messages with seq > after_seq that this session may receive, in order.

        Empty unless the session is the account's active session. Records the highest
        seq returned, the ceiling of later acknowledgements.
        """
        read = LogRead(account_id, session_id, after_seq, limit=limit)
        flat = await self._scripts.run(
            "read",
            [self._keys.account(account_id)],
            *_read_args(read),
            partition=self._keys.partition_of(account_id),
        )
        return _batches(flat, [read])[0].entries

    @translates_redis_errors
    async def read_many(self, reads: Sequence[LogRead]) -> list[LogBatch]:
        """Hand out reply seqs and read many accounts' logs: one script call per chunk.

        Each `LogRead` is one atomic step (its reply seqs, then its read, exactly as
        `next_seq` then `read`); results come back in the order of `reads`. Chunks
        of `READ_CHUNK` run concurrently.
        """
        if self._keys.cluster:
            return await by_partition(self._keys, reads, lambda r: r.account_id, self._read_chunks)
        return await self._read_chunks(reads, 0)

    async def _read_chunks(self, reads: Sequence[LogRead], partition: int) -> list[LogBatch]:
        """`read_many` of reads of one partition (all reads on a single Redis)."""
        routing = [self._keys.account(reads[0].account_id)] if self._keys.cluster and reads else []
        chunks = [reads[i : i + READ_CHUNK] for i in range(0, len(reads), READ_CHUNK)]
        calls = [
            self._scripts.run(
                "read", routing, *(arg for r in chunk for arg in _read_args(r)), partition=partition
            )
            for chunk in chunks
        ]
        replies = [await calls[0]] if len(calls) == 1 else await asyncio.gather(*calls)
        return [
            batch
            for flat, chunk in zip(replies, chunks, strict=True)
            for batch in _batches(flat, chunk)
        ]

    @translates_redis_errors
    async def ack(self, account_id: str, session_id: str, ack_seq: int) -> int:
        """Drop every message with seq <= ack_seq.

        `ack_seq` is clamped to the highest seq ever returned by `read` (a message no
        transport was handed cannot be acknowledged).

        Raises:
            FencingError: the session is not the account's active session.

        Returns:
            The account's acknowledged seq afterwards (never decreases).
        """
        reply = await self._scripts.run(
            "ack",
            [self._keys.account(account_id)],
            account_id,
            session_id,
            ack_seq,
            partition=self._keys.partition_of(account_id),
        )
        if reply[0] != b"ok":
            raise FencingError(session_id, reply[1].decode() or None)
        return int(reply[1])

    @translates_redis_errors
    async def mark_handed(self, marks: Sequence[tuple[str, str, int]]) -> list[bool]:
        """Claim entries a connection was handed without a read (account, session, last seq).

        For each mark, atomically: if the session is the account's active session,
        `last seq` raises ``read_seq`` (the ceiling of acknowledgements, as a `read`
        returning it would) and the answer is True; else False, and the entries must
        not be written (the session was preempted or closed meanwhile).
        """
        if self._keys.cluster:
            return await by_partition(self._keys, marks, lambda m: m[0], self._mark_handed)
        return await self._mark_handed(marks, 0)

    async def _mark_handed(
        self, marks: Sequence[tuple[str, str, int]], partition: int
    ) -> list[bool]:
        routing = [self._keys.account(marks[0][0])] if self._keys.cluster and marks else []
        args = [arg for mark in marks for arg in mark]
        reply = await self._scripts.run("mark_handed", routing, *args, partition=partition)
        return [bool(int(claimed)) for claimed in reply]

    @translates_redis_errors
    async def pending_count(self, account_id: str) -> tuple[int, int]:
        """(numbered unacknowledged, held) message counts, for operators."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zcard(self._keys.delivery_log(account_id))
            pipe.llen(self._keys.held_messages(account_id))
            numbered, held = await pipe.execute()
        return int(numbered), int(held)


def _read_args(read: LogRead) -> tuple[str, str, int, int, int, int]:
    """The six ``read.lua`` arguments of one read."""
    return (
        read.account_id,
        read.session_id,
        read.after_seq,
        read.limit,
        read.replies,
        int(read.read),
    )


def _batches(flat: list[Any], reads: Sequence[LogRead]) -> list[LogBatch]:
    """Split ``read.lua``'s flat reply into one `LogBatch` per read."""
    out: list[LogBatch] = []
    i = 0
    for read in reads:
        last_reply, count = int(flat[i]), int(flat[i + 1])
        rows = flat[i + 2 : i + 2 + 2 * count]
        i += 2 + 2 * count
        out.append(
            LogBatch(
                reply_seqs=tuple(range(last_reply - read.replies + 1, last_reply + 1)),
                entries=[
                    LogEntry(seq=int(seq), body=member.partition(b"|")[2])
                    for member, seq in zip(rows[::2], rows[1::2], strict=True)
                ],
            )
        )
    return out
