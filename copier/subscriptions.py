"""Subscriptions and their audit trail in Redis.

A subscription is stored twice, in one transaction: in the follower's
``subscriptions`` hash (master id -> view JSON, for the admin API and for
report handling) and in the master's ``followers`` hash (follower id -> the same
JSON, so a worker loads every follower of a master with one HGETALL).

Every change (admin PUT/DELETE, or the copier switching a subscription to
close_only after a drawdown breach) appends an audit entry -- who, when, what,
before and after -- to the global audit stream and to the audit streams of
both accounts, in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import WatchError

from copier.keys import CopierKeys
from gateway.store.redis_errors import translates_redis_errors
from gateway.store.scripts import NETSTRINGS_LUA
from schemas.subscriptions import SubscriptionSettings, SubscriptionView

__all__ = [
    "AUDIT_MAXLEN",
    "AuditEntry",
    "SubscriptionStore",
    "audit_ops",
    "subscription_ops",
]

#: Approximate length bound of each audit stream.
AUDIT_MAXLEN = 100_000


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change of one subscription."""

    ts_ms: int  #: when
    actor: str  #: admin token id, or ``copier`` for automatic changes
    action: str  #: ``put``, ``delete`` or ``status`` (automatic)
    follower_id: str  #: the follower
    master_id: str  #: the master
    before: SubscriptionView | None  #: the subscription before (None: it did not exist)
    after: SubscriptionView | None  #: the subscription after (None: deleted)
    reason: str | None = None  #: why (automatic changes)

    def fields(self) -> dict[str, str]:
        """Stream entry fields."""

        def dump(view: SubscriptionView | None) -> str:
            return "" if view is None else view.model_dump_json()

        return {
            "ts": str(self.ts_ms),
            "actor": self.actor,
            "action": self.action,
            "follower_id": self.follower_id,
            "master_id": self.master_id,
            "before": dump(self.before),
            "after": dump(self.after),
            "reason": self.reason or "",
        }


def audit_ops(keys: CopierKeys, entry: AuditEntry) -> list[list[str]]:
    """XADD commands (as argument lists) that record `entry` in the three audit streams."""
    flat = [item for pair in entry.fields().items() for item in pair]
    streams = (keys.global_audit(), keys.audit(entry.follower_id), keys.audit(entry.master_id))
    return [["XADD", s, "MAXLEN", "~", str(AUDIT_MAXLEN), "*", *flat] for s in streams]


def subscription_ops(
    keys: CopierKeys, view: SubscriptionView | None, follower_id: str, master_id: str
) -> list[list[str]]:
    """HSET/HDEL commands that store (or, with None, delete) one subscription."""
    if view is None:
        return [
            ["HDEL", keys.subscriptions(follower_id), master_id],
            ["HDEL", keys.followers(master_id), follower_id],
        ]
    body = view.model_dump_json()
    return [
        ["HSET", keys.subscriptions(follower_id), master_id, body],
        ["HSET", keys.followers(master_id), follower_id, body],
    ]


def _audit_entry(entry_id: bytes, fields: dict[bytes, bytes]) -> dict[str, Any]:
    data = {k.decode(): v.decode() for k, v in fields.items()}
    return {
        "id": entry_id.decode(),
        "ts_ms": int(data.get("ts", "0")),
        "actor": data.get("actor"),
        "action": data.get("action"),
        "follower_id": data.get("follower_id"),
        "master_id": data.get("master_id"),
        "before": orjson.loads(data["before"]) if data.get("before") else None,
        "after": orjson.loads(data["after"]) if data.get("after") else None,
        "reason": data.get("reason") or None,
    }


#: Redis Cluster's subscription change: KEYS[1] the follower's subscriptions hash;
#: ARGV master id, the value read ('' = none), netstrings of ops (n, n arguments).
#: Applies the ops (all in KEYS[1]'s slot) only if the value is unchanged: 1, else 0.
_CAS_OPS = (
    NETSTRINGS_LUA
    + """
local now = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if now ~= ARGV[2] then return 0 end
blob = ARGV[3]
local allowed = {HSET = true, HDEL = true, XADD = true}
while pos <= #blob do
  local op = {}
  for i = 1, tonumber(nxt()) do op[i] = nxt() end
  if not allowed[op[1]] then return redis.error_reply('op not allowed: ' .. op[1]) end
  redis.call(unpack(op))
end
return 1
"""
)


