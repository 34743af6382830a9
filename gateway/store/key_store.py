"""`KeyStore` over Redis: account session keys (hashes only) and re-auth fingerprints.

Layout (names from `gateway.store.keys.RedisKeys`):

- ``account_keys(A)``      HASH key_id -> key record JSON (the source of truth);
- ``key_fingerprints(A)``  HASH keyed fingerprint -> key_id (re-auth fast path);
- ``key_index()``          HASH key_id -> account_id (admin URLs name only the key);
- ``keys_by_status(s)``    ZSET key ids with status ``s``, scored by first_seen_ms.

Registration is one Lua script (fingerprint check, pending count, writes), so two
gateway nodes registering the same new key at once store it once. Record updates
(`set_status`, `touch`) are compare-and-set: read the JSON, compute the new record
in Python, and let a script write it only if the stored JSON is unchanged. That
keeps JSON encoding in one place (Python) instead of re-encoding it in Lua. The
one exception is the reconnect fast path (``lua/create_session.lua``, see
`SessionStore.create_with_key`): it advances ``last_seen_ms`` of an approved key
in place, replacing that one value in the JSON and nothing else (the JSON is
`key_record_json`'s; the decisions a status allows are `key_decisions`').

The scripts touch the global indexes as well as the hash-tagged account keys, so
they need a single Redis node (or a Cluster with the indexes moved under the tag).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import redis.asyncio as aioredis

from gateway.errors import Conflict, NotFound, StoreUnavailable, TooManyPendingKeys
from gateway.store.key_decisions import key_decision
from gateway.store.key_record_json import decode_key, encode_key, oldest_first
from gateway.store.keys import RedisKeys
from gateway.store.records import KeyRecord
from gateway.store.redis_errors import map_redis_errors
from schemas.codes import KeyStatus

__all__ = ["PENDING_KEY_RETRY_AFTER_S", "RedisKeyStore"]

#: `Retry-After` for `TooManyPendingKeys`: pending keys wait for a human decision,
#: so this is a polite pause rather than a window end.
PENDING_KEY_RETRY_AFTER_S = 60

#: Attempts of a compare-and-set update before giving up (contention is rare).
_CAS_ATTEMPTS = 16

# KEYS: account keys, fingerprints, key index, pending zset (the last two absent on
# Redis Cluster, where they are in other slots and the caller writes them first).
# ARGV: key_id, account_id, record JSON, fingerprint, max pending, first_seen_ms.
_REGISTER_PENDING = """
local known = redis.call('HGET', KEYS[2], ARGV[4])
if known then
  local existing = redis.call('HGET', KEYS[1], known)
  if existing then return {'existing', existing} end
end
local pending = 0
for _, raw in ipairs(redis.call('HVALS', KEYS[1])) do
  if cjson.decode(raw)['status'] == 'pending' then pending = pending + 1 end
end
if pending >= tonumber(ARGV[5]) then return {'limit', tostring(pending)} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[4], ARGV[1])
if KEYS[3] then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
  redis.call('ZADD', KEYS[4], ARGV[6], ARGV[1])
end
return {'created', ARGV[3]}
"""

# KEYS: fingerprints, account keys.  ARGV: fingerprint.
_FIND_BY_FINGERPRINT = """
local key_id = redis.call('HGET', KEYS[1], ARGV[1])
if not key_id then return false end
return redis.call('HGET', KEYS[2], key_id)
"""

# KEYS: account keys, old status zset, new status zset.
# ARGV: key_id, expected JSON, new JSON, first_seen_ms.
_COMPARE_AND_SET = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 'missing' end
if current ~= ARGV[2] then return 'conflict' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
if KEYS[3] and KEYS[2] ~= KEYS[3] then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
end
return 'ok'
"""


