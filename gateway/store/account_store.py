"""`AccountStore` over Redis: tenant, role and label of each account.

The configuration lives in the account hash ``account(A)`` (fields ``tenant_id``,
``role``, ``label``, ``updated_ms``) next to the session fields (``gen``,
``active_sid``, ``acked_seq``) that `SessionStore` keeps there; this module only
ever writes its own fields. An account counts as configured once ``tenant_id`` is
set. ``accounts()`` is the set of configured account ids, for listing.

An account *exists in some form* as soon as any of its per-account keys does: a
configuration, a key (pending or not), a session (live or ended), a delivery log,
EA state. `create_account` writes a configuration only when none of them exists
(WATCH/MULTI), which is how a tenant admin creates a brand-new account without
ever taking over one that an EA or the back-office already brought into being.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import WatchError
from redis.typing import EncodableT, FieldT

from gateway.store.keys import RedisKeys
from gateway.store.records import AccountRecord
from gateway.store.redis_errors import map_redis_errors
from schemas.codes import Role

__all__ = ["ACCOUNT_FIELDS", "RedisAccountStore", "account_from_fields"]

#: The hash fields this store owns, in `HMGET` order.
ACCOUNT_FIELDS = ("tenant_id", "role", "label", "updated_ms")


def _text(value: Any) -> str:
    """A Redis reply (bytes in bytes mode) as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


def account_from_fields(account_id: str, values: list[Any]) -> AccountRecord | None:
    """An account from the `HMGET` of `ACCOUNT_FIELDS`, or None if it was never configured."""
    tenant_id, role, label, updated_ms = values
    if tenant_id is None or role is None:
        return None
    return AccountRecord(
        account_id=account_id,
        tenant_id=_text(tenant_id),
        role=Role(_text(role)),
        label=_text(label) if label is not None else None,
        updated_ms=int(updated_ms) if updated_ms is not None else None,
    )


#: Redis Cluster's `create_account` (its client has no WATCH on a pipeline): KEYS the
#: account's traces (one slot), ARGV field/value pairs. 1 if created, 0 if it existed.
_CREATE_IF_ABSENT = """
if redis.call('EXISTS', unpack(KEYS)) > 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""


class RedisAccountStore:
    """The `AccountStore` port on a bytes-mode `redis.asyncio.Redis` (or fakeredis)."""

    def __init__(self, redis: aioredis.Redis, keys: RedisKeys) -> None:
        #: the client; fakeredis for the embedded store
        self._redis = redis
        #: key names under the configured prefix
        self._keys = keys
        #: `create_account` on Redis Cluster
        self._create_if_absent = redis.register_script(_CREATE_IF_ABSENT)

    async def put_account(self, record: AccountRecord) -> AccountRecord:
        """Create or replace the configuration (one transaction); returns what is stored.

        Session fields in the same hash are left alone; a `None` label or
        `updated_ms` removes the stored one.
        """
        name = self._keys.account(record.account_id)
        fields: dict[FieldT, EncodableT] = {
            "tenant_id": record.tenant_id,
            "role": record.role.value,
        }
        cleared: list[str] = []
        for field, value in (("label", record.label), ("updated_ms", record.updated_ms)):
            if value is None:
                cleared.append(field)
            else:
                fields[field] = value
        with map_redis_errors("RedisAccountStore.put_account"):
            if self._keys.cluster:  # the accounts set is in another slot: index it first
                await self._redis.sadd(self._keys.accounts(), record.account_id)
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(name, mapping=fields)
                if cleared:
                    pipe.hdel(name, *cleared)
                if not self._keys.cluster:
                    pipe.sadd(self._keys.accounts(), record.account_id)
                await pipe.execute()
        return record

    def _traces(self, account_id: str) -> list[str]:
        """Every per-account key whose existence means the account exists in some form."""
        k = self._keys
        return [
            k.account(account_id),
            k.account_keys(account_id),
            k.account_sessions(account_id),
            k.account_seq(account_id),
            k.delivery_log(account_id),
            k.held_messages(account_id),
            k.held_intents(account_id),
            k.ea_state(account_id),
        ]

    async def account_exists(self, account_id: str) -> bool:
        """Whether anything is stored for the account (record, key, session, log, EA state)."""
        with map_redis_errors("RedisAccountStore.account_exists"):
            found = await self._redis.exists(*self._traces(account_id))
        return int(found) > 0

    async def create_account(self, record: AccountRecord) -> bool:
        """Store `record` only if the account exists in no form; True if it was created."""
        traces = self._traces(record.account_id)
        fields: dict[FieldT, EncodableT] = {
            "tenant_id": record.tenant_id,
            "role": record.role.value,
        }
        for field, value in (("label", record.label), ("updated_ms", record.updated_ms)):
            if value is not None:
                fields[field] = value
        with map_redis_errors("RedisAccountStore.create_account"):
            if self._keys.cluster:  # another slot: index first (`list_accounts` skips ids
                # without a record, so an id indexed for a creation that fails is harmless)
                await self._redis.sadd(self._keys.accounts(), record.account_id)
                pairs = [part for item in fields.items() for part in item]
                return bool(await self._create_if_absent(keys=traces, args=pairs))
            async with self._redis.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        await pipe.watch(*traces)
                        if int(await pipe.exists(*traces)) > 0:
                            return False
                        pipe.multi()  # type: ignore[no-untyped-call]
                        pipe.hset(traces[0], mapping=fields)
                        pipe.sadd(self._keys.accounts(), record.account_id)
                        await pipe.execute()
                        return True
                    except WatchError:
                        continue

    async def get_account(self, account_id: str) -> AccountRecord | None:
        """The account, or None if never configured (session fields alone do not count)."""
        with map_redis_errors("RedisAccountStore.get_account"):
            values = await self._redis.hmget(self._keys.account(account_id), list(ACCOUNT_FIELDS))
        return account_from_fields(account_id, list(values))

    async def list_accounts(self, tenant_id: str | None = None) -> list[AccountRecord]:
        """Configured accounts, of one tenant or all, sorted by account id."""
        with map_redis_errors("RedisAccountStore.list_accounts"):
            members = await self._redis.smembers(self._keys.accounts())
            account_ids = sorted(_text(member) for member in members)
            if not account_ids:
                return []
            async with self._redis.pipeline(transaction=False) as pipe:
                for account_id in account_ids:
                    pipe.hmget(self._keys.account(account_id), list(ACCOUNT_FIELDS))
                replies: list[list[Any]] = await pipe.execute()
        records = [
            record
            for account_id, values in zip(account_ids, replies, strict=True)
            if (record := account_from_fields(account_id, values)) is not None
        ]
        if tenant_id is None:
            return records
        return [record for record in records if record.tenant_id == tenant_id]
