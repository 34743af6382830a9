"""Where a session lives, from its id alone: the session index on Redis Cluster.

On a single Redis the session index (session id -> account id) is one hash,
written and read inside the session scripts. On Redis Cluster the scripts run in
the partition of the account, which a caller holding only a session id does not
know; the index therefore lives in the partition of the *session id*
(`RedisKeys.session_index(partition_of(session_id))`) and is kept here, outside
the scripts: written before the creation script runs (so a session is never
live without its entry; a creation that did not happen removes it again),
read before a script that starts from a session id (one more round trip, on a
cluster only), and cleaned when the heartbeat sweep reports expired records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import redis.asyncio as aioredis

from gateway.store.keys import RedisKeys

__all__ = ["Located", "SessionIndex"]


@dataclass(frozen=True, slots=True)
class Located:
    """How to run a script about one session: its routing keys, account argument, partition."""

    keys: list[str]  #: KEYS of the call (the account hash on a cluster, else none)
    account: str  #: the account id, or '' (the script reads the index itself)
    partition: int  #: the account's partition (0 on a single Redis)


#: On a single Redis the scripts find the account themselves.
_IN_SCRIPT = Located([], "", 0)


class SessionIndex:
    """The cluster's session index (a no-op on a single Redis, where scripts keep it)."""

    def __init__(self, redis: aioredis.Redis, keys: RedisKeys) -> None:
        self._redis = redis  #: bytes-mode client
        self._keys = keys  #: key names

    def _key(self, session_id: str) -> str:
        return self._keys.session_index(self._keys.partition_of(session_id))

    def _at(self, account_id: str) -> Located:
        return Located(
            [self._keys.account(account_id)], account_id, self._keys.partition_of(account_id)
        )

    async def locate(self, session_id: str) -> Located | None:
        """How to reach the session; None when the index does not know it."""
        if not self._keys.cluster:
            return _IN_SCRIPT
        account = cast(bytes | None, await self._redis.hget(self._key(session_id), session_id))
        return self._at(account.decode()) if account is not None else None

    async def accounts_of(self, session_ids: Sequence[str]) -> list[tuple[str, str]]:
        """(account id, session id) of each known session (cluster only), in order."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for sid in session_ids:
                pipe.hget(self._key(sid), sid)
            accounts: list[bytes | None] = await pipe.execute()
        return [
            (account.decode(), sid)
            for account, sid in zip(accounts, session_ids, strict=True)
            if account is not None
        ]

    async def add(self, session_id: str, account_id: str) -> None:
        """Index a session about to be created (cluster only)."""
        if self._keys.cluster:
            await self._redis.hset(self._key(session_id), session_id, account_id)

    async def forget(self, session_ids: Sequence[str]) -> None:
        """Drop index entries (a creation that did not happen, expired closed records)."""
        if not self._keys.cluster or not session_ids:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for sid in session_ids:
                pipe.hdel(self._key(sid), sid)
            await pipe.execute()
