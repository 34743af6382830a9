"""`EventBus` over Redis pub/sub: one connection per process, many subscribers.

Each account has one channel (`RedisKeys.account_events`). The Lua scripts publish
on it (``closed``, ``promoted``, ``deliver``) and so does `RedisEventBus.publish`.

However many sessions a process serves, it holds ONE pub/sub connection and two
tasks: a supervisor (connects, sends SUBSCRIBE / UNSUBSCRIBE as subscribers come
and go, pings, reconnects) and a reader (dispatches messages to subscribers).
A subscriber is either a `Subscription` fed by its own queue (an async iterator,
for code that waits for events) or a `Listener`, a callback the reader calls
synchronously (no queue, no task: what a long-lived connection uses, so that an
idle subscriber costs a few hundred bytes). Channels are reference counted, so the
thousandth subscriber of an account costs no Redis command.

On Redis Cluster the bus of one partition (`partition`, see `sharded_bus`) uses
sharded pub/sub instead: ``SPUBLISH``, ``SSUBSCRIBE``, one connection to the node
that owns the partition's slot.

When the connection drops, the supervisor reconnects with exponential backoff,
resubscribes every channel and, once Redis confirms a channel again, hands its
subscribers a synthetic ``{"kind": "resync"}``: events may have been missed, so
they must re-read the state they care about. A `Subscription` that falls
`queue_size` events behind gets the same treatment (its backlog is replaced by one
``resync``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway.store.bus_subscribers import RESYNC, Listener, Subscription
from gateway.store.connections import subscriber_client
from gateway.store.keys import RedisKeys
from gateway.store.redis_errors import translates_redis_errors

__all__ = ["RESYNC", "Listener", "RedisEventBus", "Subscription"]

logger = logging.getLogger("copygate.store.event_bus")


class _ConnectionStale(Exception):
    """The pub/sub connection stopped answering PINGs."""


class RedisEventBus:
    """`EventBus` implementation: Redis pub/sub multiplexed over one connection."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: RedisKeys,
        *,
        queue_size: int = 1000,
        ping_interval_s: float = 5.0,
        backoff_initial_s: float = 0.05,
        backoff_max_s: float = 5.0,
        partition: int | None = None,
    ) -> None:
        #: bytes-mode client (the pub/sub connection comes from its pool)
        self._redis = redis
        #: key names
        self._keys = keys
        #: events a subscriber may fall behind before it gets a `resync` instead
        self._queue_size = queue_size
        #: PING the pub/sub connection after this much silence; 2x silence = dead
        self._ping_interval_s = ping_interval_s
        #: first reconnection delay (doubles up to `backoff_max_s`)
        self._backoff_initial_s = backoff_initial_s
        #: longest reconnection delay
        self._backoff_max_s = backoff_max_s
        #: channel -> its live subscribers (the reference count)
        self._subs: dict[bytes, set[Subscription | Listener]] = {}
        #: channels Redis confirmed on the current connection
        self._confirmed: set[bytes] = set()
        #: channel -> `ready()` callers waiting for its confirmation
        self._waiters: dict[bytes, list[asyncio.Future[None]]] = {}
        #: channels SUBSCRIBEd on the current connection
        self._sent: set[bytes] = set()
        #: channel -> SUBSCRIBE commands sent but not confirmed yet
        self._inflight: dict[bytes, int] = {}
        #: channels whose subscribers get `resync` at their next confirmation
        self._resync: set[bytes] = set()
        #: wakes the supervisor (subscriptions changed, or the reader ended)
        self._wake = asyncio.Event()
        #: loop time of the last thing read from the connection
        self._last_seen = 0.0
        #: the supervisor task, started by the first subscribe
        self._task: asyncio.Task[None] | None = None
        #: whether aclose() was called
        self._closed = False
        #: Redis Cluster: the partition whose channels this bus carries (sharded pub/sub)
        self._partition = partition

    @translates_redis_errors
    async def publish(self, account_id: str, event: dict[str, Any]) -> None:
        """Announce an event (`{"kind": "deliver" | "closed" | "promoted", ...}`)."""
        channel, data = self._keys.account_events(account_id), orjson.dumps(event)
        if self._partition is None:
            await self._redis.publish(channel, data)
        else:
            await self._redis.spublish(channel, data)

    def subscribe(self, account_id: str) -> Subscription:
        """Events of one account from now on, until the subscription is closed.

        Must be called with a running event loop. Await `Subscription.ready` to know
        the subscription is live in Redis.
        """
        channel = self._keys.account_events(account_id).encode()
        sub = Subscription(self, account_id, channel)
        self._add(channel, sub)
        return sub

    def listen(self, account_id: str, callback: Callable[[dict[str, Any]], None]) -> Listener:
        """Call `callback(event)` for each event of one account, until the listener is closed.

        Must be called with a running event loop. Await `Listener.ready` to know the
        subscription is live in Redis. The callback runs in the bus's reader task
        and must return quickly.
        """
        channel = self._keys.account_events(account_id).encode()
        listener = Listener(self, account_id, channel, callback)
        self._add(channel, listener)
        return listener

    async def aclose(self) -> None:
        """Stop the tasks, close the connection and end every subscription."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for subs in list(self._subs.values()):
            for sub in list(subs):
                sub.close()

    @property
    def channel_count(self) -> int:
        """Channels with at least one subscriber (for tests and metrics)."""
        return len(self._subs)

    # ---- subscriptions ------------------------------------------------------------
    def _add(self, channel: bytes, sub: Subscription | Listener) -> None:
        if self._closed:
            raise RuntimeError("event bus is closed")
        subs = self._subs.get(channel)
        if subs is None:
            subs = self._subs[channel] = set()
            self._wake.set()
        subs.add(sub)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._supervise(), name="copygate-event-bus"
            )

    def _remove(self, sub: Subscription | Listener) -> None:
        subs = self._subs.get(sub._channel)
        if subs is None:
            return
        subs.discard(sub)
        if not subs:
            del self._subs[sub._channel]
            self._confirmed.discard(sub._channel)
            self._release(sub._channel)  # nothing left to wait for
            self._wake.set()

    async def _wait_ready(self, channel: bytes) -> None:
        if channel not in self._subs or channel in self._confirmed:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(channel, []).append(waiter)
        await waiter

    def _release(self, channel: bytes) -> None:
        for waiter in self._waiters.pop(channel, ()):
            if not waiter.done():
                waiter.set_result(None)

    # ---- connection life cycle ----------------------------------------------------
    async def _supervise(self) -> None:
        delay = self._backoff_initial_s
        connected_before = False
        attempt = 0
        while not self._closed:
            client, pubsub = self._redis, None
            try:
                shard = (
                    None if self._partition is None else self._keys.session_counts(self._partition)
                )
                client = await subscriber_client(self._redis, attempt, shard)
                attempt += 1
                pubsub = client.pubsub()
                await pubsub.connect()  # type: ignore[no-untyped-call]
                resync, connected_before = connected_before, True
                if resync:
                    logger.info("event bus reconnected; resubscribing %d channels", len(self._subs))
                delay = self._backoff_initial_s
                await self._serve(pubsub, resync=resync)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # every failure means: reconnect
                logger.warning("event bus connection lost (%r); retrying in %.2fs", exc, delay)
            finally:
                with contextlib.suppress(Exception):
                    closer: Any = pubsub  # `aclose` is untyped before redis-py 8.2
                    if closer is not None:
                        await closer.aclose()
                    if client is not self._redis:
                        await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff_max_s)

    async def _serve(self, pubsub: PubSub, *, resync: bool) -> None:
        """Drive one connection until it fails or the bus closes."""
        connection = pubsub.connection
        assert connection is not None
        # failures come to us (we resubscribe and resync), not to redis-py's silent
        # retry; the pool's own policy is restored before the connection goes back
        pool_retry, connection.retry = connection.retry, Retry(NoBackoff(), 0)
        loop = asyncio.get_running_loop()
        self._sent.clear()
        self._inflight.clear()
        self._confirmed.clear()
        self._resync = set(self._subs) if resync else set()
        self._last_seen = loop.time()
        self._wake.set()
        reader = loop.create_task(self._read(pubsub), name="copygate-event-bus-reader")
        try:
            while not self._closed:
                if reader.done():
                    reader.result()
                    raise _ConnectionStale("reader ended")
                if self._wake.is_set():
                    self._wake.clear()
                    await self._sync(pubsub)
                silence = loop.time() - self._last_seen
                if silence > 2 * self._ping_interval_s:
                    raise _ConnectionStale(f"no answer for {silence:.1f}s")
                if silence >= self._ping_interval_s:
                    await pubsub.ping()
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._ping_interval_s / 2):
                        await self._wake.wait()
        finally:
            reader.cancel()
            await asyncio.wait({reader})
            if not reader.cancelled():
                reader.exception()  # retrieved: a failed read means reconnect
            connection.retry = pool_retry

    async def _sync(self, pubsub: PubSub) -> None:
        """Bring the connection's channels in line with the subscribers."""
        wanted = set(self._subs)
        drop = self._sent - wanted
        add = wanted - self._sent
        self._sent = wanted
        sharded = self._partition is not None
        if drop:
            await (pubsub.sunsubscribe(*drop) if sharded else pubsub.unsubscribe(*drop))
        if add:
            for channel in add:
                self._inflight[channel] = self._inflight.get(channel, 0) + 1
            await (pubsub.ssubscribe(*add) if sharded else pubsub.subscribe(*add))

    async def _read(self, pubsub: PubSub) -> None:
        try:
            while True:
                message = await pubsub.get_message(timeout=None)
                self._last_seen = asyncio.get_running_loop().time()
                if message is not None:
                    self._dispatch(message)
        finally:
            self._wake.set()

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        channel = message["channel"]
        if kind in ("message", "smessage"):
            try:
                event = orjson.loads(message["data"])
            except orjson.JSONDecodeError:
                logger.warning("dropping malformed event on %r", channel)
                return
            for sub in list(self._subs.get(channel, ())):
                sub._deliver(event, self._queue_size)
        elif kind in ("subscribe", "ssubscribe"):
            left = self._inflight.get(channel, 0) - 1
            if left > 0:
                self._inflight[channel] = left
                return
            self._inflight.pop(channel, None)
            if channel not in self._subs or channel not in self._sent:
                return
            self._confirmed.add(channel)
            self._release(channel)
            if channel in self._resync:
                self._resync.discard(channel)
                for sub in list(self._subs[channel]):
                    sub._deliver({"kind": RESYNC}, self._queue_size)
