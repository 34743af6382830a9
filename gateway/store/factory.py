"""Build every store from the settings: Redis when configured, else embedded.

The embedded store is the very same Redis implementation over an in-process
fakeredis server: same Lua scripts, same semantics, but single-process and gone
at exit. It is meant for development and single-node trials, and it says so loudly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import fakeredis
import redis.asyncio as aioredis
from redis.exceptions import RedisClusterException, ResponseError

from gateway.errors import UnsupportedStore
from gateway.settings import Settings
from gateway.store.connections import (
    REDIS_MAX_CONNECTIONS,
    QueuedConnectionPool,
    aclose_client,
    connect,
)
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
from gateway.store.replica_wait import ReplicaWait
from gateway.store.scripts import Scripts
from gateway.store.session_store import RedisSessionStore
from gateway.store.sharded_bus import PartitionedEventBus, event_bus

__all__ = [
    "CLUSTER_UNSUPPORTED",
    "NOT_A_CLUSTER",
    "REDIS_MAX_CONNECTIONS",
    "QueuedConnectionPool",
    "StoreBundle",
    "open_store",
]

logger = logging.getLogger("copygate.store")

#: Why a Redis Cluster node given as a single server is refused (docs/redis-layout.md).
CLUSTER_UNSUPPORTED = (
    "COPYGATE_REDIS_URL points at a Redis Cluster node, but COPYGATE_REDIS_CLUSTER is not "
    "set: a single-server client would fail with MOVED/CROSSSLOT errors. Set "
    "COPYGATE_REDIS_CLUSTER=true (the URL may name any node of the cluster)."
)
#: Why COPYGATE_REDIS_CLUSTER with a server that is not a cluster node is refused.
NOT_A_CLUSTER = (
    "COPYGATE_REDIS_CLUSTER is set but COPYGATE_REDIS_URL names a Redis without "
    "cluster mode: unset COPYGATE_REDIS_CLUSTER for a single primary."
)


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
        if isinstance(self.bus, RedisEventBus | PartitionedEventBus):
            await self.bus.aclose()
        await aclose_client(self.redis)


async def open_store(settings: Settings) -> StoreBundle:
    """Connect (or start the embedded store) and build every store.

    Raises:
        StoreUnavailable: a Redis is configured and does not answer PING.
        UnsupportedStore: the Redis is a Redis Cluster node and ``COPYGATE_REDIS_CLUSTER``
            is not set, or the other way round.
    """
    # Imported here: these modules belong to the other half of the store package.
    from gateway.store.account_store import RedisAccountStore
    from gateway.store.admin_token_store import RedisAdminTokenStore
    from gateway.store.key_store import RedisKeyStore
    from gateway.store.rate_limiter import RedisRateLimiter

    embedded = not settings.shared_store
    redis: aioredis.Redis
    if embedded:
        logger.warning(
            "COPYGATE_REDIS_URL is not set: using the EMBEDDED in-process store. "
            "State is NOT durable (lost at exit) and NOT shared between processes; "
            "run a single gateway process only."
        )
        redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    else:
        redis = await _connected(settings)
    keys = RedisKeys(
        prefix=settings.key_prefix,
        partitions=settings.redis_partitions if settings.redis_cluster else None,
    )
    wait = None
    if not embedded and settings.redis_wait_replicas > 0:
        wait = ReplicaWait(settings.redis_wait_replicas, settings.redis_wait_timeout_ms)
    scripts = Scripts(redis, keys, wait)
    return StoreBundle(
        redis=redis,
        keys=keys,
        sessions=RedisSessionStore(
            redis, keys, closed_session_ttl_s=settings.closed_session_ttl_s, scripts=scripts
        ),
        delivery=RedisDeliveryLog(
            redis, keys, max_log_entries=settings.max_log_entries_per_account, scripts=scripts
        ),
        intents=RedisIntentSink(
            redis,
            keys,
            scripts=scripts,
            snapshot_parts_ttl_ms=settings.snapshot_parts_ttl_s * 1000,
        ),
        bus=event_bus(redis, keys),
        key_store=RedisKeyStore(redis, keys),
        accounts=RedisAccountStore(redis, keys),
        admin_tokens=RedisAdminTokenStore(redis, keys),
        rate_limiter=RedisRateLimiter(redis, keys, scripts),
        embedded=embedded,
    )


async def _connected(settings: Settings) -> aioredis.Redis:
    """`connect`, then check that the server is the kind the settings say it is."""
    if settings.redis_cluster:
        redis = connect(settings)
        try:
            try:
                await redis.initialize()
            except RedisClusterException as exc:
                if "not enabled" in str(exc):  # "Cluster mode is not enabled on this node"
                    raise UnsupportedStore(f"{NOT_A_CLUSTER} ({exc})") from exc
                with map_redis_errors("connecting to Redis Cluster"):
                    raise
            with map_redis_errors("connecting to Redis Cluster"):
                await redis.ping()
        except BaseException:
            await aclose_client(redis)
            raise
        return redis
    redis = connect(settings)
    try:
        with map_redis_errors("connecting to Redis"):
            await redis.ping()
            if await _is_cluster_node(redis):
                raise UnsupportedStore(CLUSTER_UNSUPPORTED)
    except BaseException:
        await aclose_client(redis)
        raise
    return redis


async def _is_cluster_node(redis: aioredis.Redis) -> bool:
    """True when the server runs with ``cluster-enabled yes``."""
    try:
        info = await redis.info("cluster")
    except ResponseError:  # INFO renamed or not permitted by an ACL: nothing to learn
        return False
    return bool(info.get("cluster_enabled"))
