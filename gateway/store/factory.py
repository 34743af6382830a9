"""Build every store from the settings: Redis when configured, else embedded.

The embedded store is the very same Redis implementation over an in-process
fakeredis server: same Lua scripts, same semantics, but single-process and gone
at exit. It is meant for development and single-node trials, and it says so loudly.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import fakeredis
import redis.asyncio as aioredis

from gateway.settings import Settings
from gateway.store.delivery_log import RedisDeliveryLog
from gateway.store.event_bus import RedisEventBus
from gateway.store.intent_sink import RedisIntentSink
from gateway.store.keys import RedisKeys
from gateway.store.ports import (
    AccountStore,
    AdminTokenStore,
    DeliveryLog,
    EventBus,
    IntentSink,
    KeyStore,
    RateLimiter,
    SessionStore,
)
from gateway.store.redis_errors import map_redis_errors
from gateway.store.scripts import Scripts
from gateway.store.session_store import RedisSessionStore

__all__ = ["REDIS_MAX_CONNECTIONS", "QueuedConnectionPool", "StoreBundle", "open_store"]

logger = logging.getLogger("copygate.store")

#: Redis connections one process opens at most (the event bus's pub/sub one included).
REDIS_MAX_CONNECTIONS = 256


class QueuedConnectionPool(aioredis.ConnectionPool):
    """redis-py's pool, except that at `max_connections` a caller waits its turn (FIFO).

    redis-py holds one connection per command in flight. A loaded gateway has one
    command in flight per busy session (10,000 sessions heartbeating while the event
    loop is behind), far more than Redis should see as clients. redis-py's default
    pool then refuses the command ("Too many connections", which closed EAs with
    store_unavailable); its `BlockingConnectionPool` loses wake-ups under contention
    (waiters time out although connections are free). An `asyncio.Semaphore` in front
    of the pool queues callers fairly instead.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: one slot per connection the pool may hand out
        self._slots = asyncio.Semaphore(self.max_connections)
        #: ids of the connections handed out, each holding one slot
        self._holding: set[int] = set()

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        await self._slots.acquire()
        try:
            connection = await super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call]
        except BaseException:
            self._slots.release()  # the parent released the connection, if it had one
            raise
        self._holding.add(id(connection))
        return connection

    async def release(self, connection: Any) -> None:
        try:
            await super().release(connection)
        finally:
            if id(connection) in self._holding:
                self._holding.discard(id(connection))
                self._slots.release()


@dataclass(slots=True)
class StoreBundle:
    """Every store of one process, over one Redis client. Close it with `aclose`."""

    redis: aioredis.Redis  #: the bytes-mode client every store shares
    keys: RedisKeys  #: key names
    sessions: SessionStore  #: sessions and activation
    delivery: DeliveryLog  #: server -> EA messages
    intents: IntentSink  #: EA -> copier trade events
    bus: EventBus  #: cross-node notifications
    key_store: KeyStore  #: account session keys
    accounts: AccountStore  #: account configuration
    admin_tokens: AdminTokenStore  #: admin bearer tokens
    rate_limiter: RateLimiter  #: shared sliding-window limits
    embedded: bool  #: True when state lives in this process only

    async def aclose(self) -> None:
        """Stop the event bus and close the Redis client."""
        if isinstance(self.bus, RedisEventBus):
            await self.bus.aclose()
        await self.redis.aclose()


async def open_store(settings: Settings) -> StoreBundle:
    """Connect (or start the embedded store) and build every store.

    Raises:
        StoreUnavailable: `settings.redis_url` is set and Redis does not answer PING.
    """
    # Imported here: these modules belong to the other half of the store package.
    from gateway.store.account_store import RedisAccountStore
    from gateway.store.admin_token_store import RedisAdminTokenStore
    from gateway.store.key_store import RedisKeyStore
    from gateway.store.rate_limiter import RedisRateLimiter

    embedded = settings.redis_url is None
    redis: aioredis.Redis
    if settings.redis_url is None:
        logger.warning(
            "COPYGATE_REDIS_URL is not set: using the EMBEDDED in-process store. "
            "State is NOT durable (lost at exit) and NOT shared between processes; "
            "run a single gateway process only."
        )
        redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    else:
        redis = aioredis.Redis.from_pool(
            QueuedConnectionPool.from_url(settings.redis_url, max_connections=REDIS_MAX_CONNECTIONS)
        )
        try:
            with map_redis_errors("connecting to Redis"):
                await redis.ping()
        except BaseException:
            await redis.aclose()
            raise
    keys = RedisKeys(prefix=settings.key_prefix)
    scripts = Scripts(redis, keys)
    return StoreBundle(
        redis=redis,
        keys=keys,
        sessions=RedisSessionStore(
            redis, keys, closed_session_ttl_s=settings.closed_session_ttl_s, scripts=scripts
        ),
        delivery=RedisDeliveryLog(
            redis, keys, max_log_entries=settings.max_log_entries_per_account, scripts=scripts
        ),
        intents=RedisIntentSink(redis, keys, scripts=scripts),
        bus=RedisEventBus(redis, keys),
        key_store=RedisKeyStore(redis, keys),
        accounts=RedisAccountStore(redis, keys),
        admin_tokens=RedisAdminTokenStore(redis, keys),
        rate_limiter=RedisRateLimiter(redis, keys, scripts),
        embedded=embedded,
    )
