"""Test helpers of the store contract suite: a gateway node's view, envelopes."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import redis.asyncio as aioredis

from gateway.store.delivery_log import RedisDeliveryLog
from gateway.store.intent_sink import RedisIntentSink
from gateway.store.keys import RedisKeys
from gateway.store.records import CreatedSession
from gateway.store.session_store import RedisSessionStore


@dataclass
class Node:
    """One gateway node's view of the store: the four session-side stores on one client."""

    sessions: RedisSessionStore
    log: RedisDeliveryLog
    sink: RedisIntentSink

    @classmethod
    def over(cls, client: aioredis.Redis, keys: RedisKeys, **limits: int) -> Node:
        """Build the stores; `limits` go to the constructors that take them."""
        return cls(
            sessions=RedisSessionStore(
                client, keys, closed_session_ttl_s=limits.get("closed_session_ttl_s", 86400)
            ),
            log=RedisDeliveryLog(client, keys, max_log_entries=limits.get("max_log_entries", 50)),
            sink=RedisIntentSink(
                client,
                keys,
                stream_maxlen=limits.get("stream_maxlen", 0),
                max_held_intents=limits.get("max_held_intents", 50),
            ),
        )

    async def open(
        self,
        session_id: str,
        *,
        account_id: str = "demo-1",
        authenticated: bool = True,
        key_id: str | None = "key-1",
        now_ms: int = 1_000,
        max_pending: int = 3,
    ) -> CreatedSession:
        """Create a session with a 15 s heartbeat timeout."""
        return await self.sessions.create_session(
            account_id=account_id,
            session_id=session_id,
            token_hash=f"hash-of-{session_id}",
            key_id=key_id,
            authenticated=authenticated,
            now_ms=now_ms,
            heartbeat_timeout_ms=HEARTBEAT_TIMEOUT_MS,
            max_pending_sessions=max_pending,
        )


#: heartbeat timeout `Node.open` uses
HEARTBEAT_TIMEOUT_MS = 15_000


def envelope(envelope_id: str, kind: str = "OrderCommand", **payload: object) -> bytes:
    """A server -> EA envelope without seq, as the delivery log stores it."""
    return orjson.dumps({"type": kind, "id": envelope_id, "ts": 1, "payload": payload})
