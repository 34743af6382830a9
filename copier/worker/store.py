"""Redis I/O of the worker: load follower state, commit decisions, run the outbox.

Reads are pipelined (one round trip for every follower of an intent); each
follower's decision is committed with one `COMMIT` script call (version check +
every write of the decision, atomically); commits of many followers are
pipelined too. Commands reach the follower's delivery log through the
**outbox**: the commit stores each envelope in the follower's outbox hash, the
writer then hands every envelope of the batch to ONE `DeliveryLog.enqueue_many`
call (idempotent by envelope id) and finally ONE `OUTBOX_DONE` call drops the
entries of every account. A writer that dies in between leaves the entries
behind; the sweeper enqueues them once they are ``grace_ms`` old. Retries are
outbox entries whose due time is the backoff deadline.

Decoded follower records are kept with the exact bytes they came from
(`DecodeCache`); a record is decoded again only when Redis holds other bytes, and
a successful commit puts what it wrote straight into the cache.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import orjson
import redis.asyncio as aioredis

from copier.core import CircuitBreaker
from copier.keys import CopierKeys
from copier.subscriptions import AuditEntry, audit_ops, subscription_ops
from copier.worker.cache import DecodeCache
from copier.worker.codec import (
    decode_copy,
    decode_follower,
    decode_master_book,
    dumps,
    encode_copy,
    encode_follower,
    encode_master_book,
)
from copier.worker.decide import FollowerContext, FollowerWrite, OutboxItem
from copier.worker.lua import COMMIT, OUTBOX_DONE, outbox_templates
from copier.worker.state import CopyRecord, FollowerRecord, MasterBook
from gateway.store.keys import RedisKeys
from gateway.store.ports import DeliveryLog
from gateway.store.redis_errors import translates_redis_errors
from schemas.messages import InitRequestPayload, SymbolSpec
from schemas.subscriptions import SubscriptionView

__all__ = ["FlushResult", "FollowerStore", "Loaded"]

_log = logging.getLogger("copygate.copier")


@dataclass(frozen=True, slots=True)
class Loaded:
    """One follower as loaded for a decision."""

    record: FollowerRecord  #: the stored record (with its version)
    ctx: FollowerContext  #: equity and symbols from ea-state
    copy: CopyRecord | None  #: the copy record asked for, if it exists


@dataclass(frozen=True, slots=True)
class FlushResult:
    """What one outbox flush did."""

    queued: tuple[str, ...] = ()  #: envelope ids the delivery log accepted
    refused: tuple[str, ...] = ()  #: envelope ids refused because the log is full


def _equity(raw: bytes | None) -> Decimal | None:
    if not raw:
        return None
    value = orjson.loads(raw)
    if isinstance(value, dict):
        account = value.get("account")
        equity = value.get("equity") if account is None else account.get("equity")
        return None if equity is None else Decimal(str(equity))
    return None


class FollowerStore:
    """Follower records, copy records, master books and the outbox over one Redis client."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: RedisKeys,
        delivery: DeliveryLog,
        *,
        breaker: CircuitBreaker | None = None,
        max_copies: int = 1000,
        enqueue_concurrency: int = 32,
    ) -> None:
        self._redis = redis  #: bytes-mode client
        self._keys = keys  #: the gateway's key names (ea-state)
        self.ckeys = CopierKeys.of(keys)  #: the copier's key names
        self._delivery = delivery  #: where commands go (idempotent enqueue by envelope id)
        self._breaker = breaker or CircuitBreaker()  #: breaker thresholds for new records
        self._max_copies = max_copies  #: copy records kept per follower
        #: kept for `CopierSettings.enqueue_concurrency`; moot since a flush is one
        #: `enqueue_many` call
        self._enqueue_concurrency = enqueue_concurrency
        self._commit = redis.register_script(COMMIT)  #: the CAS commit
        self._done = redis.register_script(OUTBOX_DONE)  #: outbox acknowledgement
        self._templates = outbox_templates(self.ckeys)  #: key templates of OUTBOX_DONE
        self._subs: dict[tuple[str, str], tuple[bytes, SubscriptionView]] = {}  #: parse cache
        self._records: DecodeCache[FollowerRecord] = DecodeCache()  #: decoded records
        #: follower -> (init_ms, symbols, InitRequest equity): parsed InitRequests
        self._specs: dict[str, tuple[bytes, dict[str, SymbolSpec], Decimal | None]] = {}

    # ---- subscriptions ---------------------------------------------------------
    def _view(self, owner: str, other: str, raw: bytes) -> SubscriptionView:
        cached = self._subs.get((owner, other))
        if cached is not None and cached[0] == raw:
            return cached[1]
        view = SubscriptionView.model_validate_json(raw)
        self._subs[(owner, other)] = (raw, view)
        return view

    @translates_redis_errors
    async def followers_of(self, master_id: str) -> dict[str, SubscriptionView]:
        """Every follower of a master with its subscription."""
        raw: Any = await self._redis.hgetall(self.ckeys.followers(master_id))
        return {f.decode(): self._view(master_id, f.decode(), v) for f, v in raw.items()}

    @translates_redis_errors
    async def subscriptions_of(self, follower_id: str) -> dict[str, SubscriptionView]:
        """Every subscription of a follower, by master."""
        raw: Any = await self._redis.hgetall(self.ckeys.subscriptions(follower_id))
        return {m.decode(): self._view(follower_id, m.decode(), v) for m, v in raw.items()}

    # ---- loading ---------------------------------------------------------------
    @translates_redis_errors
    async def load(self, copy_ids: Mapping[str, str | None]) -> dict[str, Loaded]:
        """Load followers: follower id -> base command id of the copy record wanted (or None)."""
        followers = list(copy_ids)
        async with self._redis.pipeline(transaction=False) as pipe:
            for follower in followers:
                pipe.hmget(self.ckeys.follower_state(follower), "v", "state")
                pipe.hmget(self._keys.ea_state(follower), "init_ms", "status")
                copy_id = copy_ids[follower]
                if copy_id is None:
                    pipe.echo(b"")
                else:
                    pipe.hget(self.ckeys.copies(follower), copy_id)
            flat = await pipe.execute()
        stale = [
            f
            for f, (init_ms, _s) in zip(followers, flat[1::3], strict=True)
            if init_ms is not None and (f not in self._specs or self._specs[f][0] != init_ms)
        ]
        await self._refresh_specs(stale)
        loaded: dict[str, Loaded] = {}
        for i, follower in enumerate(followers):
            (version, state), (init_ms, status), copy = flat[3 * i : 3 * i + 3]
            record = self._records.get(follower, (version, state))
            if record is None:
                record = decode_follower(follower, int(version or 0), state, self._breaker)
                self._records.put(follower, (version, state), record)
            _, specs, init_equity = self._specs.get(follower, (b"", {}, None))
            equity = _equity(status)
            ctx = FollowerContext(
                equity=init_equity if equity is None else equity,
                symbols=specs if init_ms is not None else {},
            )
            loaded[follower] = Loaded(record, ctx, decode_copy(copy) if copy else None)
        return loaded

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
            self._specs[follower] = (init_ms, {s.symbol: s for s in init.symbols or ()}, equity)

    @translates_redis_errors
    async def equity(self, account_id: str) -> Decimal | None:
        """An account's latest equity (StatusHeartbeat, else InitRequest)."""
        reply: Any = await self._redis.hmget(self._keys.ea_state(account_id), "status", "init")
        status, init = reply
        equity = _equity(status)
        return equity if equity is not None else _equity(init)

    # ---- committing --------------------------------------------------------------
    def _ops(
        self, write: FollowerWrite, views: Mapping[str, SubscriptionView], now_ms: int
    ) -> list[list[str]]:
        follower = write.after.account_id
        k = self.ckeys
        ops: list[list[str]] = []
        for copy in write.copies:
            ops.append(["HSET", k.copies(follower), copy.command_id, encode_copy(copy).decode()])
            ops.append(
                ["ZADD", k.copies_index(follower), str(copy.intent_received_ms), copy.command_id]
            )
        for item in write.outbox:
            value = f"{item.due_ms}|{item.body.decode()}"
            ops.append(["HSET", k.outbox(follower), item.envelope_id, value])
            ops.append(["ZADD", k.outbox_index(), "LT", str(item.due_ms), follower])
        for change in write.status_changes:
            before = views.get(change.master_id)
            if before is None or before.status is change.status:
                continue
            after = before.model_copy(update={"status": change.status, "updated_ms": now_ms})
            entry = AuditEntry(
                now_ms,
                "copier",
                "status",
                follower,
                change.master_id,
                before,
                after,
                f"{change.reason}: {change.message}",
            )
            ops += subscription_ops(k, after, follower, change.master_id)
            ops += audit_ops(k, entry)
        return ops

    @translates_redis_errors
    async def commit(
        self,
        writes: Sequence[FollowerWrite],
        *,
        now_ms: int,
        views: Mapping[str, Mapping[str, SubscriptionView]] | None = None,
    ) -> list[bool]:
        """Commit decisions (pipelined); False where the record changed since it was read.

        Args:
            writes: one decision per follower.
            now_ms: the current time (audit entries, updated_ms).
            views: follower -> master -> subscription, for status changes.
        """
        if not writes:
            return []
        k = self.ckeys
        states = [encode_follower(write.after) for write in writes]
        async with self._redis.pipeline(transaction=False) as pipe:
            for write, state in zip(writes, states, strict=True):
                follower = write.after.account_id
                ops = self._ops(write, (views or {}).get(follower, {}), now_ms)
                await self._commit(
                    keys=[
                        k.follower_state(follower),
                        k.copies(follower),
                        k.copies_index(follower),
                        k.queued_times(follower),
                        k.delivered_times(follower),
                    ],
                    args=[
                        write.before.version,
                        state,
                        dumps(ops),
                        self._max_copies,
                    ],
                    client=pipe,
                )
            replies = await pipe.execute()
        for write, state, reply in zip(writes, states, replies, strict=True):
            if reply[0] == b"ok":  # what Redis now holds, already decoded
                version = int(reply[1])
                after = replace(write.after, version=version)
                self._records.put(after.account_id, (str(version).encode(), state), after)
        return [reply[0] == b"ok" for reply in replies]

    # ---- outbox ----------------------------------------------------------------
    @translates_redis_errors
    async def flush(
        self, items: Iterable[tuple[str, OutboxItem]], *, now_ms: int
    ) -> dict[str, FlushResult]:
        """Enqueue outbox items (account, item) and drop them from the outbox.

        One `DeliveryLog.enqueue_many` call for every item, then one `OUTBOX_DONE`
        call for every account. Returns what happened per account; refused items
        (the follower's log is full) are dropped from the outbox too (the caller
        records them as not delivered).
        """
        pairs = list(items)
        if not pairs:
            return {}
        results = await self._delivery.enqueue_many(
            [(account, item.envelope_id, item.body) for account, item in pairs]
        )
        done: dict[str, tuple[list[str], list[str]]] = {}
        for (account, item), result in zip(pairs, results, strict=True):
            if result.full:
                _log.warning("delivery log of %s is full: %s not queued", account, item.envelope_id)
            done.setdefault(account, ([], []))[1 if result.full else 0].append(item.envelope_id)
        args: list[str | int] = [now_ms]
        for account, (queued, refused) in done.items():
            args += [account, len(queued), len(refused), *queued, *refused]
        await self._done(keys=[], args=[self._templates, *args])
        return {a: FlushResult(tuple(q), tuple(r)) for a, (q, r) in done.items()}

    @translates_redis_errors
    async def due_outbox(self, now_ms: int, *, limit: int = 100) -> list[tuple[str, OutboxItem]]:
        """Outbox items whose due time has passed (retries, and orphans of dead writers)."""
        accounts: Any = await self._redis.zrangebyscore(
            self.ckeys.outbox_index(), "-inf", now_ms, start=0, num=limit
        )
        if not accounts:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for account in accounts:
                pipe.hgetall(self.ckeys.outbox(account.decode()))
            rows = await pipe.execute()
        due: list[tuple[str, OutboxItem]] = []
        for account, entries in zip(accounts, rows, strict=True):
            for envelope_id, value in sorted(entries.items(), key=lambda kv: kv[1]):
                when, _, body = value.partition(b"|")
                if int(when) <= now_ms:
                    item = OutboxItem(envelope_id.decode(), body, int(when), False)
                    due.append((account.decode(), item))
        return due

    # ---- copy records and master books -----------------------------------------
    @translates_redis_errors
    async def copies(
        self, follower_id: str, *, limit: int = 100, master_id: str | None = None
    ) -> list[tuple[CopyRecord, int | None, int | None]]:
        """Newest copy records with their first queued and delivered times."""
        ids: Any = await self._redis.zrevrange(self.ckeys.copies_index(follower_id), 0, -1)
        out: list[tuple[CopyRecord, int | None, int | None]] = []
        for start in range(0, len(ids), 200):
            chunk = ids[start : start + 200]
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hmget(self.ckeys.copies(follower_id), chunk)
                pipe.hmget(self.ckeys.queued_times(follower_id), chunk)
                pipe.hmget(self.ckeys.delivered_times(follower_id), chunk)
                raws, queued, delivered = await pipe.execute()
            for raw, q, d in zip(raws, queued, delivered, strict=True):
                if raw is None:
                    continue
                record = decode_copy(raw)
                if master_id is not None and record.master_id != master_id:
                    continue
                out.append((record, None if q is None else int(q), None if d is None else int(d)))
                if len(out) >= limit:
                    return out
        return out

    @translates_redis_errors
    async def master_book(self, master_id: str) -> MasterBook:
        """What the copier knows a master holds."""
        raw: Any = await self._redis.get(self.ckeys.master_book(master_id))
        return decode_master_book(raw)

    @translates_redis_errors
    async def put_master_book(self, master_id: str, book: MasterBook) -> None:
        """Store a master book."""
        await self._redis.set(self.ckeys.master_book(master_id), encode_master_book(book))
