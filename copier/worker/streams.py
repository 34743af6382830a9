"""Ordered consumption of the intent and EA event streams by a consumer group.

Redis Streams consumer groups share entries among consumers but do not keep
any order between them. The copier needs order **per account** (a master's
open before its close; a follower's fill before its close report), so every
entry is processed under a per-account lock, after every earlier entry of the
same account:

1. ``XREADGROUP`` (group ``copiers``) hands this consumer a batch.
2. For each entry: take the account's lock (``SET NX PX``); read the account's
   *mark* (last entry id fully processed for it, per stream); an entry at or
   below the mark was already processed (by a catch-up, below): just ``XACK``.
3. **Catch-up**: earlier entries of the account that are still pending (another
   consumer read them but has not finished, or died) are found with ``XRANGE``
   from ``max(mark, oldest pending id)`` and processed first, in order. Their
   owner will find them below the mark later and only ack them.
4. After the handler succeeded, the mark is raised and the entry acked in one
   ``MULTI``. Handlers are idempotent, so a crash before that only repeats work.

Recovery: entries idle longer than ``claim_idle_ms`` are taken over with
``XAUTOCLAIM``; each claim counts as a failed attempt. A claimed entry whose
handler raises after ``max_failures`` claims goes to the dead-letter stream (with
the error) and is acked; so does one claimed ``3 x max_failures`` times (a crash
loop). Handlers that raise leave the entry pending for the next claim.

The reads (new entries, claims, deferred entries) are `group_reader.ConsumerGroupReader`;
what handlers get is `stream_entry.StreamEntry`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis

from copier.keys import CONSUMER_GROUP, CopierKeys
from copier.worker.evalsha import evalsha_many
from copier.worker.group_reader import ConsumerGroupReader
from copier.worker.lua import ENTER, RELEASE
from copier.worker.stream_entry import (
    BatchHandler,
    Handler,
    StreamEntry,
    entry_key,
    failure_field,
)
from gateway.clock import Clock

# StreamEntry stays importable from here: copier/worker/pump.py imports it so.
__all__ = ["OrderedStreams", "StreamEntry"]

_log = logging.getLogger("copygate.copier.streams")

#: Stream entries one forward read scans (`OrderedStreams._read_forward`).
FORWARD_SCAN = 2_000


class OrderedStreams:
    """One consumer of the copier group over several streams, ordered per account."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: CopierKeys,
        handlers: Mapping[str, Handler],
        *,
        consumer: str,
        clock: Clock,
        lock_ttl_ms: int = 10_000,
        max_failures: int = 5,
        claim_idle_ms: int = 5_000,
        batch: int = 64,
        pause_after_read_ms: int = 0,
        narrow: Mapping[str, int] | None = None,
        reports: Mapping[str, int] | None = None,
        held_back: frozenset[str] = frozenset(),
    ) -> None:
        self._redis = redis  #: bytes-mode client
        self._keys = keys  #: copier key names
        self._handlers = dict(handlers)  #: stream key -> handler
        self.consumer = consumer  #: this consumer's name in the group
        self._clock = clock  #: epoch ms
        self._lock_ttl = lock_ttl_ms  #: partition lock lifetime
        self._max_failures = max_failures  #: claims before a failing entry is dead-lettered
        self._batch = batch  #: entries per read, and per partition in a forward read
        self._enter = redis.register_script(ENTER)  #: lock + mark + oldest pending id
        self._release = redis.register_script(RELEASE)  #: compare-and-delete of a lock
        #: new, idle (claimed) and deferred entries of this consumer
        self._reader = ConsumerGroupReader(
            redis,
            keys,
            self._handlers,
            consumer=consumer,
            claim_idle_ms=claim_idle_ms,
            batch=batch,
            pause_after_read_ms=pause_after_read_ms,
            narrow=dict(narrow or {}),
            reports=dict(reports or {}),
            held_back=held_back,
        )

    async def ensure_groups(self) -> None:
        """Create the consumer group on every stream (from the start) if missing."""
        await self._reader.ensure_groups()

    async def read(self, block_ms: int) -> list[StreamEntry]:
        """New entries for this consumer (blocks up to `block_ms`): `ConsumerGroupReader.read`."""
        return await self._reader.read(block_ms)

    async def claim(self) -> list[tuple[StreamEntry, int]]:
        """Entries idle too long in any consumer, now ours, with their claim counts."""
        return await self._reader.claim()

    @property
    def rounds_held_back(self) -> int:
        """Reads that left new intents unread because reports were behind."""
        return self._reader.back_pressure.rounds_held_back

    # ---- processing --------------------------------------------------------------
    async def process(self, entry: StreamEntry, claims: int = 0) -> None:
        """Process one entry in account order (see the module docstring).

        Raises:
            Exception: the handler's error, when the entry stays pending.
        """
        if claims >= 3 * self._max_failures:
            await self._dead_letter(entry, f"claimed {claims} times (crash loop?)")
            return
        async with self._partition(entry) as (mark, oldest):
            if mark is not None and entry_key(entry.entry_id) <= entry_key(mark):
                await self._redis.xack(entry.stream, CONSUMER_GROUP, entry.entry_id)
                return
            for earlier in await self._earlier(entry, mark, oldest):
                await self._handle(earlier, await self._claims(earlier))
            await self._handle(entry, claims)

    async def process_together(
        self, entries: Sequence[StreamEntry], handler: BatchHandler
    ) -> list[StreamEntry]:
        """Process new entries of one stream for many accounts in ONE `handler` call.

        Every account's lock is tried once, all at the same time. Accounts whose
        lock was free and that have nothing unprocessed before these entries go
        to `handler` together; then their marks are raised and the entries acked
        in one transaction, and the locks released. The other entries (a busy
        lock, a catch-up to run first, entries already processed) are returned,
        for `process` one at a time, which waits for locks and catches up.

        Raises:
            Exception: the handler's error; every entry stays pending.
        """
        groups: dict[str, list[StreamEntry]] = {}
        for entry in entries:
            groups.setdefault(entry.account_id, []).append(entry)
        token = secrets.token_hex(8)
        stream = entries[0].stream
        tries = await evalsha_many(
            self._redis,
            self._enter,
            [self._enter_args(stream, a, token) for a in groups],
            keyed=True,
        )
        held = {a: (_text(r[1]), _text(r[2])) for a, r in zip(groups, tries, strict=True) if r[0]}
        busy = [e for a, g in groups.items() if a not in held for e in g]
        left: list[StreamEntry] = []
        if self._reader.is_narrow(stream):
            # busy partitions of a narrow stream are tried again with the next read
            # instead of waited for: their holder may well process them (`_read_forward`)
            self._reader.defer(stream, busy)
        else:
            left += busy
        try:
            behind = await self._accounts_behind(groups, held)
            ready: dict[str, list[StreamEntry]] = {}
            done: list[StreamEntry] = []  # processed already (a forward read): ack only
            for account, (mark, _) in held.items():
                group = groups[account]
                if mark is not None and entry_key(group[-1].entry_id) <= entry_key(mark):
                    done += group
                elif account in behind or (
                    mark is not None and entry_key(group[0].entry_id) <= entry_key(mark)
                ):
                    left += group
                else:
                    ready[account] = group
            if ready and self._reader.is_narrow(stream):
                await self._read_forward(stream, ready)
            if ready:
                await handler(ready)
            if ready or done:
                await self._done_many(ready, done)
        finally:
            if held:
                await evalsha_many(
                    self._redis,
                    self._release,
                    [(1, self._keys.partition_lock(a), token) for a in held],
                    keyed=True,
                )
        return left

    def _enter_args(self, stream: str, account_id: str, token: str) -> tuple[str | int, ...]:
        lock = self._keys.partition_lock(account_id)
        keys = (lock, self._keys.marks(stream), stream)
        return (3, *keys, token, self._lock_ttl, account_id, CONSUMER_GROUP)

    async def _accounts_behind(
        self,
        groups: Mapping[str, Sequence[StreamEntry]],
        held: Mapping[str, tuple[str | None, str | None]],
    ) -> set[str]:
        """The held accounts with unprocessed entries before theirs in `groups` (a
        catch-up to run first): one XRANGE over the span every account could need."""
        starts: dict[str, str] = {}
        for account, (mark, oldest) in held.items():
            if oldest is None:
                continue
            start = oldest if mark is None or entry_key(oldest) > entry_key(mark) else mark
            if entry_key(start) < entry_key(groups[account][0].entry_id):
                starts[account] = start
        if not starts:
            return set()
        low = min(starts.values(), key=entry_key)
        high = max((groups[a][0].entry_id for a in starts), key=entry_key)
        stream = groups[next(iter(starts))][0].stream
        rows: Any = await self._redis.xrange(stream, min=low, max=high)
        behind: set[str] = set()
        for raw_id, fields in rows:
            account = fields.get(b"account_id", b"").decode()
            if account not in starts or account in behind:
                continue
            key = entry_key(raw_id.decode())
            first = entry_key(groups[account][0].entry_id)
            mark = held[account][0]
            if entry_key(starts[account]) <= key < first and (
                mark is None or key > entry_key(mark)
            ):
                behind.add(account)
        return behind

    async def _read_forward(self, stream: str, ready: dict[str, list[StreamEntry]]) -> None:
        """Append to each held partition's entries its later ones already in the stream
        (up to `batch` per partition), read or not by anyone: processed now, under the
        lock and in order, they are folded into one step; whoever reads them later
        finds them at or below the partition's mark and only acks them."""
        start = min((g[-1].entry_id for g in ready.values()), key=entry_key)
        rows: Any = await self._redis.xrange(stream, min=start, max="+", count=FORWARD_SCAN)
        for raw_id, fields in rows:
            group = ready.get(fields.get(b"account_id", b"").decode())
            entry_id = raw_id.decode()
            if (
                group is not None
                and len(group) < self._batch
                and entry_key(entry_id) > entry_key(group[-1].entry_id)
            ):
                group.append(StreamEntry(stream, entry_id, fields))

    async def _done_many(
        self, groups: Mapping[str, Sequence[StreamEntry]], done: Sequence[StreamEntry] = ()
    ) -> None:
        entries = [e for group in groups.values() for e in group]
        stream = (entries or done)[0].stream
        async with self._redis.pipeline(transaction=True) as pipe:
            if groups:
                pipe.hset(
                    self._keys.marks(stream), mapping={a: g[-1].entry_id for a, g in groups.items()}
                )
            every = [*entries, *done]
            pipe.xack(stream, CONSUMER_GROUP, *(e.entry_id for e in every))
            pipe.hdel(self._keys.failures(stream), *(failure_field(e) for e in every))
            await pipe.execute()

    async def _handle(self, entry: StreamEntry, claims: int) -> None:
        try:
            await self._handlers[entry.stream](entry)
        except Exception as exc:
            if claims < self._max_failures:
                raise
            await self._dead_letter(entry, f"{type(exc).__name__}: {exc}")
            return
        await self._done(entry)

    async def _done(self, entry: StreamEntry) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._keys.marks(entry.stream), entry.account_id, entry.entry_id)
            pipe.xack(entry.stream, CONSUMER_GROUP, entry.entry_id)
            pipe.hdel(self._keys.failures(entry.stream), failure_field(entry))
            await pipe.execute()

    async def _dead_letter(self, entry: StreamEntry, error: str) -> None:
        _log.error("dead-lettering %s %s: %s", entry.stream, entry.entry_id, error)
        claims = await self._claims(entry)
        mark = await self._mark(entry)
        letter: dict[Any, Any] = {
            "stream": entry.stream,
            "entry_id": entry.entry_id,
            "account_id": entry.account_id,
            "error": error[:2000],
            "claims": str(claims),
            "dead_ms": str(self._clock()),
            "body": entry.fields.get(b"body", b""),
        }
        if self._keys.cluster:  # the dead-letter stream is in another slot: first, alone
            await self._redis.xadd(
                self._keys.dead_letters(), letter, maxlen=10_000, approximate=True
            )
        async with self._redis.pipeline(transaction=True) as pipe:
            if not self._keys.cluster:
                pipe.xadd(self._keys.dead_letters(), letter, maxlen=10_000, approximate=True)
            if mark is None or entry_key(mark) < entry_key(entry.entry_id):
                pipe.hset(self._keys.marks(entry.stream), entry.account_id, entry.entry_id)
            pipe.xack(entry.stream, CONSUMER_GROUP, entry.entry_id)
            pipe.hdel(self._keys.failures(entry.stream), failure_field(entry))
            await pipe.execute()

    async def _mark(self, entry: StreamEntry) -> str | None:
        raw: Any = await self._redis.hget(self._keys.marks(entry.stream), entry.account_id)
        return None if raw is None else raw.decode()

    async def _claims(self, entry: StreamEntry) -> int:
        raw = await self._redis.hget(self._keys.failures(entry.stream), failure_field(entry))
        return int(raw or 0)

    async def _earlier(
        self, entry: StreamEntry, mark: str | None, oldest: str | None
    ) -> list[StreamEntry]:
        """Unprocessed entries of the same account before `entry`, oldest first.

        `oldest` is the oldest id pending in the group (read under the lock).
        """
        if oldest is None:
            return []
        start = oldest
        if mark is not None and entry_key(mark) > entry_key(start):
            start = mark
        if entry_key(start) >= entry_key(entry.entry_id):
            return []
        rows: Any = await self._redis.xrange(entry.stream, min=start, max=entry.entry_id)
        found: list[StreamEntry] = []
        for raw_id, fields in rows:
            entry_id = raw_id.decode()
            if entry_id == entry.entry_id or fields.get(b"account_id", b"").decode() != (
                entry.account_id
            ):
                continue
            if mark is not None and entry_key(entry_id) <= entry_key(mark):
                continue
            found.append(StreamEntry(entry.stream, entry_id, fields))
        return found

    @contextlib.asynccontextmanager
    async def _partition(self, entry: StreamEntry) -> AsyncIterator[tuple[str | None, str | None]]:
        """Hold the entry's account lock (waits for another holder, up to 3 lock lifetimes).

        Yields the account's mark and the oldest id pending in the group, read
        in the same call that took the lock (`ENTER`).
        """
        account_id = entry.account_id
        key = self._keys.partition_lock(account_id)
        token = secrets.token_hex(8)
        deadline = asyncio.get_running_loop().time() + 3 * self._lock_ttl / 1000
        delay = 0.002
        keys = [key, self._keys.marks(entry.stream), entry.stream]
        args: list[str | int] = [token, self._lock_ttl, account_id, CONSUMER_GROUP]
        while not (reply := await self._enter(keys=keys, args=args))[0]:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"partition {account_id} stays locked")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)
        _, mark, oldest = reply
        try:
            yield _text(mark), _text(oldest)
        finally:
            await self._release(keys=[key], args=[token])


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode()
