"""The worker's outbox in Redis: claim, flush to the delivery logs, drop.

Commands reach the follower's delivery log through the **outbox**: the commit
(`copier.worker.store.FollowerStore.commit`) stores each envelope in the
follower's outbox hash, the writer then claims them with ONE `OUTBOX_CLAIM` call
(with every older entry of the same accounts still waiting for its writer, in
decision order; a claimed entry is enqueued by no other flush), hands every
claimed envelope to ONE `DeliveryLog.enqueue_many` call (idempotent by envelope
id) and finally ONE `OUTBOX_DONE` call drops the entries of every account. A
writer that dies in between leaves the entries behind; the next writer of the
account or the sweeper (once they are ``grace_ms`` old) enqueues them. Retries
are outbox entries whose due time is the backoff deadline.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from copier.keys import CopierKeys
from copier.worker.draft import OutboxItem
from copier.worker.evalsha import evalsha_many
from copier.worker.ops import netstrings, read_outbox_value
from copier.worker.outbox_lua import OUTBOX_CLAIM, OUTBOX_DONE, claim_templates, outbox_templates
from copier.worker.partitions import chunks, keyed_call
from gateway.store.keys import RedisKeys
from gateway.store.ports import DeliveryLog
from gateway.store.redis_errors import translates_redis_errors

__all__ = ["FlushResult", "OutboxStore"]

_log = logging.getLogger("copygate.copier")

#: Accounts per `OUTBOX_CLAIM` call (bounds how long one call holds Redis).
_CHUNK = 250


@dataclass(frozen=True, slots=True)
class FlushResult:
    """What one outbox flush did."""

    queued: tuple[str, ...] = ()  #: envelope ids the delivery log accepted
    refused: tuple[str, ...] = ()  #: envelope ids refused because the log is full


class OutboxStore:
    """The followers' outbox entries over one Redis client (part of `FollowerStore`)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: RedisKeys,
        ckeys: CopierKeys,
        delivery: DeliveryLog,
        *,
        claim_lease_ms: int = 2_000,
    ) -> None:
        self._redis = redis  #: bytes-mode client
        self._keys = keys  #: the gateway's key names (partition count)
        self._ckeys = ckeys  #: the copier's key names
        self._delivery = delivery  #: where commands go (idempotent enqueue by envelope id)
        parts = range(keys.partition_count)  # key templates by partition (one on one Redis)
        self._claim = redis.register_script(OUTBOX_CLAIM)  #: outbox entries a flush takes
        self._claim_templates = [claim_templates(ckeys.pinned(n)) for n in parts]
        #: how long a flush's claim keeps other flushes off an entry (then the sweeper's)
        self._claim_lease = claim_lease_ms
        self._done = redis.register_script(OUTBOX_DONE)  #: outbox acknowledgement
        self._done_templates = [outbox_templates(ckeys.pinned(n), n) for n in parts]

    @translates_redis_errors
    async def flush(
        self, items: Iterable[tuple[str, OutboxItem]], *, now_ms: int
    ) -> dict[str, FlushResult]:
        """Enqueue outbox items (account, item) and drop them from the outbox.

        One `OUTBOX_CLAIM` call claims the items and every older pending entry of
        their accounts (`claim_outbox`), one `DeliveryLog.enqueue_many` call
        enqueues what was claimed, in decision order, then one `OUTBOX_DONE` call
        drops it. Returns what happened per account; refused items (the
        follower's log is full) are dropped from the outbox too (the caller
        records them as not delivered).
        """
        pairs = await self.claim_outbox(items, now_ms=now_ms)
        if not pairs:
            return {}
        results = await self._delivery.enqueue_many(
            [(account, item.envelope_id, item.body) for account, item in pairs]
        )
        done: dict[str, tuple[list[str], list[str]]] = {}
        for (account, item), result in zip(pairs, results, strict=True):
            if result.full:
                _log.warning("delivery log of %s is full: %s not queued", account, item.envelope_id)
            done.setdefault(account, ([], []))[1 if result.full else 0].append(item.envelope_id)
        accounts = list(done)
        calls: list[list[bytes | str | int]] = []
        for partition, indexes in chunks(self._ckeys, accounts, len(accounts)):
            values: list[bytes] = []
            for account in (accounts[i] for i in indexes):
                queued, refused = done[account]
                values += (account.encode(), b"%d" % len(queued), b"%d" % len(refused))
                values += (envelope_id.encode() for envelope_id in (*queued, *refused))
            args = (self._done_templates[partition], now_ms, netstrings(values))
            calls.append(keyed_call(self._ckeys, accounts[indexes[0]], *args))
        await evalsha_many(self._redis, self._done, calls, keyed=True)
        return {a: FlushResult(tuple(q), tuple(r)) for a, (q, r) in done.items()}

    @translates_redis_errors
    async def claim_outbox(
        self, items: Iterable[tuple[str, OutboxItem]], *, now_ms: int
    ) -> list[tuple[str, OutboxItem]]:
        """Claim outbox items (account, item) for one flush: what this flush is to enqueue.

        Per account, the items asked for and every older entry that waits for its
        writer (which may have died) or is due, in decision order: a later decision
        does not pass an entry a dead writer left behind. An entry another flush
        has claimed (until its lease is over) is left out, and so is one already
        dropped: every entry is enqueued by one flush only.
        """
        asked: dict[str, dict[str, OutboxItem]] = {}
        for account, item in items:
            asked.setdefault(account, {})[item.envelope_id] = item
        if not asked:
            return []
        accounts = list(asked)
        calls: list[list[bytes | str | int]] = []
        for partition, indexes in chunks(self._ckeys, accounts, _CHUNK):
            values: list[bytes] = []
            for account in (accounts[i] for i in indexes):
                values += (account.encode(), b"%d" % len(asked[account]))
                values += (envelope_id.encode() for envelope_id in asked[account])
            args = (self._claim_templates[partition], now_ms, self._claim_lease, netstrings(values))
            calls.append(keyed_call(self._ckeys, accounts[indexes[0]], *args))
        replies = await evalsha_many(self._redis, self._claim, calls, keyed=True)
        # only the accounts whose claims differ from what was asked are in the replies
        other: dict[str, list[OutboxItem]] = {}
        for reply in replies:
            pos = 0
            while pos < len(reply):
                account, count = reply[pos].decode(), int(reply[pos + 1])
                mine, kept = asked[account], other.setdefault(account, [])
                for n in range(pos + 2, pos + 2 + 2 * count, 2):
                    envelope_id, body = reply[n].decode(), reply[n + 1]
                    # an entry not asked for: an older one of the account, taken over
                    taken = OutboxItem(envelope_id, body, now_ms, False)
                    kept.append(mine.get(envelope_id, taken))
                pos += 2 + 2 * count
        if not other:
            return [(account, item) for account, ids in asked.items() for item in ids.values()]
        return [
            (account, item)
            for account, ids in asked.items()
            for item in other.get(account, ids.values())
        ]

    @translates_redis_errors
    async def due_outbox(self, now_ms: int, *, limit: int = 100) -> list[tuple[str, OutboxItem]]:
        """Outbox items whose due time has passed (retries, and orphans of dead writers)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for n in range(self._keys.partition_count):
                pipe.zrangebyscore(self._ckeys.outbox_index(n), "-inf", now_ms, start=0, num=limit)
            parts: list[Any] = await pipe.execute()
        accounts = [account for part in parts for account in part]
        if not accounts:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for account in accounts:
                pipe.hgetall(self._ckeys.outbox(account.decode()))
            rows = await pipe.execute()
        due: list[tuple[str, OutboxItem]] = []
        for account, entries in zip(accounts, rows, strict=True):
            # decision order, not the hash's: one copy's commands stay in order
            items = []
            for envelope_id, value in entries.items():
                when, order, body = read_outbox_value(value)
                items.append((order, when, body, envelope_id))
            for _order, when, body, envelope_id in sorted(items):
                if when <= now_ms:
                    item = OutboxItem(envelope_id.decode(), body, when, False)
                    due.append((account.decode(), item))
        return due