def _text(value: Any) -> str:
    """A Redis reply (bytes in bytes mode) as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisKeyStore:
    """The `KeyStore` port on a bytes-mode `redis.asyncio.Redis` (or fakeredis)."""

    def __init__(self, redis: aioredis.Redis, keys: RedisKeys) -> None:
        #: the client; fakeredis for the embedded store
        self._redis = redis
        #: key names under the configured prefix
        self._keys = keys
        #: atomic registration of a pending key
        self._register_pending = redis.register_script(_REGISTER_PENDING)
        #: fingerprint -> record in one round trip
        self._find_by_fingerprint = redis.register_script(_FIND_BY_FINGERPRINT)
        #: conditional record update keeping the status indexes in step
        self._compare_and_set = redis.register_script(_COMPARE_AND_SET)

    async def list_account_keys(self, account_id: str) -> list[KeyRecord]:
        """Every key of the account, any status, oldest first."""
        with map_redis_errors("RedisKeyStore.list_account_keys"):
            raws = await self._redis.hvals(self._keys.account_keys(account_id))
        return oldest_first([decode_key(raw) for raw in raws])

    async def find_by_fingerprint(self, account_id: str, fingerprint: str) -> KeyRecord | None:
        """The key a verified fingerprint points to, if any (None if the key is gone)."""
        with map_redis_errors("RedisKeyStore.find_by_fingerprint"):
            raw = await self._find_by_fingerprint(
                keys=[
                    self._keys.key_fingerprints(account_id),
                    self._keys.account_keys(account_id),
                ],
                args=[fingerprint],
            )
        return decode_key(raw) if raw else None

    async def remember_fingerprint(self, account_id: str, fingerprint: str, key_id: str) -> None:
        """Map a fingerprint to a key after a successful full verification."""
        with map_redis_errors("RedisKeyStore.remember_fingerprint"):
            await self._redis.hset(self._keys.key_fingerprints(account_id), fingerprint, key_id)

    async def register_pending(
        self, record: KeyRecord, *, fingerprint: str, max_pending_keys: int
    ) -> KeyRecord:
        """Store a new pending key atomically with its fingerprint and indexes.

        Returns the existing key if the fingerprint is already known (the same
        secret registered concurrently or earlier).

        Raises:
            ValueError: the record is not pending.
            TooManyPendingKeys: the account already has `max_pending_keys` pending keys.
        """
        if record.status is not KeyStatus.PENDING:
            raise ValueError(f"register_pending needs a pending record, got {record.status}")
        account_id = record.account_id
        keys = [self._keys.account_keys(account_id), self._keys.key_fingerprints(account_id)]
        indexes = [self._keys.key_index(), self._keys.keys_by_status(KeyStatus.PENDING.value)]
        with map_redis_errors("RedisKeyStore.register_pending"):
            if self._keys.cluster:  # the indexes are in other slots: write them first
                await self._index_key(record)
            else:
                keys += indexes
            reply = await self._register_pending(
                keys=keys,
                args=[
                    record.key_id,
                    account_id,
                    encode_key(record),
                    fingerprint,
                    max_pending_keys,
                    record.first_seen_ms,
                ],
            )
        outcome, payload = _text(reply[0]), reply[1]
        if self._keys.cluster and outcome != "created":
            with map_redis_errors("RedisKeyStore.register_pending"):
                await self._unindex_key(record.key_id, KeyStatus.PENDING)
        if outcome == "limit":
            raise TooManyPendingKeys(
                f"account {account_id} already has {_text(payload)} pending keys "
                f"(limit {max_pending_keys}); ask the back-office to decide on them",
                PENDING_KEY_RETRY_AFTER_S,
            )
        return decode_key(payload)

    async def provision(self, record: KeyRecord, *, fingerprint: str) -> KeyRecord:
        """Store a back-office key with its fingerprint and indexes (one transaction)."""
        account_id = record.account_id
        with map_redis_errors("RedisKeyStore.provision"):
            if self._keys.cluster:  # the indexes are in other slots: write them first
                await self._index_key(record)
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(self._keys.account_keys(account_id), record.key_id, encode_key(record))
                pipe.hset(self._keys.key_fingerprints(account_id), fingerprint, record.key_id)
                if not self._keys.cluster:
                    pipe.hset(self._keys.key_index(), record.key_id, account_id)
                    pipe.zadd(
                        self._keys.keys_by_status(record.status.value),
                        {record.key_id: record.first_seen_ms},
                    )
                await pipe.execute()
        return record

    async def _index_key(self, record: KeyRecord) -> None:
        """Redis Cluster: index a key (id -> account, its status) before storing it.

        Readers skip index entries without a record, so an entry written for a key
        that is then not stored is harmless (and removed when noticed at once).
        """
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(self._keys.key_index(), record.key_id, record.account_id)
            pipe.zadd(
                self._keys.keys_by_status(record.status.value),
                {record.key_id: record.first_seen_ms},
            )
            await pipe.execute()

    async def _unindex_key(self, key_id: str, status: KeyStatus) -> None:
        """Redis Cluster: drop the index entries of a key that was not stored."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hdel(self._keys.key_index(), key_id)
            pipe.zrem(self._keys.keys_by_status(status.value), key_id)
            await pipe.execute()

    async def get(self, key_id: str) -> KeyRecord | None:
        """One key by id."""
        loaded = await self._load(key_id)
        return decode_key(loaded[1]) if loaded else None

    async def list_by_status(self, status: KeyStatus | None = None) -> list[KeyRecord]:
        """Keys with that status (all keys if None), oldest first."""
        statuses = [status] if status is not None else list(KeyStatus)
        with map_redis_errors("RedisKeyStore.list_by_status"):
            async with self._redis.pipeline(transaction=False) as pipe:
                for each in statuses:
                    pipe.zrange(self._keys.keys_by_status(each.value), 0, -1)
                id_lists: list[list[bytes]] = await pipe.execute()
            key_ids = [_text(key_id) for ids in id_lists for key_id in ids]
            records = await self._fetch(key_ids)
        if status is not None:  # an index entry left behind by a crash must not lie
            records = [r for r in records if r.status is status]
        return oldest_first(records)

    async def set_status(
        self, key_id: str, status: KeyStatus, *, by: str, now_ms: int
    ) -> KeyRecord:
        """Approve, reject or revoke, keeping the status indexes consistent.

        Idempotent: a key already in `status` is returned unchanged (its first
        decision time and author stay). See `gateway.store.key_decisions.key_decision`.

        Raises:
            NotFound: no key with that id.
            Conflict: the decision contradicts the stored one (reject after approve).
        """
        for _ in range(_CAS_ATTEMPTS):
            loaded = await self._load(key_id)
            if loaded is None:
                raise NotFound(f"key {key_id} does not exist")
            current = decode_key(loaded[1])
            verdict = key_decision(current.status, status)
            if verdict == "same":
                return current
            if verdict == "conflict":
                raise Conflict(
                    f"key {key_id} is {current.status.value}; it cannot be {status.value}"
                )
            updated = replace(current, status=status, decided_ms=now_ms, decided_by=by)
            result = await self._cas(current, loaded[1], updated)
            if result == "ok":
                return updated
            if result == "missing":
                raise NotFound(f"key {key_id} does not exist")
        raise StoreUnavailable(f"key {key_id} changed too often to update; try again")

    async def touch(self, key_id: str, *, now_ms: int) -> None:
        """Record a successful use (last_seen_ms never moves back; unknown ids are ignored)."""
        for _ in range(_CAS_ATTEMPTS):
            loaded = await self._load(key_id)
            if loaded is None:
                return
            current = decode_key(loaded[1])
            if current.last_seen_ms is not None and current.last_seen_ms >= now_ms:
                return
            result = await self._cas(current, loaded[1], replace(current, last_seen_ms=now_ms))
            if result in ("ok", "missing"):
                return
        raise StoreUnavailable(f"key {key_id} changed too often to update; try again")

    # ---- internals -------------------------------------------------------------
    async def _load(self, key_id: str) -> tuple[str, bytes | str] | None:
        """(account_id, stored JSON) of a key, or None."""
        with map_redis_errors("RedisKeyStore.load"):
            account = await self._redis.hget(self._keys.key_index(), key_id)
            if account is None:
                return None
            account_id = _text(account)
            raw = await self._redis.hget(self._keys.account_keys(account_id), key_id)
        return (account_id, raw) if raw is not None else None

    async def _fetch(self, key_ids: Sequence[str]) -> list[KeyRecord]:
        """Records of many keys (missing ones skipped), two round trips."""
        if not key_ids:
            return []
        accounts = await self._redis.hmget(self._keys.key_index(), list(key_ids))
        by_account: dict[str, list[str]] = {}
        for key_id, account in zip(key_ids, accounts, strict=True):
            if account is not None:
                by_account.setdefault(_text(account), []).append(key_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            for account_id, ids in by_account.items():
                pipe.hmget(self._keys.account_keys(account_id), ids)
            replies: list[list[bytes | None]] = await pipe.execute()
        return [decode_key(raw) for reply in replies for raw in reply if raw is not None]

    async def _cas(self, current: KeyRecord, expected: bytes | str, updated: KeyRecord) -> str:
        """Write `updated` if the stored JSON is still `expected`: ok, conflict or missing."""
        old_index = self._keys.keys_by_status(current.status.value)
        new_index = self._keys.keys_by_status(updated.status.value)
        keys = [self._keys.account_keys(current.account_id)]
        with map_redis_errors("RedisKeyStore.cas"):
            moved = self._keys.cluster and old_index != new_index
            if moved:  # other slots: list it under the new status first (listings check
                # the record's status, so an entry of a write that loses is harmless)
                await self._redis.zadd(new_index, {current.key_id: current.first_seen_ms})
            elif not self._keys.cluster:
                keys += [old_index, new_index]
            reply = await self._compare_and_set(
                keys=keys,
                args=[current.key_id, expected, encode_key(updated), current.first_seen_ms],
            )
            if moved and _text(reply) == "ok":
                await self._redis.zrem(old_index, current.key_id)
        return _text(reply)