class SubscriptionStore:
    """Subscriptions (both directions) and the audit streams."""

    def __init__(self, redis: aioredis.Redis, keys: CopierKeys) -> None:
        self._redis = redis  #: bytes-mode client
        self._keys = keys  #: copier key names
        self._cas = redis.register_script(_CAS_OPS)  #: `_transact` on Redis Cluster

    @translates_redis_errors
    async def get(self, follower_id: str, master_id: str) -> SubscriptionView | None:
        """One subscription, or None."""
        raw = await self._redis.hget(self._keys.subscriptions(follower_id), master_id)
        return None if raw is None else SubscriptionView.model_validate_json(raw)

    @translates_redis_errors
    async def links(self, account_id: str) -> list[tuple[str, str]]:
        """Every subscription the account is part of, as (follower_id, master_id), sorted."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hkeys(self._keys.subscriptions(account_id))
            pipe.hkeys(self._keys.followers(account_id))
            masters, followers = await pipe.execute()
        pairs = {(account_id, m.decode()) for m in masters}
        pairs |= {(f.decode(), account_id) for f in followers}
        return sorted(pairs)

    @translates_redis_errors
    async def list_for_follower(self, follower_id: str) -> list[SubscriptionView]:
        """Every subscription of a follower, ordered by master id."""
        raw = await self._redis.hgetall(self._keys.subscriptions(follower_id))
        views = [SubscriptionView.model_validate_json(v) for v in raw.values()]
        return sorted(views, key=lambda v: v.master_id)

    @translates_redis_errors
    async def put(
        self,
        follower_id: str,
        master_id: str,
        settings: SubscriptionSettings,
        *,
        actor: str,
        now_ms: int,
    ) -> tuple[SubscriptionView | None, SubscriptionView]:
        """Create or replace a subscription, audited; returns (before, after)."""
        after = SubscriptionView.model_validate(
            {
                **settings.model_dump(),
                "follower_id": follower_id,
                "master_id": master_id,
                "updated_ms": now_ms,
            }
        )

        def change(before: SubscriptionView | None) -> list[list[str]]:
            entry = AuditEntry(now_ms, actor, "put", follower_id, master_id, before, after)
            return subscription_ops(self._keys, after, follower_id, master_id) + audit_ops(
                self._keys, entry
            )

        before = await self._transact(follower_id, master_id, change)
        return before, after

    @translates_redis_errors
    async def delete(
        self, follower_id: str, master_id: str, *, actor: str, now_ms: int
    ) -> SubscriptionView | None:
        """Delete a subscription, audited; returns what was deleted (None: nothing)."""

        def change(before: SubscriptionView | None) -> list[list[str]]:
            if before is None:
                return []
            entry = AuditEntry(now_ms, actor, "delete", follower_id, master_id, before, None)
            return subscription_ops(self._keys, None, follower_id, master_id) + audit_ops(
                self._keys, entry
            )

        before = await self._transact(follower_id, master_id, change)
        return before

    @translates_redis_errors
    async def audit(self, account_id: str | None, *, limit: int = 100) -> list[dict[str, Any]]:
        """Audit entries (newest first) of one account, or of all when None."""
        stream = self._keys.global_audit() if account_id is None else self._keys.audit(account_id)
        rows: Any = await self._redis.xrevrange(stream, count=limit)
        return [_audit_entry(entry_id, fields) for entry_id, fields in rows]

    async def _transact(
        self,
        follower_id: str,
        master_id: str,
        change: Callable[[SubscriptionView | None], list[list[str]]],
    ) -> SubscriptionView | None:
        """Read the subscription under WATCH, write `change(before)` atomically; returns before.

        A concurrent change of the follower's subscriptions restarts the read, so
        the audited `before` is always exactly what the change replaced.
        """
        key = self._keys.subscriptions(follower_id)
        if self._keys.cluster:
            return await self._transact_on_cluster(key, master_id, follower_id, change)
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    raw = await pipe.hget(key, master_id)
                    before = None if raw is None else SubscriptionView.model_validate_json(raw)
                    ops = change(before)
                    pipe.multi()  # type: ignore[no-untyped-call]
                    for op in ops:
                        pipe.execute_command(*op)
                    await pipe.execute()
                    return before
                except WatchError:
                    continue

    async def _transact_on_cluster(
        self,
        key: str,
        master_id: str,
        follower_id: str,
        change: Callable[[SubscriptionView | None], list[list[str]]],
    ) -> SubscriptionView | None:
        """`_transact` on Redis Cluster (whose client has no WATCH on a pipeline).

        The follower's writes are applied by a compare-and-set script (only if the
        subscription is still what was read); the writes to other slots (the
        master's followers hash, the master's and the global audit streams)
        follow right after, on their own.
        """
        while True:
            raw = await self._redis.hget(key, master_id)
            before = None if raw is None else SubscriptionView.model_validate_json(raw)
            local, foreign = self._keys.split_by_slot(follower_id, change(before))
            values = [arg.encode() for op in local for arg in (str(len(op)), *op)]
            blob = b"".join(b"%d:%s" % (len(value), value) for value in values)
            applied = await self._cas(keys=[key], args=[master_id, raw or b"", blob])
            if not applied:
                continue
            async with self._redis.pipeline(transaction=False) as pipe:
                for op in foreign:
                    pipe.execute_command(*op)
                await pipe.execute()
            return before
