"""`SessionStore` over Redis: sessions, activation with fencing, heartbeat deadlines.

Every state change is one Lua script (``gateway/store/lua``), so the invariant "at
most one authenticated session per account" holds across gateway nodes: the account
hash holds ``gen`` (incremented by each activation) and ``active_sid``; a session is
active iff it is authenticated and ``active_sid`` names it. Closing the active
session clears ``active_sid``, so messages enqueued meanwhile are held.

Activation by creation keeps the seqs of unacknowledged messages (the new EA's
``ack_seq`` refers to them) and numbers held messages after them. Activation by
promotion first applies the ack the pending session reported (`remember_ack`),
then logs the opening messages, renumbers the remaining backlog after them and
numbers the held messages last (rule 2: SessionStateChange, InitAck, backlog).

Closed sessions keep their record for ``closed_session_ttl_s`` (so their tokens get
410 with the close reason, not 401); they leave the live set and the deadline set.

Session creation is `session_creation.SessionCreation`'s, closing many sessions at
once (shutdown, expired heartbeats) `session_bulk_closing.SessionBulkClosing`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import redis.asyncio as aioredis

from gateway.errors import FencingError
from gateway.store.account_store import ACCOUNT_FIELDS, account_from_fields
from gateway.store.keys import RedisKeys
from gateway.store.records import AccountRecord, ActivationResult, SessionRecord
from gateway.store.redis_errors import translates_redis_errors
from gateway.store.scripts import ScriptArg, Scripts
from gateway.store.session_bulk_closing import SessionBulkClosing
from gateway.store.session_creation import (
    SessionCreation,
    session_from_flat,
    session_from_hash,
    session_ids,
)
from gateway.store.session_index import Located, SessionIndex
from schemas.codes import SessionState

__all__ = [
    "DEFAULT_CLOSED_SESSION_TTL_S",
    "NO_STREAM_TRIM",
    "RedisSessionStore",
    "session_from_flat",
    "session_from_hash",
]

#: How long a closed session's record is kept (seconds).
DEFAULT_CLOSED_SESSION_TTL_S = 24 * 3600
#: `stream_maxlen` of the intent and EA-event streams: appends do not trim them. A
#: length bound (``MAXLEN ~``) drops the oldest entries whether the copier finished
#: them or not, which would lose recorded intents and reports under a backlog; only
#: finished entries are trimmed (`copier.backlog.trim_finished`) and the intent
#: backlog is bounded by admission (`gateway.admission`).
NO_STREAM_TRIM = 0


def _deadline_member(member: bytes) -> tuple[str, str]:
    """``b"<account id> <session id>"`` -> (account id, session id)."""
    account_id, _, session_id = member.decode().partition(" ")
    return account_id, session_id


class RedisSessionStore(SessionCreation, SessionBulkClosing):
    """`SessionStore` implementation over `redis.asyncio` (or fakeredis)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: RedisKeys,
        *,
        closed_session_ttl_s: int = DEFAULT_CLOSED_SESSION_TTL_S,
        stream_maxlen: int = NO_STREAM_TRIM,
        scripts: Scripts | None = None,
    ) -> None:
        #: bytes-mode client
        self._redis = redis
        #: key names
        self._keys = keys
        #: how long closed session records are kept (seconds)
        self._closed_ttl_s = closed_session_ttl_s
        #: approximate MAXLEN of the intent stream, 0: none (held intents released on promotion)
        self._stream_maxlen = stream_maxlen
        #: the Lua scripts
        self._scripts = scripts or Scripts(redis, keys)
        #: the session index where the scripts do not keep it (Redis Cluster)
        self._index = SessionIndex(redis, keys)

    @translates_redis_errors
    async def promote(
        self,
        session_id: str,
        *,
        now_ms: int,
        opening_messages: Sequence[bytes],
    ) -> ActivationResult | None:
        """Promote a pending session to authenticated (activation), atomically.

        In order: preempt every other live session, drop what the session reported
        as processed (`remember_ack`), log `opening_messages` bound to this session,
        renumber the remaining unacknowledged durable messages after them, number the
        held messages, move the session's held OrderIntents to the intent stream.

        Returns:
            The activation, or None (nothing changed) if the session is not pending.
        """
        current = await self.get_session(session_id)
        if current is None or current.state is not SessionState.PENDING:
            return None
        account_id = current.account_id
        reply = await self._scripts.run(
            "promote",
            [self._keys.account(account_id)],
            account_id,
            session_id,
            now_ms,
            self._closed_ttl_s,
            self._stream_maxlen,
            *opening_messages,
            partition=self._keys.partition_of(account_id),
        )
        if reply[0] != b"ok":
            return None
        return ActivationResult(
            session=session_from_flat(reply[1]),
            preempted=session_ids(reply[2]),
            released_intents=int(reply[3]),
        )

    @translates_redis_errors
    async def get_session(self, session_id: str) -> SessionRecord | None:
        """The session (live or recently closed), or None if unknown or expired."""
        where = await self._index.locate(session_id)
        if where is None:
            return None
        flat = await self._run_located("get_session", where, session_id)
        return session_from_flat(flat) if flat else None

    @translates_redis_errors
    async def get_session_account(
        self, session_id: str
    ) -> tuple[SessionRecord, AccountRecord | None] | None:
        """`get_session` and the account's `AccountStore.get_account`, in one call."""
        where = await self._index.locate(session_id)
        if where is None:
            return None
        reply = await self._run_located("get_session_account", where, session_id, *ACCOUNT_FIELDS)
        if not reply:
            return None
        record = session_from_flat(reply[0])
        return record, account_from_fields(record.account_id, list(reply[1]))

    @translates_redis_errors
    async def list_sessions(self, account_id: str | None = None) -> list[SessionRecord]:
        """Live sessions, of one account (oldest first) or of all accounts."""
        pairs: list[tuple[str, str]]
        if account_id is not None:
            sids = cast(
                list[bytes],
                await self._redis.zrange(self._keys.account_sessions(account_id), 0, -1),
            )
            pairs = [(account_id, sid.decode()) for sid in sids]
        else:
            async with self._redis.pipeline(transaction=False) as pipe:
                for n in range(self._keys.partition_count):
                    pipe.zrange(self._keys.heartbeat_deadlines(n), 0, -1)
                parts: list[list[bytes]] = await pipe.execute()
            pairs = [_deadline_member(m) for members in parts for m in members]
        return await self._load(pairs)

    @translates_redis_errors
    async def count_by_state(self) -> dict[SessionState, int]:
        """Live sessions of every account by state: one HGETALL of the counts hash."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for n in range(self._keys.partition_count):
                pipe.hgetall(self._keys.session_counts(n))
            parts: list[dict[bytes, bytes]] = await pipe.execute()
        counts: dict[SessionState, int] = {}
        for raw in parts:
            for k, v in raw.items():
                state = SessionState(k.decode())
                counts[state] = counts.get(state, 0) + int(v)
        counts = {state: max(0, n) for state, n in counts.items()}
        return {
            state: counts.get(state, 0)
            for state in (SessionState.PENDING, SessionState.AUTHENTICATED)
        }

    async def _load(self, pairs: Sequence[tuple[str, str]]) -> list[SessionRecord]:
        if not pairs:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for account_id, sid in pairs:
                pipe.hgetall(self._keys.session(account_id, sid))
            hashes: list[dict[bytes, bytes]] = await pipe.execute()
        records = [session_from_hash(h) for h in hashes if h]
        return [r for r in records if r.state is not SessionState.CLOSED]

    @translates_redis_errors
    async def pending_sessions_for_key(self, account_id: str, key_id: str) -> list[str]:
        """Ids of the account's pending sessions opened with that key, oldest first."""
        records = await self.list_sessions(account_id)
        return [
            r.session_id for r in records if r.state is SessionState.PENDING and r.key_id == key_id
        ]

    @translates_redis_errors
    async def close_session(
        self, session_id: str, *, reason: str, now_ms: int
    ) -> SessionRecord | None:
        """Close a live session with `reason` and announce it (`closed` event).

        Returns:
            The closed record, or None if the session was not live.
        """
        where = await self._index.locate(session_id)
        if where is None:
            return None
        flat = await self._run_located(
            "close_session", where, session_id, reason, now_ms, self._closed_ttl_s
        )
        return session_from_flat(flat) if flat else None

    @translates_redis_errors
    async def heartbeat(
        self,
        account_id: str,
        session_id: str,
        *,
        now_ms: int,
        heartbeat_timeout_ms: int,
        status: bytes,
        ack_seq: int,
    ) -> int:
        """Touch + keep the StatusHeartbeat payload + ack, in one script call.

        Raises:
            FencingError: the session is not the account's active session.

        Returns:
            The account's acknowledged seq afterwards.
        """
        reply = await self._scripts.run(
            "heartbeat",
            [self._keys.account(account_id)],
            account_id,
            session_id,
            now_ms,
            now_ms + heartbeat_timeout_ms,
            status,
            ack_seq,
            partition=self._keys.partition_of(account_id),
        )
        if reply[0] != b"ok":
            raise FencingError(session_id, reply[1].decode() or None)
        return int(reply[1])

    @translates_redis_errors
    async def record_init(
        self, account_id: str, session_id: str, *, now_ms: int, payload: bytes, ack_seq: int
    ) -> int:
        """Keep the InitRequest payload + ack, in one script call (`heartbeat`'s pair).

        Raises:
            FencingError: the session is not the account's active session.

        Returns:
            The account's acknowledged seq afterwards.
        """
        reply = await self._scripts.run(
            "record_init",
            [self._keys.account(account_id)],
            account_id,
            session_id,
            now_ms,
            payload,
            ack_seq,
            partition=self._keys.partition_of(account_id),
        )
        if reply[0] != b"ok":
            raise FencingError(session_id, reply[1].decode() or None)
        return int(reply[1])

    @translates_redis_errors
    async def remember_ack(self, session_id: str, ack_seq: int) -> None:
        """Keep the highest `ack_seq` a *pending* session reported (max wins).

        `promote` applies it (clamped like `DeliveryLog.ack`) before renumbering the
        backlog, so the EA is not re-sent what it already processed. Ignored for
        sessions that are not live and pending.
        """
        where = await self._index.locate(session_id)
        if where is not None:
            await self._run_located("remember_ack", where, session_id, ack_seq)

    @translates_redis_errors
    async def touch(self, session_id: str, *, now_ms: int, heartbeat_timeout_ms: int) -> None:
        """Record a heartbeat: the deadline becomes `now_ms + heartbeat_timeout_ms`.

        Raises:
            FencingError: the session is closed or unknown.
        """
        where = await self._index.locate(session_id)
        if where is None:
            raise FencingError(session_id, None)
        reply = await self._run_located(
            "touch", where, session_id, now_ms, now_ms + heartbeat_timeout_ms
        )
        if reply[0] != b"ok":
            raise FencingError(session_id, reply[1].decode() or None)

    async def _run_located(
        self, name: str, where: Located, session_id: str, *args: ScriptArg
    ) -> Any:
        """Run a script that starts from a session id (ARGV: account or '', session id, ...)."""
        return await self._scripts.run(
            name, where.keys, where.account, session_id, *args, partition=where.partition
        )
