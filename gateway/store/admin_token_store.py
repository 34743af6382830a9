"""`AdminTokenStore` over Redis: admin bearer tokens, stored under the sha256 of the secret.

``admin_tokens()`` is one HASH: sha256 hex of the token secret -> record JSON. The
secret itself is never stored; a Redis dump yields token ids and roles only.
"""

from __future__ import annotations

import orjson
import redis.asyncio as aioredis

from gateway.store.keys import RedisKeys
from gateway.store.records import AdminTokenRecord
from gateway.store.redis_errors import map_redis_errors
from schemas.codes import AdminRole

__all__ = ["RedisAdminTokenStore"]


def _encode(record: AdminTokenRecord) -> bytes:
    """The stored JSON of a token record."""
    return orjson.dumps(
        {
            "token_id": record.token_id,
            "role": record.role.value,
            "tenant_id": record.tenant_id,
            "label": record.label,
            "created_ms": record.created_ms,
            "extra": record.extra,
        }
    )


def _decode(raw: bytes | str) -> AdminTokenRecord:
    """Parse the stored JSON of a token record."""
    data = orjson.loads(raw)
    return AdminTokenRecord(
        token_id=data["token_id"],
        role=AdminRole(data["role"]),
        tenant_id=data.get("tenant_id"),
        label=data.get("label"),
        created_ms=int(data.get("created_ms", 0)),
        extra=dict(data.get("extra") or {}),
    )


class RedisAdminTokenStore:
    """The `AdminTokenStore` port on a bytes-mode `redis.asyncio.Redis` (or fakeredis)."""

    def __init__(self, redis: aioredis.Redis, keys: RedisKeys) -> None:
        #: the client; fakeredis for the embedded store
        self._redis = redis
        #: key names under the configured prefix
        self._keys = keys

    async def add_token(self, token_hash: str, record: AdminTokenRecord) -> None:
        """Store a token record under the sha256 hex of its secret (replacing any)."""
        with map_redis_errors("RedisAdminTokenStore.add_token"):
            await self._redis.hset(self._keys.admin_tokens(), token_hash, _encode(record))

    async def find_token(self, token_hash: str) -> AdminTokenRecord | None:
        """The record of a token, or None."""
        with map_redis_errors("RedisAdminTokenStore.find_token"):
            raw = await self._redis.hget(self._keys.admin_tokens(), token_hash)
        return _decode(raw) if raw is not None else None

    async def revoke_token(self, token_id: str, tenant_id: str) -> AdminTokenRecord | None:
        """Delete tenant `tenant_id`'s token with public id `token_id` (refused from then
        on); returns its record, or None if the tenant has no such token. Scans the
        token hash (an operator action, not a hot path)."""
        name = self._keys.admin_tokens()
        with map_redis_errors("RedisAdminTokenStore.revoke_token"):
            async for digest, raw in self._redis.hscan_iter(name):
                record = _decode(raw)
                if record.token_id == token_id and record.tenant_id == tenant_id:
                    await self._redis.hdel(name, digest)
                    return record
        return None
