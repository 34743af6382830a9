"""Closing many sessions at once, for `RedisSessionStore`: a node's, and the expired ones.

`close_many` closes a node's sessions at shutdown in a few script calls (one per
`CLOSE_MANY_CHUNK` ids); `close_expired` closes the live sessions whose heartbeat
deadline passed, and `next_deadline_ms` tells the heartbeat monitor when that is
due next. Both close scripts announce what they close (``closed`` events) and
remove it from the live and deadline sets, so every node may sweep at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis

from gateway.store.keys import RedisKeys
from gateway.store.partitions import by_partition
from gateway.store.records import SessionRecord
from gateway.store.redis_errors import translates_redis_errors
from gateway.store.scripts import Scripts
from gateway.store.session_creation import session_from_flat
from gateway.store.session_index import SessionIndex

__all__ = ["CLOSE_MANY_CHUNK", "SessionBulkClosing"]

#: Sessions `close_many` closes per script call (bounds how long Redis is busy).
CLOSE_MANY_CHUNK = 500


class SessionBulkClosing:
    """`SessionStore.close_many`, `close_expired`, `next_deadline_ms` for `RedisSessionStore`."""

    _redis: aioredis.Redis  #: bytes-mode client (set by the store's __init__)
    _keys: RedisKeys  #: key names (set by the store's __init__)
    _scripts: Scripts  #: the Lua scripts (set by the store's __init__)
    _closed_ttl_s: int  #: how long closed session records are kept (set by __init__)
    _index: SessionIndex  #: the session index on Redis Cluster (set by __init__)

    @translates_redis_errors
    async def close_many(
        self, session_ids: Sequence[str], *, reason: str, now_ms: int
    ) -> list[SessionRecord]:
        """`close_session` for many sessions: one script call per `CLOSE_MANY_CHUNK` ids.

        Returns:
            The records of the sessions closed here, in the order of `session_ids`
            (ids that were not live are skipped).
        """
        if self._keys.cluster:
            located = await self._index.accounts_of(session_ids)
            parts = await by_partition(
                self._keys,
                located,
                lambda pair: pair[0],
                lambda part, n: self._close_chunks(part, n, reason, now_ms),
            )
            return [record for records in parts for record in records]
        closed: list[SessionRecord] = []
        for start in range(0, len(session_ids), CLOSE_MANY_CHUNK):
            chunk = session_ids[start : start + CLOSE_MANY_CHUNK]
            args = [arg for sid in chunk for arg in ("", sid)]
            reply = await self._scripts.run(
                "close_many", [], reason, now_ms, self._closed_ttl_s, *args
            )
            closed.extend(session_from_flat(flat) for flat in reply)
        return closed

    async def _close_chunks(
        self, pairs: Sequence[tuple[str, str]], partition: int, reason: str, now_ms: int
    ) -> list[list[SessionRecord]]:
        """close_many.lua over (account id or '', session id) pairs of one partition.

        Returns one list per pair: the closed record, or nothing (not live).
        """
        routing = [self._keys.account(pairs[0][0])] if self._keys.cluster and pairs else []
        out: list[list[SessionRecord]] = []
        for start in range(0, len(pairs), CLOSE_MANY_CHUNK):
            chunk = pairs[start : start + CLOSE_MANY_CHUNK]
            args = [arg for pair in chunk for arg in pair]
            reply = await self._scripts.run(
                "close_many",
                routing,
                reason,
                now_ms,
                self._closed_ttl_s,
                *args,
                partition=partition,
            )
            by_id = {record.session_id: record for record in map(session_from_flat, reply)}
            out.extend([by_id[sid]] if sid in by_id else [] for _, sid in chunk)
        return out

    @translates_redis_errors
    async def next_deadline_ms(self) -> int | None:
        """The earliest heartbeat deadline of any live session, or None."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for n in range(self._keys.partition_count):
                pipe.zrange(self._keys.heartbeat_deadlines(n), 0, 0, withscores=True)
            firsts: list[list[tuple[bytes, float]]] = await pipe.execute()
        deadlines = [int(first[0][1]) for first in firsts if first]
        return min(deadlines) if deadlines else None

    @translates_redis_errors
    async def close_expired(self, *, now_ms: int, limit: int = 500) -> list[SessionRecord]:
        """Close (reason `heartbeat_timeout`) live sessions whose deadline is < now_ms.

        Safe on every node at once: the script removes what it closes, so each
        session is closed (and announced) exactly once. Also forgets the
        session-index entries of closed records that have expired.
        """
        if not self._keys.cluster:
            reply = await self._scripts.run("close_expired", [], now_ms, limit, self._closed_ttl_s)
            return [session_from_flat(flat) for flat in reply[0]]
        closed: list[SessionRecord] = []
        for n in range(self._keys.partition_count):  # each partition on its own primary
            reply = await self._scripts.run(
                "close_expired",
                [self._keys.heartbeat_deadlines(n)],
                now_ms,
                limit,
                self._closed_ttl_s,
                partition=n,
            )
            closed.extend(session_from_flat(flat) for flat in reply[0])
            await self._index.forget([sid.decode() for sid in reply[1]])
        return closed
