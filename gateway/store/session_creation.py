"""Session creation over Redis, with and without the reconnect fast path.

Both are ``create_session.lua``: one script, so that creating a session after a
verified key's re-authentication is exactly the creation of `create_session`
(preemption, fencing generation, held messages), only preceded in the same call
by the rate-limit hit, the keyed-fingerprint lookup and the key's status check
(see `SessionCreation.create_with_key` and ``gateway/auth/session_key.py``).
`RedisSessionStore` inherits these two methods; the session-record codec the
other session scripts' replies need lives here too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.errors import RateLimited, TooManyPendingSessions
from gateway.store.keys import RedisKeys
from gateway.store.rate_limiter import RateWindow, retry_after_s
from gateway.store.records import CreatedSession, KeyedCreation, SessionRecord
from gateway.store.redis_errors import translates_redis_errors
from gateway.store.scripts import ScriptArg, Scripts
from gateway.store.session_index import SessionIndex
from schemas.codes import KeyStatus, SessionState

__all__ = ["SessionCreation", "session_from_flat", "session_from_hash", "session_ids"]


def session_from_hash(raw: Mapping[bytes, bytes]) -> SessionRecord:
    """Build a `SessionRecord` from a session hash as read from Redis."""
    f = {k.decode(): v.decode() for k, v in raw.items()}
    closed_ms = f.get("closed_ms")
    client = f.get("client")
    return SessionRecord(
        session_id=f["session_id"],
        account_id=f["account_id"],
        state=SessionState(f["state"]),
        key_id=f.get("key_id"),
        generation=int(f.get("generation", "0")),
        token_hash=f["token_hash"],
        created_ms=int(f["created_ms"]),
        last_heartbeat_ms=int(f["last_heartbeat_ms"]),
        closed_reason=f.get("closed_reason"),
        closed_ms=int(closed_ms) if closed_ms is not None else None,
        client=orjson.loads(client) if client is not None else None,
    )


def session_from_flat(flat: Sequence[bytes]) -> SessionRecord:
    """Build a `SessionRecord` from a flat ``HGETALL`` reply (as Lua returns it)."""
    return session_from_hash(dict(zip(flat[::2], flat[1::2], strict=True)))


def session_ids(raw: Sequence[bytes]) -> tuple[str, ...]:
    """Session ids as a script returns them (a list of bytes)."""
    return tuple(item.decode() for item in raw)


@dataclass(frozen=True, slots=True)
class _Creation:
    """The arguments every session creation has."""

    account_id: str  #: owner account
    session_id: str  #: the new session's id
    token_hash: str  #: sha256 hex of the token's secret part
    now_ms: int  #: creation time
    heartbeat_timeout_ms: int  #: the first deadline is `now_ms` plus this
    client: dict[str, Any] | None  #: EA telemetry


def _created(
    reply: Any, account_id: str, max_pending_sessions: int, heartbeat_timeout_ms: int
) -> CreatedSession:
    """create_session.lua's answer: the session, or `TooManyPendingSessions`."""
    if reply[0] == b"too_many":
        raise TooManyPendingSessions(
            f"account {account_id} already has {max_pending_sessions} pending sessions",
            retry_after_s=max(1, math.ceil(heartbeat_timeout_ms / 1000)),
        )
    return CreatedSession(session=session_from_flat(reply[1]), preempted=session_ids(reply[2]))


