"""State store: ports (`ports`), their Redis implementations, and the factory.

`open_store(settings)` builds every store over one Redis client, or over an
embedded in-process fakeredis server when no Redis URL is configured.
"""

from __future__ import annotations

from gateway.store.delivery_log import RedisDeliveryLog
from gateway.store.event_bus import RedisEventBus, Subscription
from gateway.store.factory import StoreBundle, open_store
from gateway.store.intent_sink import RedisIntentSink
from gateway.store.keys import RedisKeys
from gateway.store.session_store import RedisSessionStore

__all__ = [
    "RedisDeliveryLog",
    "RedisEventBus",
    "RedisIntentSink",
    "RedisKeys",
    "RedisSessionStore",
    "StoreBundle",
    "Subscription",
    "open_store",
]
