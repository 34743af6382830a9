"""Redis I/O of the worker: load follower state, commit decisions (the outbox: `outbox_store`).

A fan-out costs a handful of script calls, not a few per follower: one
`LOAD_MANY` per 250 followers reads versions, EA state and copy records; one
`COMMIT_MANY` per 250 decisions checks each follower's version and applies that
follower's writes (atomically; a decision that lost its check writes nothing and
is decided again on fresh state). Each envelope of a decision goes into the
follower's outbox in the same commit; `OutboxStore` (`store.outbox`,
`copier.worker.outbox_store`) claims, flushes and drops it.

Decoded follower records are kept by the (version, epoch) they were read or
written at (`DecodeCache`). Every write of a record goes through `COMMIT_MANY`,
which raises the version, and a re-created record gets a new random epoch, so a
(version, epoch) pair names one content: a record is read in full and decoded
only when Redis holds another pair, and a successful commit puts what it wrote
straight into the cache. A commit writes the record's state field and only the
link fields that changed (`encode_changes`).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
import redis.asyncio as aioredis

from copier.core import CircuitBreaker
from copier.keys import CopierKeys
from copier.worker.cache import DecodeCache
from copier.worker.codec import (
    decode_copy,
    decode_follower,
    decode_master_book,
    encode_master_book,
)
from copier.worker.copy_store import CopyStore
from copier.worker.draft import FollowerContext, FollowerWrite
from copier.worker.evalsha import evalsha_many
from copier.worker.lua import (
    COMMIT_MANY,
    LOAD_MANY,
    commit_templates,
    load_templates,
)
from copier.worker.ops import commit_decision, netstrings
from copier.worker.outbox_store import FlushResult, OutboxStore
from copier.worker.partitions import chunks, keyed_call
from copier.worker.state import CopyRecord, FollowerRecord, MasterBook
from gateway.store.keys import RedisKeys
from gateway.store.ports import DeliveryLog
from gateway.store.redis_errors import translates_redis_errors
from schemas.messages import InitRequestPayload, SymbolSpec
from schemas.subscriptions import SubscriptionSettings, SubscriptionView

__all__ = ["CopyStore", "FlushResult", "FollowerStore", "Loaded", "OutboxStore"]


#: Followers per `LOAD_MANY` / `COMMIT_MANY` call (bounds how long one call holds Redis).
_CHUNK = 250
#: A `COMMIT_MANY` call ends after the decision that takes its argument past this
#: size (~35 commands): the client packs a multi-megabyte argument at 1-5 ns a byte
#: (hiredis copies it into a fresh buffer), a few dozen kilobytes at a fifth of that.
_CALL_BYTES = 64 * 1024

#: Distinct settings (and symbol specs) pooled before the pool starts over.
_POOL_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Loaded:
    """One follower as loaded for a decision."""

    record: FollowerRecord  #: the stored record (with its version)
    ctx: FollowerContext  #: equity and symbols from ea-state
    copy: CopyRecord | None  #: the copy record asked for, if it exists


def _equity(raw: bytes | None) -> Decimal | None:
    if not raw:
        return None
    value = orjson.loads(raw)
    if isinstance(value, dict):
        account = value.get("account")
        equity = value.get("equity") if account is None else account.get("equity")
        return None if equity is None else Decimal(str(equity))
    return None


#: Entries read per XRANGE when looking for a master's unprocessed intents.
_BEHIND_SCAN = 500


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class FollowerStore:
    """Follower records and master books over one Redis client (copy records:
    `copy_store`; the outbox: `outbox`)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: RedisKeys,
        delivery: DeliveryLog,
        *,
        breaker: CircuitBreaker | None = None,
        max_copies: int = 1000,
        enqueue_concurrency: int = 32,
        claim_lease_ms: int = 2_000,
    ) -> None:
        self._redis = redis  #: bytes-mode client
        self._keys = keys  #: the gateway's key names (ea-state)
        self.ckeys = CopierKeys.of(keys)  #: the copier's key names
        self._breaker = breaker or CircuitBreaker()  #: breaker thresholds for new records
        self._max_copies = max_copies  #: copy records kept per follower
        #: kept for `CopierSettings.enqueue_concurrency`; moot since a flush is one
        #: `enqueue_many` call
        self._enqueue_concurrency = enqueue_concurrency
        self._load = redis.register_script(LOAD_MANY)  #: versions, EA state, copy records
        parts = range(keys.partition_count)  # key templates by partition (one on one Redis)
        self._load_templates = [load_templates(self.ckeys.pinned(n), keys.pinned(n)) for n in parts]
        self._commit = redis.register_script(COMMIT_MANY)  #: the CAS commits
        self._commit_templates = [commit_templates(self.ckeys.pinned(n), n) for n in parts]
        #: copy records as read back (the commit writes them)
        self.copy_store = CopyStore(redis, self.ckeys)
        #: the outbox: claim, flush to the delivery logs, drop
        self.outbox = OutboxStore(redis, keys, self.ckeys, delivery, claim_lease_ms=claim_lease_ms)
        #: parse cache: (owner, other) -> (raw, view, the settings shared by equal views)
        self._subs: dict[tuple[str, str], tuple[bytes, SubscriptionView, SubscriptionSettings]] = {}
        #: one settings object per distinct settings JSON, one spec per distinct spec JSON:
        #: followers with identical inputs hand the planner the same objects (`SharedPlans`)
        self._settings_pool: dict[str, SubscriptionSettings] = {}
        self._spec_pool: dict[str, SymbolSpec] = {}
        #: decoded records by (version, epoch)
        self._records: DecodeCache[FollowerRecord] = DecodeCache()
        #: follower -> (StatusHeartbeat payload, its equity): the last one parsed
        self._statuses: dict[str, tuple[bytes, Decimal | None]] = {}
        #: follower -> (init_ms, symbols, InitRequest equity): parsed InitRequests
        self._specs: dict[str, tuple[bytes, dict[str, SymbolSpec], Decimal | None]] = {}

    # ---- subscriptions ---------------------------------------------------------
    def _view(self, owner: str, other: str, raw: bytes) -> SubscriptionView:
        cached = self._subs.get((owner, other))
        if cached is not None and cached[0] == raw:
            return cached[1]
        view = SubscriptionView.model_validate_json(raw)
        self._subs[(owner, other)] = (raw, view, self._pooled_settings(view))
        return view

    def _pooled_settings(self, view: SubscriptionView) -> SubscriptionSettings:
        names = set(SubscriptionSettings.model_fields)
        key = view.model_dump_json(include=names)
        pooled = self._settings_pool.get(key)
        if pooled is None:
            if len(self._settings_pool) >= _POOL_LIMIT:
                self._settings_pool.clear()
            pooled = SubscriptionSettings.model_construct(**{n: getattr(view, n) for n in names})
            self._settings_pool[key] = pooled
        return pooled

    def shared_settings(
        self, master_id: str, follower_id: str, view: SubscriptionView
    ) -> SubscriptionSettings:
        """The settings of `view` as one object shared by every follower whose settings
        are the same (`view` itself when it is not the one this store last read)."""
        cached = self._subs.get((master_id, follower_id))
        return cached[2] if cached is not None and cached[1] is view else view

    def _pooled_spec(self, spec: SymbolSpec) -> SymbolSpec:
        key = spec.model_dump_json()
        pooled = self._spec_pool.get(key)
        if pooled is None:
            if len(self._spec_pool) >= _POOL_LIMIT:
                self._spec_pool.clear()
            pooled = self._spec_pool[key] = spec
        return pooled

    @translates_redis_errors
    async def followers_of(self, master_id: str) -> dict[str, SubscriptionView]:
        """Every follower of a master with its subscription."""
        raw: Any = await self._redis.hgetall(self.ckeys.followers(master_id))
        return {f.decode(): self._view(master_id, f.decode(), v) for f, v in raw.items()}

    async def subscriptions_of(self, follower_id: str) -> dict[str, SubscriptionView]:
        """Every subscription of a follower, by master."""
        return (await self.subscriptions_of_many([follower_id]))[follower_id]

    @translates_redis_errors
    async def subscriptions_of_many(
        self, followers: Sequence[str]
    ) -> dict[str, dict[str, SubscriptionView]]:
        """`subscriptions_of` for many followers, in one pipelined round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for follower in followers:
                pipe.hgetall(self.ckeys.subscriptions(follower))
            replies: list[Any] = await pipe.execute()
        return {
            f: {m.decode(): self._view(f, m.decode(), v) for m, v in raw.items()}
            for f, raw in zip(followers, replies, strict=True)
        }

    # ---- loading ---------------------------------------------------------------
    @translates_redis_errors
    async def load(self, copy_ids: Mapping[str, str | None]) -> dict[str, Loaded]:
        """Load followers: follower id -> base command id of the copy record wanted (or None).

        One `LOAD_MANY` call per `_CHUNK` followers (pipelined) reads versions,
        EA state and copy records; only records whose (version, epoch) is not the
        one last decoded (or committed) by this store are read in full.
        """
        given = list(copy_ids)
        calls: list[list[bytes | str | int]] = []
        followers: list[str] = []  # in the order of the calls (grouped by partition)
        for partition, indexes in chunks(self.ckeys, given, _CHUNK):
            part = [given[i] for i in indexes]
            followers += part
            pairs = [
                value
                for follower in part
                for value in (follower.encode(), (copy_ids[follower] or "").encode())
            ]
            templates = self._load_templates[partition]
            calls.append(keyed_call(self.ckeys, part[0], templates, netstrings(pairs)))
        replies = await evalsha_many(self._redis, self._load, calls, keyed=True)
        flat = [value for reply in replies for value in reply]
        stale = [
            f
            for f, init_ms in zip(followers, flat[2::5], strict=True)
            if init_ms is not None and (f not in self._specs or self._specs[f][0] != init_ms)
        ]
        await self._refresh_specs(stale)
        records = await self._records_of(followers, flat)
        loaded: dict[str, Loaded] = {}
        for i, follower in enumerate(followers):
            _v, _e, init_ms, status, copy = flat[5 * i : 5 * i + 5]
            _, specs, init_equity = self._specs.get(follower, (b"", {}, None))
            equity = self._equity(follower, status)
            ctx = FollowerContext(
                equity=init_equity if equity is None else equity,
                symbols=specs if init_ms is not None else {},
            )
            loaded[follower] = Loaded(records[follower], ctx, decode_copy(copy) if copy else None)
        return loaded

    async def _records_of(self, followers: list[str], flat: list[Any]) -> dict[str, FollowerRecord]:
        """Decoded records: from the cache by (version, epoch), else read in full."""
        records: dict[str, FollowerRecord] = {}
        missing: list[str] = []
        for follower, version, epoch in zip(followers, flat[0::5], flat[1::5], strict=True):
            if version is None:
                records[follower] = FollowerRecord(follower, breaker=self._breaker)
                continue
            record = self._records.get(follower, (version, epoch))
            if record is None:
                missing.append(follower)
            else:
                records[follower] = record
        if missing:
            async with self._redis.pipeline(transaction=False) as pipe:
                for follower in missing:
                    pipe.hgetall(self.ckeys.follower_state(follower))
                rows = await pipe.execute()
            for follower, fields in zip(missing, rows, strict=True):
                version = fields.get(b"v")
                record = decode_follower(follower, int(version or 0), fields, self._breaker)
                if version is not None:
                    self._records.put(follower, (version, fields.get(b"e")), record)
                records[follower] = record
        return records

    def _equity(self, follower: str, status: bytes | None) -> Decimal | None:
        """Equity of a follower's StatusHeartbeat payload (parsed once per payload)."""
        if status is None:
            return None
        hit = self._statuses.get(follower)
        if hit is not None and hit[0] == status:
            return hit[1]
        equity = _equity(status)
        self._statuses[follower] = (status, equity)
        return equity

    async def _refresh_specs(self, followers: Sequence[str]) -> None:
        """Parse InitRequest symbols of followers whose InitRequest changed (cached by init_ms)."""
        if not followers:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for follower in followers:
                pipe.hmget(self._keys.ea_state(follower), "init_ms", "init")
            rows = await pipe.execute()
        for follower, (init_ms, raw) in zip(followers, rows, strict=True):
            if raw is None or init_ms is None:
                continue
            init = InitRequestPayload.model_validate_json(raw)
            equity = None if init.account is None else init.account.equity
            symbols = {s.symbol: self._pooled_spec(s) for s in init.symbols or ()}
            self._specs[follower] = (init_ms, symbols, equity)

    @translates_redis_errors
    async def equity(self, account_id: str) -> Decimal | None:
        """An account's latest equity (StatusHeartbeat, else InitRequest)."""
        reply: Any = await self._redis.hmget(self._keys.ea_state(account_id), "status", "init")
        status, init = reply
        equity = _equity(status)
        return equity if equity is not None else _equity(init)

    # ---- committing --------------------------------------------------------------
    @translates_redis_errors
    async def commit(
        self,
        writes: Sequence[FollowerWrite],
        *,
        now_ms: int,
        views: Mapping[str, Mapping[str, SubscriptionView]] | None = None,
    ) -> list[bool]:
        """Commit decisions; False where the record changed since it was read.

        One `COMMIT_MANY` call per `_CHUNK` decisions or `_CALL_BYTES` of
        arguments, whichever comes first (all pipelined).

        Args:
            writes: one decision per follower.
            now_ms: the current time (audit entries, updated_ms).
            views: follower -> master -> subscription, for status changes.
        """
        if not writes:
            return []
        views = views or {}
        # One random token per call; each decision's epoch is the token and its
        # index, so every record created by this call gets a distinct fresh epoch.
        token = secrets.token_hex(8)
        calls: list[list[bytes | str | int]] = []
        order: list[int] = []  # indexes into `writes` in the order of the calls
        # Redis Cluster: each decision's writes outside its follower's slot
        foreign: list[list[list[str]]] | None = [] if self.ckeys.cluster else None
        accounts = [w.after.account_id for w in writes]
        for partition, indexes in chunks(self.ckeys, accounts, _CHUNK):
            templates = self._commit_templates[partition]
            blob: list[bytes] = []
            size = 0
            for n, i in enumerate(indexes):
                w = writes[i]
                elsewhere: list[list[str]] | None = None if foreign is None else []
                commit_decision(
                    self.ckeys,
                    w,
                    views.get(w.after.account_id, {}),
                    now_ms,
                    epoch=f"{token}-{i}",
                    out=blob,
                    foreign=elsewhere,
                )
                if foreign is not None and elsewhere is not None:
                    foreign.append(elsewhere)
                size += len(blob[-1])
                if size >= _CALL_BYTES or n == len(indexes) - 1:
                    args = (templates, self._max_copies, b"".join(blob))
                    calls.append(keyed_call(self.ckeys, accounts[indexes[0]], *args))
                    blob, size = [], 0
            order += indexes
        replies = await evalsha_many(self._redis, self._commit, calls, keyed=True)
        flat = [value for reply in replies for value in reply]
        results = [False] * len(writes)
        after_ops: list[list[str]] = []
        for n, i in enumerate(order):
            write = writes[i]
            outcome, version, epoch = flat[3 * n : 3 * n + 3]
            ok = outcome == b"ok"
            if ok:  # what Redis now holds, already decoded
                after = write.after.with_version(int(version))
                self._records.put(after.account_id, (str(version).encode(), epoch), after)
                if foreign is not None:
                    after_ops += foreign[n]
            results[i] = ok
        if after_ops:  # Redis Cluster: the winners' writes to other accounts' slots
            async with self._redis.pipeline(transaction=False) as pipe:
                for op in after_ops:
                    pipe.execute_command(*op)
                await pipe.execute()
        return results

    # ---- master books --------------------------------------------------------
    @translates_redis_errors
    async def intents_behind(self, master_id: str, before_entry_id: str) -> bool:
        """Whether the intent stream holds an entry of `master_id` up to
        `before_entry_id` (an id of another stream: the same id is "no later") that
        the copier has not processed yet (above the master's mark)."""
        stream = self._keys.intent_stream(self._keys.partition_of(master_id))
        mark: Any = await self._redis.hget(self.ckeys.marks(stream), master_id)
        start = "-" if mark is None else "(" + _text(mark)
        account = master_id.encode()
        while True:
            entries: Any = await self._redis.xrange(
                stream, min=start, max=before_entry_id, count=_BEHIND_SCAN
            )
            if any(fields.get(b"account_id") == account for _id, fields in entries):
                return True
            if len(entries) < _BEHIND_SCAN:
                return False
            start = "(" + _text(entries[-1][0])

    @translates_redis_errors
    async def master_book(self, master_id: str) -> MasterBook:
        """What the copier knows a master holds."""
        raw: Any = await self._redis.get(self.ckeys.master_book(master_id))
        return decode_master_book(raw)

    @translates_redis_errors
    async def put_master_book(self, master_id: str, book: MasterBook) -> None:
        """Store a master book."""
        await self._redis.set(self.ckeys.master_book(master_id), encode_master_book(book))
