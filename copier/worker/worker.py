"""`CopierWorker`: one consumer of the copier group, as one asyncio task.

The loop only schedules; the parts are elsewhere:

- `streams.OrderedStreams`: read (XREADGROUP), per-account order, claim, dead letters;
- `pump.CopierPump`: load -> decide (pure) -> commit -> flush for each entry;
- `decide`: the pure decisions.

One iteration: read a batch of new entries (blocking at most until the next
outbox sweep is due) and process them; every ``sweep_interval_ms`` enqueue due
outbox items (retries, orphans); every ``claim_interval_ms`` claim entries idle
in dead or stuck consumers. Store outages are logged and retried; nothing in the
loop can end the task except `stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

from opentelemetry.trace import Tracer

from copier.core import CircuitBreaker
from copier.keys import CopierKeys
from copier.metrics import CopyMetrics
from copier.settings import CopierSettings
from copier.worker.pump import CopierPump
from copier.worker.shards import FanOutShards
from copier.worker.store import FollowerStore
from copier.worker.stream_entry import BatchHandler, StreamEntry
from copier.worker.streams import OrderedStreams
from gateway.clock import Clock, system_clock_ms
from gateway.store.factory import StoreBundle

__all__ = ["CopierWorker"]

_log = logging.getLogger("copygate.copier")

#: Pause after an unexpected error in the loop before trying again (s).
ERROR_BACKOFF_S = 0.5


class CopierWorker:
    """Reads intents and EA events, plans per follower, writes commands; one task."""

    def __init__(
        self,
        store: StoreBundle,
        settings: CopierSettings | None = None,
        *,
        clock: Clock = system_clock_ms,
        name: str | None = None,
        metrics: CopyMetrics | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        settings = settings or CopierSettings()
        self.settings = settings  #: worker settings
        self.name = name or f"copier-{secrets.token_hex(4)}"  #: consumer name in the group
        self._clock = clock  #: epoch ms
        breaker = CircuitBreaker(
            threshold=settings.breaker_threshold, cooldown_ms=settings.breaker_cooldown_ms
        )
        self.follower_store = FollowerStore(
            store.redis,
            store.keys,
            store.delivery,
            breaker=breaker,
            max_copies=settings.max_copies_per_follower,
            enqueue_concurrency=settings.enqueue_concurrency,
            claim_lease_ms=settings.outbox_grace_ms,
        )  #: Redis I/O of follower state
        ckeys = CopierKeys.of(store.keys)
        #: big masters' fan-outs as shard entries any worker plans
        self.shards = FanOutShards(
            store.redis, ckeys, min_followers=settings.fan_out_shard_followers
        )
        self.pump = CopierPump(
            self.follower_store,
            clock,
            grace_ms=settings.outbox_grace_ms,
            metrics=metrics,
            tracer=tracer,
            shards=self.shards,
        )  #: load -> decide -> write
        #: the partitions whose streams this worker consumes (every one by default)
        partitions = settings.partitions_of(store.keys.partition_count)
        self.streams = OrderedStreams(
            store.redis,
            ckeys,
            {
                stream: handler
                for n in partitions
                for stream, handler in (
                    (store.keys.intent_stream(n), self.pump.on_intent_entry),
                    (store.keys.ea_inbox_stream(n), self.pump.reports.on_inbox_entry),
                    (ckeys.fan_out_stream(n), self.pump.on_fan_out_entry),
                )
            },
            consumer=self.name,
            clock=clock,
            lock_ttl_ms=settings.lock_ttl_ms,
            max_failures=settings.max_failures,
            claim_idle_ms=settings.claim_idle_ms,
            batch=settings.batch,
            pause_after_read_ms=settings.test_pause_after_read_ms,
            narrow={ckeys.fan_out_stream(n): settings.fan_out_read for n in partitions},
            reports={store.keys.ea_inbox_stream(n): settings.report_batch for n in partitions},
            held_back=frozenset(store.keys.intent_stream(n) for n in partitions),
        )  #: ordered stream consumption
        #: stream -> the handler of a batch of its entries (`OrderedStreams.process_together`)
        self._together: dict[str, BatchHandler] = {
            stream: handler
            for n in partitions
            for stream, handler in (
                (store.keys.intent_stream(n), self.pump.on_intent_entries),
                (store.keys.ea_inbox_stream(n), self.pump.reports.on_inbox_entries),
                (ckeys.fan_out_stream(n), self.pump.on_fan_out_entries),
            )
        }
        self._task: asyncio.Task[None] | None = None  #: the running loop
        self._stopping = asyncio.Event()  #: set by `stop`

    def start(self) -> None:
        """Start the loop as a task (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=self.name)

    async def stop(self) -> None:
        """Stop the loop; an entry being processed stays pending (claimed later)."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run(self) -> None:
        """The loop: until `stop`."""
        _log.info("copier worker %s started", self.name)
        next_sweep = next_claim = 0
        groups_ready = False
        while not self._stopping.is_set():
            try:
                if not groups_ready:
                    await self.streams.ensure_groups()
                    groups_ready = True
                now = self._clock()
                if now >= next_sweep:
                    await self.pump.sweep()
                    next_sweep = now + self.settings.sweep_interval_ms
                if now >= next_claim:
                    await self.recover()
                    next_claim = now + self.settings.claim_interval_ms
                block = max(1, min(self.settings.block_ms, next_sweep - self._clock()))
                await self.process_batch(block)
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.exception("copier worker %s: loop error; retrying", self.name)
                await asyncio.sleep(ERROR_BACKOFF_S)

    async def process_batch(self, block_ms: int) -> int:
        """Read one batch of new entries and process it; returns how many were read.

        Each stream's entries are processed together (`process_together`: one
        lock, mark and ack round per batch; all waiting reports in one
        load/decide/commit; each master's intents in order, masters side by
        side), except those that need a lock wait or a catch-up, which follow
        one at a time.
        """
        entries = await self.streams.read(block_ms)
        one_by_one: list[StreamEntry] = []
        for stream, handler in self._together.items():
            batch = [e for e in entries if e.stream == stream]
            if not batch:
                continue
            try:
                one_by_one += await self.streams.process_together(batch, handler)
            except Exception:
                _log.exception(
                    "copier: %d entries of %s failed together; they stay pending",
                    len(batch),
                    stream,
                )
        for entry in one_by_one:
            try:
                await self.streams.process(entry)
            except Exception:
                _log.exception(
                    "copier: %s %s failed; it stays pending", entry.stream, entry.entry_id
                )
        return len(entries)

    async def recover(self) -> int:
        """Claim and process entries idle in other (dead) consumers; returns how many."""
        claimed = await self.streams.claim()
        for entry, claims in claimed:
            _log.warning("copier: claimed %s %s (claim %d)", entry.stream, entry.entry_id, claims)
            try:
                await self.streams.process(entry, claims)
            except Exception:
                _log.exception("copier: claimed %s %s failed again", entry.stream, entry.entry_id)
        return len(claimed)
