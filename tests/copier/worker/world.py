"""A small world for copier store tests: accounts, EA state, streams, one worker.

Everything goes through the real stores and the real worker; only the EAs are
simulated, by writing what the gateway would write (ea-state, stream entries)
and reading what it would deliver (the delivery log).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis.asyncio as aioredis

from copier.keys import CopierKeys
from copier.settings import CopierSettings
from copier.subscriptions import SubscriptionStore
from copier.worker import CopierWorker
from gateway.store.account_store import RedisAccountStore
from gateway.store.admin_token_store import RedisAdminTokenStore
from gateway.store.delivery_log import RedisDeliveryLog
from gateway.store.factory import StoreBundle
from gateway.store.intent_sink import RedisIntentSink
from gateway.store.key_store import RedisKeyStore
from gateway.store.keys import RedisKeys
from gateway.store.rate_limiter import RedisRateLimiter
from gateway.store.session_store import RedisSessionStore
from gateway.store.sharded_bus import event_bus
from schemas.subscriptions import SubscriptionSettings

MASTER = "master-1"
EURUSD = {
    "symbol": "EURUSD",
    "digits": 5,
    "point": 0.00001,
    "contract_size": 100000,
    "lot_step": 0.01,
    "min_lot": 0.01,
    "max_lot": 100,
}
_ids = itertools.count(1)


@dataclass
class FakeClock:
    """Wall-clock time plus an offset the test can advance."""

    offset_ms: int = 0

    def __call__(self) -> int:
        return time.time_ns() // 1_000_000 + self.offset_ms

    def advance(self, ms: int) -> None:
        self.offset_ms += ms


@dataclass
class World:
    client: aioredis.Redis
    keys: RedisKeys
    store: StoreBundle
    clock: FakeClock
    worker: CopierWorker
    subscriptions: SubscriptionStore
    sessions: dict[str, str] = field(default_factory=dict)
    acked: dict[str, int] = field(default_factory=dict)

    @classmethod
    async def create(cls, client: aioredis.Redis, keys: RedisKeys, **settings: Any) -> World:
        clock = FakeClock()
        store = bundle(client, keys, clock)
        config = CopierSettings(**{"claim_idle_ms": 50, "outbox_grace_ms": 100, **settings})
        worker = CopierWorker(store, config, clock=clock, name="w1")
        await worker.streams.ensure_groups()
        world = cls(
            client, keys, store, clock, worker, SubscriptionStore(client, CopierKeys.of(keys))
        )
        await world.ea_state(MASTER, equity=10_000)
        return world

    def another_worker(self, name: str, **settings: Any) -> CopierWorker:
        config = CopierSettings(**{"claim_idle_ms": 50, "outbox_grace_ms": 100, **settings})
        return CopierWorker(self.store, config, clock=self.clock, name=name)

    # ---- setup ---------------------------------------------------------------------
    async def follower(
        self,
        account: str,
        master: str = MASTER,
        *,
        equity: float = 10_000,
        symbols: list[dict[str, Any]] | None = None,
        online: bool = True,
        **settings: Any,
    ) -> None:
        await self.ea_state(account, equity=equity, symbols=symbols or [EURUSD])
        await self.subscribe(account, master, **settings)
        if online:
            await self.connect(account)

    async def subscribe(self, follower: str, master: str = MASTER, **settings: Any) -> None:
        await self.subscriptions.put(
            follower,
            master,
            SubscriptionSettings.model_validate(settings),
            actor="test",
            now_ms=self.clock(),
        )

    async def ea_state(
        self, account: str, *, equity: float, symbols: list[dict[str, Any]] | None = None
    ) -> None:
        init = {
            "ack_seq": 0,
            "account": {"balance": equity, "equity": equity},
            "symbols": symbols or [],
        }
        await self.store.intents.record_ea_state(
            account, kind="init", payload=orjson.dumps(init), now_ms=self.clock()
        )

    async def connect(self, account: str) -> None:
        sid = f"s-{account}-{next(_ids)}"
        await self.store.sessions.create_session(
            account_id=account,
            session_id=sid,
            token_hash="h",
            key_id="k",
            authenticated=True,
            now_ms=self.clock(),
            heartbeat_timeout_ms=600_000,
            max_pending_sessions=3,
        )
        self.sessions[account] = sid

    # ---- EA -> server ----------------------------------------------------------------
    async def _xadd(
        self,
        stream: str,
        account: str,
        kind: str,
        payload: dict[str, Any],
        envelope_id: str | None = None,
        ts: int | None = None,
    ) -> str:
        envelope_id = envelope_id or f"ea-{next(_ids)}"
        ts = self.clock() if ts is None else ts
        body = orjson.dumps({"type": kind, "id": envelope_id, "ts": ts, "payload": payload})
        await self.client.xadd(stream, {"account_id": account, "session_id": "s", "body": body})
        return envelope_id

    async def intent(
        self,
        action: str = "open",
        ticket: int = 100,
        *,
        master: str = MASTER,
        intent_id: str | None = None,
        **fields: Any,
    ) -> str:
        payload = {
            "action": action,
            "ticket": ticket,
            "symbol": "EURUSD",
            "side": "buy",
            "order_type": "market",
            "volume": 1.0,
            "price": 1.1,
            "sl": 1.09,
            "tp": 1.12,
            **fields,
        }
        return await self._xadd(
            self.keys.intent_stream(self.keys.partition_of(master)),
            master,
            "OrderIntent",
            payload,
            intent_id,
        )

    def partitions(self, *accounts: str) -> int:
        """How many stream partitions these accounts' entries go to (1 on a single Redis)."""
        return len({self.keys.partition_of(account) for account in accounts})

    async def report(self, follower: str, command_id: str, status: str, **fields: Any) -> None:
        payload = {"command_id": command_id, "status": status, **fields}
        await self._xadd(
            self.keys.ea_inbox_stream(self.keys.partition_of(follower)),
            follower,
            "ExecutionReport",
            payload,
        )

    async def snapshot(
        self,
        account: str,
        positions: list[dict[str, Any]] | None = None,
        orders: list[dict[str, Any]] | None = None,
        *,
        taken_ms: int | None = None,
    ) -> None:
        """A SyncSnapshot (envelope `ts`: when the EA took it; default now)."""
        payload = {"positions": positions or [], "orders": orders or []}
        await self._xadd(
            self.keys.ea_inbox_stream(self.keys.partition_of(account)),
            account,
            "SyncSnapshot",
            payload,
            ts=taken_ms,
        )

    # ---- running ---------------------------------------------------------------------
    async def run(self, worker: CopierWorker | None = None) -> None:
        """Process everything pending (new entries, due outbox items)."""
        worker = worker or self.worker
        while await worker.process_batch(1):
            pass
        await worker.pump.sweep()

    # ---- server -> EA ----------------------------------------------------------------
    async def delivered(self, account: str) -> list[dict[str, Any]]:
        """Envelopes the follower's session is handed now (and acks them, like an EA)."""
        sid = self.sessions[account]
        entries = await self.store.delivery.read(account, sid, after_seq=self.acked.get(account, 0))
        if entries:
            self.acked[account] = entries[-1].seq
            await self.store.delivery.ack(account, sid, entries[-1].seq)
        return [orjson.loads(e.body) for e in entries]

    async def commands(self, account: str) -> list[dict[str, Any]]:
        """OrderCommand payloads delivered now."""
        return [e["payload"] for e in await self.delivered(account) if e["type"] == "OrderCommand"]

    async def copies(self, account: str) -> list[dict[str, Any]]:
        from copier.api import copy_view

        rows = await self.worker.follower_store.copy_store.copies(account)
        return [copy_view(*row) for row in rows]


def bundle(client: aioredis.Redis, keys: RedisKeys, clock: FakeClock) -> StoreBundle:
    """Every gateway store over one client (no embedded-store switch); `clock` is the
    delivery hook's (the gateway's) clock."""
    from copier.delivery_hook import DeliveryTimestamps

    delivery = RedisDeliveryLog(client, keys, max_log_entries=50)
    return StoreBundle(
        redis=client,
        keys=keys,
        sessions=RedisSessionStore(client, keys, closed_session_ttl_s=3600),  # type: ignore[arg-type]
        delivery=DeliveryTimestamps(
            delivery, client, CopierKeys.of(keys), clock, keys.ea_inbox_stream()
        ),
        intents=RedisIntentSink(client, keys),
        bus=event_bus(client, keys),
        key_store=RedisKeyStore(client, keys),
        accounts=RedisAccountStore(client, keys),
        admin_tokens=RedisAdminTokenStore(client, keys),
        rate_limiter=RedisRateLimiter(client, keys),
        embedded=False,
    )
