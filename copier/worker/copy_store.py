"""Copy records in Redis, as read back: by command id, newest first, with their times.

The commit (`copier.worker.store.FollowerStore.commit`) writes them; `CopyStore`
(`store.copy_store`) reads them for the pump's decisions and the admin API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis

from copier.keys import CopierKeys
from copier.worker.codec import decode_copy
from copier.worker.state import CopyRecord
from gateway.store.redis_errors import translates_redis_errors

__all__ = ["CopyStore"]


class CopyStore:
    """The followers' copy records over one Redis client (part of `FollowerStore`)."""

    def __init__(self, redis: aioredis.Redis, ckeys: CopierKeys) -> None:
        self._redis = redis  #: bytes-mode client
        self._ckeys = ckeys  #: the copier's key names

    @translates_redis_errors
    async def copy_records(
        self, wanted: Mapping[str, Sequence[str]]
    ) -> dict[str, dict[str, CopyRecord]]:
        """Copy records by follower and base command id (missing ones are left out);
        one pipelined round trip."""
        followers = [f for f, ids in wanted.items() if ids]
        if not followers:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for follower in followers:
                pipe.hmget(self._ckeys.copies(follower), list(wanted[follower]))
            replies = await pipe.execute()
        return {
            follower: {
                command_id: decode_copy(raw)
                for command_id, raw in zip(wanted[follower], raws, strict=True)
                if raw is not None
            }
            for follower, raws in zip(followers, replies, strict=True)
        }

    @translates_redis_errors
    async def copies(
        self, follower_id: str, *, limit: int = 100, master_id: str | None = None
    ) -> list[tuple[CopyRecord, int | None, int | None]]:
        """Newest copy records with their first queued and delivered times."""
        ids: Any = await self._redis.zrevrange(self._ckeys.copies_index(follower_id), 0, -1)
        out: list[tuple[CopyRecord, int | None, int | None]] = []
        for start in range(0, len(ids), 200):
            chunk = ids[start : start + 200]
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hmget(self._ckeys.copies(follower_id), chunk)
                pipe.hmget(self._ckeys.queued_times(follower_id), chunk)
                pipe.hmget(self._ckeys.delivered_times(follower_id), chunk)
                raws, queued, delivered = await pipe.execute()
            for raw, q, d in zip(raws, queued, delivered, strict=True):
                if raw is None:
                    continue
                record = decode_copy(raw)
                if master_id is not None and record.master_id != master_id:
                    continue
                out.append((record, None if q is None else int(q), None if d is None else int(d)))
                if len(out) >= limit:
                    return out
        return out

    @translates_redis_errors
    async def command_times(
        self, copies: Sequence[tuple[str, str]]
    ) -> list[tuple[int | None, int | None]]:
        """(first queued ms, first delivered ms) of each (follower, base command id)."""
        if not copies:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for follower_id, command_id in copies:
                pipe.hget(self._ckeys.queued_times(follower_id), command_id)
                pipe.hget(self._ckeys.delivered_times(follower_id), command_id)
            values: list[bytes | None] = await pipe.execute()
        return [
            (None if q is None else int(q), None if d is None else int(d))
            for q, d in zip(values[::2], values[1::2], strict=True)
        ]