class SessionCreation:
    """`SessionStore.create_session` and `create_with_key`, for `RedisSessionStore`."""

    _keys: RedisKeys  #: key names (set by the store's __init__)
    _scripts: Scripts  #: the Lua scripts (set by the store's __init__)
    _closed_ttl_s: int  #: closed-record TTL of preempted sessions (set by __init__)
    _index: SessionIndex  #: the session index on Redis Cluster (set by __init__)

    @translates_redis_errors
    async def create_session(
        self,
        *,
        account_id: str,
        session_id: str,
        token_hash: str,
        key_id: str | None,
        authenticated: bool,
        now_ms: int,
        heartbeat_timeout_ms: int,
        max_pending_sessions: int,
        client: dict[str, Any] | None = None,
    ) -> CreatedSession:
        """Create a session atomically; an authenticated one is activated at once.

        Activation preempts every other live session of the account, keeps the seqs
        of unacknowledged messages and numbers the held messages after them.

        Raises:
            TooManyPendingSessions: a pending session would exceed
                `max_pending_sessions` (retry once an abandoned one timed out).
            StoreUnavailable: Redis cannot be reached.
        """
        reply = await self._create(
            [self._keys.account(account_id)],
            _Creation(account_id, session_id, token_hash, now_ms, heartbeat_timeout_ms, client),
            key_id or "",
            "1" if authenticated else "0",
            max_pending_sessions,
        )
        return _created(reply, account_id, max_pending_sessions, heartbeat_timeout_ms)

    @translates_redis_errors
    async def create_with_key(
        self,
        *,
        account_id: str,
        fingerprint: str,
        rate_bucket: str,
        rate_limit: int,
        rate_window_s: int,
        session_id: str,
        token_hash: str,
        now_ms: int,
        heartbeat_timeout_ms: int,
        max_pending_sessions: int,
        client: dict[str, Any] | None = None,
    ) -> KeyedCreation:
        """The reconnect fast path: re-authenticate a verified key and create, atomically.

        In one script: count the creation in the `rate_bucket` window (exactly as
        `RateLimiter.hit` with the same arguments), look the keyed `fingerprint` up
        among the account's keys, and let the key's status decide: approved -> an
        authenticated session (as `create_session`), and the key's `last_seen_ms`
        moves forward (as `KeyStore.touch`); pending -> a pending session; rejected
        or revoked -> nothing is created.

        Returns:
            The key and the session; `key_id` None (nothing created, the hit counted)
            when the fingerprint names no key.

        Raises:
            RateLimited: the window is full (nothing else was done).
            TooManyPendingSessions: the key is pending, and so are
                `max_pending_sessions` sessions of the account already.
        """
        rate = RateWindow.of(self._keys, rate_bucket, limit=rate_limit, window_s=rate_window_s)
        keys = [
            self._keys.account(account_id),
            self._keys.account_keys(account_id),
            self._keys.key_fingerprints(account_id),
        ]
        if self._keys.cluster:  # the hit log is in another slot: count it first, on its own
            wait = await self._scripts.run(
                "rate_hit", [rate.log], now_ms, rate.window_ms, rate.limit
            )
            if int(wait) > 0:
                raise RateLimited(
                    f"too many session creations ({rate_bucket})", retry_after_s(int(wait))
                )
        else:
            keys.append(rate.log)
        reply = await self._create(
            keys,
            _Creation(account_id, session_id, token_hash, now_ms, heartbeat_timeout_ms, client),
            "",
            "0",
            max_pending_sessions,
            fingerprint,
            rate.limit,
            rate.window_ms,
        )
        outcome = reply[0]
        if outcome == b"limited":
            raise RateLimited(
                f"too many session creations ({rate_bucket})", retry_after_s(int(reply[1]))
            )
        if outcome == b"unknown":
            return KeyedCreation(key_id=None, key_status=None, created=None)
        if outcome == b"refused":
            return KeyedCreation(reply[2].decode(), KeyStatus(reply[1].decode()), None)
        created = _created(reply, account_id, max_pending_sessions, heartbeat_timeout_ms)
        authenticated = created.session.state is SessionState.AUTHENTICATED
        status = KeyStatus.APPROVED if authenticated else KeyStatus.PENDING
        return KeyedCreation(reply[3].decode(), status, created)

    async def _create(
        self,
        keys: list[str],
        creation: _Creation,
        key_id: str,
        authenticated: str,
        max_pending_sessions: int,
        *fingerprint_check: ScriptArg,
    ) -> Any:
        """Run create_session.lua (ARGV in its order; `fingerprint_check` is [12..14]).

        On Redis Cluster the session index entry is written first and dropped again
        when nothing was created (see `SessionIndex`).
        """
        await self._index.add(creation.session_id, creation.account_id)
        reply = await self._scripts.run(
            "create_session",
            keys,
            creation.account_id,
            creation.session_id,
            creation.token_hash,
            key_id,
            authenticated,
            creation.now_ms,
            creation.now_ms + creation.heartbeat_timeout_ms,
            max_pending_sessions,
            orjson.dumps(creation.client) if creation.client is not None else b"",
            self._closed_ttl_s,
            *fingerprint_check,
            partition=self._keys.partition_of(creation.account_id),
        )
        if reply[0] != b"ok":
            await self._index.forget([creation.session_id])
        return reply
