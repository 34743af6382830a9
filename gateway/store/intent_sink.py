"""`IntentSink` over Redis: where a session's inbound trade events go.

An authenticated (active) session's OrderIntents go to the intent stream and its
ExecutionReports / SyncSnapshots to the EA event stream (on Redis Cluster, those of
the account's partition), each entry with the fields ``account_id``, ``session_id``
and ``body``. Both appends are fenced in Lua: a session that is no longer active
cannot write. A pending session's OrderIntents are held per account (bound to the
session) and released by `promote`.

The parts of a SyncSnapshot sent in parts are kept per account (a hash in the
account's slot, `keys.snapshot_parts`) until every part arrived; the snapshot
assembled from them is then appended like any other EA event and the parts are
forgotten. A part of a different snapshot drops an incomplete set (superseded); an
incomplete set also expires `snapshot_parts_ttl_ms` after its last part.

Appends do not trim the streams (``stream_maxlen`` 0): a length bound would drop
entries the copier has not finished, so intents and reports it was told were
recorded. Finished entries are trimmed by `copier.backlog.trim_finished` (the
gateway's `BacklogMonitor` runs it); the intent backlog is bounded by admission
before `publish_intent` (`gateway.admission`).
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis

from gateway.errors import FencingError, LimitExceeded
from gateway.store.keys import RedisKeys
from gateway.store.records import SnapshotPartResult
from gateway.store.redis_errors import translates_redis_errors
from gateway.store.scripts import Scripts
from gateway.store.session_store import NO_STREAM_TRIM
from gateway.telemetry import current_traceparent

__all__ = [
    "DEFAULT_MAX_HELD_INTENTS",
    "DEFAULT_SNAPSHOT_PARTS_TTL_MS",
    "EA_STATE_KINDS",
    "RedisIntentSink",
]

#: OrderIntents a pending account may accumulate before `hold_intent` refuses.
DEFAULT_MAX_HELD_INTENTS = 1000
#: Payload kinds `record_ea_state` keeps.
EA_STATE_KINDS = frozenset({"init", "status"})
#: How long the parts of an incomplete snapshot are kept after the last one arrived.
DEFAULT_SNAPSHOT_PARTS_TTL_MS = 300_000


class RedisIntentSink:
    """`IntentSink` implementation over `redis.asyncio` (or fakeredis)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: RedisKeys,
        *,
        stream_maxlen: int = NO_STREAM_TRIM,
        max_held_intents: int = DEFAULT_MAX_HELD_INTENTS,
        scripts: Scripts | None = None,
        snapshot_parts_ttl_ms: int = DEFAULT_SNAPSHOT_PARTS_TTL_MS,
    ) -> None:
        #: bytes-mode client
        self._redis = redis
        #: key names
        self._keys = keys
        #: approximate MAXLEN of both streams; 0 (the default): appends do not trim
        self._stream_maxlen = stream_maxlen
        #: held OrderIntents allowed per account
        self._max_held = max_held_intents
        #: the Lua scripts
        self._scripts = scripts or Scripts(redis, keys)
        #: life of an incomplete snapshot's parts (and of the `done` marker)
        self._parts_ttl_ms = snapshot_parts_ttl_ms

    @translates_redis_errors
    async def hold_intent(self, account_id: str, session_id: str, body: bytes) -> None:
        """Keep an OrderIntent of a pending session, in order (released on promotion).

        Raises:
            FencingError: the session is not live and pending.
            LimitExceeded: the account already holds `max_held_intents` intents.
        """
        reply = await self._scripts.run(
            "hold_intent",
            [self._keys.account(account_id)],
            account_id,
            session_id,
            body,
            self._max_held,
            partition=self._keys.partition_of(account_id),
        )
        if reply[0] == b"full":
            raise LimitExceeded(
                f"account {account_id} holds {self._max_held} OrderIntents", retry_after_s=60
            )
        if reply[0] != b"ok":
            raise FencingError(session_id, reply[1].decode() or None)

    @translates_redis_errors
    async def publish_intent(self, account_id: str, session_id: str, body: bytes) -> str:
        """Append an OrderIntent to the intent stream (fenced); returns the stream id.

        Raises:
            FencingError: the session is not the account's active session.
        """
        return await self._append("intents", account_id, session_id, body)

    @translates_redis_errors
    async def publish_ea_event(self, account_id: str, session_id: str, body: bytes) -> str:
        """Append an ExecutionReport or SyncSnapshot to the EA event stream (fenced).

        Raises:
            FencingError: the session is not the account's active session.
        """
        return await self._append("ea_inbox", account_id, session_id, body)

    @translates_redis_errors
    async def publish_in_order(
        self, account_id: str, session_id: str, items: Sequence[tuple[str, bytes]]
    ) -> list[str | FencingError]:
        """Append consecutive events of one session in one round trip, in order.

        `items` are (``"intents"`` or ``"ea_inbox"``, body). Each is appended exactly
        as `publish_intent` / `publish_ea_event` would; the result has, per item, its
        stream id or the `FencingError` it met (the session was no longer active:
        every later item meets it too).
        """
        replies = await self._scripts.run_in_order(
            "publish_stream",
            [self._keys.account(account_id)],
            [self._append_args(stream, account_id, session_id, body) for stream, body in items],
            partition=self._keys.partition_of(account_id),
        )
        out: list[str | FencingError] = []
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
            if reply[0] == b"ok":
                out.append(str(reply[1].decode()))
            else:
                out.append(FencingError(session_id, reply[1].decode() or None))
        return out

    @translates_redis_errors
    async def buffer_snapshot_part(
        self,
        account_id: str,
        session_id: str,
        *,
        snapshot_id: str,
        part: int,
        parts: int,
        body: bytes,
        now_ms: int,
    ) -> SnapshotPartResult:
        """Keep one part of a SyncSnapshot sent in parts (fenced).

        Parts may arrive in any order; a part kept already is kept once. A part of
        another snapshot than the one being assembled drops that one (`superseded`);
        a part of the snapshot last handed on is a `duplicate`. When every part is
        here, the result is `complete` and carries them all, in part order: assemble
        them and call `publish_snapshot`.

        Raises:
            FencingError: the session is not the account's active session.
        """
        reply = await self._scripts.run(
            "snapshot_part",
            [self._keys.account(account_id), self._keys.snapshot_parts(account_id)],
            account_id,
            session_id,
            snapshot_id,
            part,
            parts,
            body,
            now_ms,
            self._parts_ttl_ms,
            partition=self._keys.partition_of(account_id),
        )
        status = reply[0].decode()
        if status == "fenced":
            raise FencingError(session_id, reply[1].decode() or None)
        if status == "duplicate":
            return SnapshotPartResult("duplicate")
        if status == "partial":
            return SnapshotPartResult("partial", int(reply[1]), reply[2].decode() or None)
        bodies = tuple(bytes(b) for b in reply[2:])
        return SnapshotPartResult("complete", len(bodies), reply[1].decode() or None, bodies)

    @translates_redis_errors
    async def publish_snapshot(
        self, account_id: str, session_id: str, *, snapshot_id: str, body: bytes
    ) -> str | None:
        """Append the snapshot assembled from `snapshot_id`'s parts to the EA event
        stream and forget the parts, in one step (fenced).

        Returns the stream id, or None when the set is no longer the one being
        assembled (another part superseded it meanwhile, or it was handed on).

        Raises:
            FencingError: the session is not the account's active session.
        """
        reply = await self._scripts.run(
            "publish_snapshot",
            [self._keys.account(account_id), self._keys.snapshot_parts(account_id)],
            account_id,
            session_id,
            snapshot_id,
            body,
            self._stream_maxlen,
            current_traceparent() or "",
            self._parts_ttl_ms,
            partition=self._keys.partition_of(account_id),
        )
        if reply[0] == b"gone":
            return None
        if reply[0] != b"ok":
            raise FencingError(session_id, reply[1].decode() or None)
        return str(reply[1].decode())

    def _append_args(
        self, stream: str, account_id: str, session_id: str, body: bytes
    ) -> tuple[str | bytes | int, ...]:
        """ARGV of one `publish_stream` call (after the key templates)."""
        return (
            account_id,
            session_id,
            body,
            stream,
            self._stream_maxlen,
            current_traceparent() or "",
        )

    async def _append(self, stream: str, account_id: str, session_id: str, body: bytes) -> str:
        reply = await self._scripts.run(
            "publish_stream",
            [self._keys.account(account_id)],
            *self._append_args(stream, account_id, session_id, body),
            partition=self._keys.partition_of(account_id),
        )
        if reply[0] != b"ok":
            raise FencingError(session_id, reply[1].decode() or None)
        return str(reply[1].decode())

    @translates_redis_errors
    async def record_ea_state(
        self, account_id: str, *, kind: str, payload: bytes, now_ms: int
    ) -> None:
        """Keep the last InitRequest (`kind="init"`) or StatusHeartbeat (`"status"`) payload.

        Stored in the account's ea-state hash as ``<kind>`` (the JSON payload) and
        ``<kind>_ms`` (when it arrived).

        Raises:
            ValueError: `kind` is not one of `EA_STATE_KINDS`.
        """
        if kind not in EA_STATE_KINDS:
            raise ValueError(f"unknown EA state kind {kind!r}")
        await self._redis.hset(
            self._keys.ea_state(account_id), mapping={kind: payload, f"{kind}_ms": now_ms}
        )
