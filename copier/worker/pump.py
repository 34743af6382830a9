"""The worker's pump: read -> decide (pure, `copier.worker.decide`) -> write -> flush.

Each handler is idempotent, so a stream entry processed twice (a worker died
before acking, or a catch-up ran it first) has the effect of one:

- an intent is decided for a follower only if that follower has no copy record
  for it yet (the record's key is the derived command id), and the record, the
  link book and the outbox entry are written in one atomic commit;
- the delivery log drops an envelope id it already holds, and the envelope id
  is the command id;
- a report whose command the link book no longer awaits changes nothing.

A commit that loses a race (another worker changed the follower record in
between) is retried on fresh state, up to `MAX_COMMIT_ATTEMPTS` times.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Tracer

from copier.core import MasterSignal, derive_command_id
from copier.core.shared_plans import SharedPlans
from copier.metrics import CopyMetrics
from copier.worker.codec import decode_signals
from copier.worker.commit_conflict import MAX_COMMIT_ATTEMPTS, CommitConflict
from copier.worker.decide import (
    FollowerWrite,
    OutboxItem,
    decide_signals,
)
from copier.worker.report_pump import SNAPSHOT_WAIT_MS, ReportPump
from copier.worker.shards import FanOutShards, shard_of, split_partition
from copier.worker.state import CopyRecord, apply_master_intent
from copier.worker.store import FollowerStore
from copier.worker.streams import StreamEntry
from copier.worker.withdrawn import mark_withdrawn
from gateway.clock import Clock
from gateway.telemetry import context_from_traceparent, current_traceparent
from schemas.codes import ExecutionStatus
from schemas.envelope import (
    OrderIntent,
    parse_client_envelope,
)
from schemas.messages import ExecutionReportPayload
from schemas.subscriptions import SubscriptionView

__all__ = [
    "FAN_OUT_PART",
    "MAX_COMMIT_ATTEMPTS",
    "SNAPSHOT_WAIT_MS",
    "CommitConflict",
    "CopierPump",
    "PumpCounters",
    "ReportPump",
]

_log = logging.getLogger("copygate.copier")

#: Followers of one intent decided and written together (parts run concurrently).
FAN_OUT_PART = 250


@dataclass
class PumpCounters:
    """What this pump did (for the benchmark and /metrics)."""

    intents: int = 0  #: master intents fanned out
    decisions: int = 0  #: follower decisions committed
    commands: int = 0  #: envelopes handed to delivery logs
    reports: int = 0  #: ExecutionReports applied
    report_steps: int = 0  #: load/decide/commit steps that applied them (a batch is one)
    snapshots: int = 0  #: SyncSnapshots reconciled
    conflicts: int = 0  #: commits retried on fresh state
    splits: int = 0  #: fan-out shard entries written (a big master's intents split)


class CopierPump:
    """Carries decisions out against the store."""

    def __init__(
        self,
        store: FollowerStore,
        clock: Clock,
        *,
        grace_ms: int = 2_000,
        metrics: CopyMetrics | None = None,
        tracer: Tracer | None = None,
        shards: FanOutShards | None = None,
    ) -> None:
        self.store = store  #: Redis I/O
        self.shards = shards  #: splits big masters' fan-outs into shard entries (or none)
        self._clock = clock  #: epoch ms
        self._grace = grace_ms  #: outbox grace for immediate items
        self.counters = PumpCounters()  #: what happened
        self.metrics = metrics  #: Prometheus copy outcomes and latencies (or none)
        self.tracer = tracer or trace.get_tracer("copygate.copier")  #: copier spans
        #: the EA event stream: reports and snapshots (commits through `commit`)
        self.reports = ReportPump(self, clock, grace_ms=grace_ms)

    # ---- stream handlers -----------------------------------------------------------
    async def on_intent_entry(self, entry: StreamEntry) -> None:
        """Handler of the intent stream: one master OrderIntent."""
        await self._master_intents(entry.account_id, [entry])

    async def on_intent_entries(self, groups: Mapping[str, Sequence[StreamEntry]]) -> None:
        """Batch handler of the intent stream: each master's waiting intents fanned out
        together (`fan_out_many`: per follower, one load/decide/commit for all of them,
        in order); masters side by side (a follower of two masters that loses a
        commit race is re-decided)."""
        await _all(self._master_intents(master, entries) for master, entries in groups.items())

    async def _master_intents(self, master: str, entries: Sequence[StreamEntry]) -> None:
        intents: list[tuple[StreamEntry, OrderIntent]] = []
        for entry in entries:
            envelope = parse_client_envelope(bytes(entry.fields[b"body"]))
            if isinstance(envelope, OrderIntent):
                intents.append((entry, envelope))
            else:
                _log.warning(
                    "intent stream entry %s is a %s; ignored", entry.entry_id, envelope.type
                )
        if not intents:
            return
        equity, views, unfinished = await asyncio.gather(
            self.store.equity(master),
            self.store.followers_of(master),
            self.shards.unfinished(master) if self.shards is not None else _false(),
        )
        # one `copier.intent` span per intent, continuing the trace its entry carries;
        # the copies it makes keep its traceparent for their report spans
        spans = [
            self.tracer.start_span(
                "copier.intent",
                context=context_from_traceparent(e.fields.get(b"traceparent")),
                kind=SpanKind.CONSUMER,
                attributes={"copygate.account_id": master, "copygate.intent_id": i.id},
            )
            for e, i in intents
        ]
        signals = []
        for span, (entry, intent) in zip(spans, intents, strict=True):
            with trace.use_span(span, end_on_exit=False):
                parent = current_traceparent()
            signals.append(
                MasterSignal(
                    master,
                    intent.id,
                    intent.payload,
                    entry.received_ms,
                    equity,
                    trace_parent=parent,
                )
            )
        try:
            await self.fan_out_or_split(signals, views, unfinished)
        finally:
            for span in spans:
                span.end()
        book = await self.store.master_book(master)
        for _, envelope in intents:
            book = apply_master_intent(book, envelope.id, envelope.payload, envelope.ts)
        await self.store.put_master_book(master, book)

    async def fan_out_or_split(
        self,
        signals: Sequence[MasterSignal],
        views: Mapping[str, SubscriptionView] | None = None,
        unfinished: bool | None = None,
    ) -> None:
        """Fan one master's intents out here, or split them into shard entries: a big
        master, or one whose earlier shard entries are not all finished (so that no
        follower gets an intent before the earlier ones of its shard)."""
        master = signals[0].master_account_id
        if views is None:
            views = await self.store.followers_of(master)
        if self.shards is not None:
            if unfinished is None:
                unfinished = await self.shards.unfinished(master)
            if self.shards.wanted(len(views), unfinished):
                self.counters.intents += len(signals)
                self.counters.splits += await self.shards.split(signals, views)
                return
        await self.fan_out_many(signals, views)

    async def on_fan_out_entry(self, entry: StreamEntry) -> None:
        """Handler of the fan-out stream: one shard entry (`copier.worker.shards`)."""
        await self.on_fan_out_entries({entry.account_id: [entry]})

    async def on_fan_out_entries(self, groups: Mapping[str, Sequence[StreamEntry]]) -> None:
        """Batch handler of the fan-out stream: per partition (master, shard), its entries'
        intents, in order, for the master's followers in that shard (`fan_out_many`)."""
        masters = sorted({split_partition(p)[0] for p in groups})
        followers = dict(
            zip(masters, await asyncio.gather(*map(self.store.followers_of, masters)), strict=True)
        )
        calls = []
        for partition, entries in groups.items():
            master, shard = split_partition(partition)
            signals = [s for e in entries for s in decode_signals(bytes(e.fields[b"body"]))]
            views = {f: v for f, v in followers[master].items() if shard_of(f) == shard}
            if signals and views:
                calls.append(self._fan_out(signals, views))
        await _all(calls)

    # ---- intents ---------------------------------------------------------------------
    async def fan_out(
        self, signal: MasterSignal, views: Mapping[str, SubscriptionView] | None = None
    ) -> None:
        """Decide and write one intent for every follower of its master (`fan_out_many`)."""
        await self.fan_out_many([signal], views)

    async def fan_out_many(
        self, signals: Sequence[MasterSignal], views: Mapping[str, SubscriptionView] | None = None
    ) -> None:
        """Decide and write one master's intents, in order, for every follower.

        Per follower the intents are decided one after the other on the record
        the previous one produced and written as one commit. The followers are
        taken in parts of `FAN_OUT_PART`, run concurrently: while Redis runs one
        part's commit, the worker decides the next part. Every part runs to its
        end (committed and flushed) before this returns; if one failed, its error
        is raised then and the entries stay pending (processing them again decides
        only what was not committed). `views` (follower -> subscription) is read
        here unless the caller already has it.
        """
        if views is None:
            views = await self.store.followers_of(signals[0].master_account_id)
        self.counters.intents += len(signals)
        await self._fan_out(signals, views)

    async def _fan_out(
        self, signals: Sequence[MasterSignal], views: Mapping[str, SubscriptionView]
    ) -> None:
        followers = sorted(views)
        await _all(
            self._fan_out_part(signals, views, followers[start : start + FAN_OUT_PART])
            for start in range(0, len(followers), FAN_OUT_PART)
        )

    async def _fan_out_part(
        self,
        signals: Sequence[MasterSignal],
        views: Mapping[str, SubscriptionView],
        followers: list[str],
    ) -> None:
        master = signals[0].master_account_id
        wanted = {
            f: [derive_command_id(master, s.intent_id, f) for s in signals] for f in followers
        }
        for _attempt in range(MAX_COMMIT_ATTEMPTS):
            if not wanted:
                return
            loaded, more = await asyncio.gather(
                self.store.load({f: ids[0] for f, ids in wanted.items()}),
                self.store.copy_store.copy_records({f: ids[1:] for f, ids in wanted.items()}),
            )
            now = self._clock()
            shared = SharedPlans(now)  # followers with identical inputs: planned once
            writes: list[FollowerWrite] = []
            for follower, item in loaded.items():
                settings = self.store.shared_settings(master, follower, views[follower])
                decided = set(more.get(follower, ()))  # decided before: a re-processed entry
                if item.copy is not None:
                    decided.add(item.copy.command_id)
                todo = [
                    signal
                    for signal, command_id in zip(signals, wanted[follower], strict=True)
                    if command_id not in decided
                ]
                if todo:
                    writes.append(
                        decide_signals(
                            todo,
                            settings,
                            item.record,
                            item.ctx,
                            now,
                            grace_ms=self._grace,
                            shared=shared,
                        )
                    )
            retry = await self.commit(
                writes,
                {w.after.account_id: {master: views[w.after.account_id]} for w in writes},
                now,
            )
            wanted = {f: wanted[f] for f in retry}
        raise CommitConflict(f"intents of {master}: follower records kept changing")

    async def commit(
        self,
        writes: list[FollowerWrite],
        views: Mapping[str, Mapping[str, SubscriptionView]],
        now: int,
        before: Mapping[str, CopyRecord] | None = None,
    ) -> list[str]:
        """Commit, flush what committed, and return the followers to decide again.

        `before` holds the copy records report decisions were made on, by command id
        (for the metrics).
        """
        if any(w.withdrawn for w in writes):  # the withdrawn cancels' copy records
            wanted = {w.after.account_id: list(w.withdrawn) for w in writes if w.withdrawn}
            stored = await self.store.copy_store.copy_records(wanted)
            writes = [mark_withdrawn(w, stored.get(w.after.account_id, {}), now) for w in writes]
        results = await self.store.commit(writes, now_ms=now, views=views)
        committed = [w for w, ok in zip(writes, results, strict=True) if ok]
        lost = [w.after.account_id for w, ok in zip(writes, results, strict=True) if not ok]
        self.counters.decisions += len(committed)
        self.counters.conflicts += len(lost)
        if self.metrics is not None:
            for write in committed:
                for copy in write.copies:
                    mine = (before or {}).get(copy.command_id)
                    self.metrics.observe(write.after.account_id, mine, copy)
        for write in committed:
            for note in write.notes:
                _log.info("%s: %s", write.after.account_id, note)
        await self.flush(
            (w.after.account_id, item) for w in committed for item in w.outbox if item.immediate
        )
        return lost

    # ---- outbox ----------------------------------------------------------------------
    async def flush(self, items: Iterable[tuple[str, OutboxItem]]) -> None:
        """Hand outbox items to the delivery logs; refused commands are recorded as such."""
        results = await self.store.outbox.flush(items, now_ms=self._clock())
        for account, result in results.items():
            self.counters.commands += len(result.queued)
            for envelope_id in result.refused:
                if envelope_id.startswith("cmd-"):
                    refused = ExecutionReportPayload(
                        command_id=envelope_id,
                        status=ExecutionStatus.REJECTED,
                        error_message="not delivered: the follower's delivery log is full",
                    )
                    await self.reports.on_report(account, refused, not_delivered=True)

    async def sweep(self) -> int:
        """Enqueue due outbox items (retries, and orphans of writers that died).

        Also reads the queued and delivered times of copies reported since the
        last sweep, for the latency histograms (one pipeline).
        """
        due: list[tuple[str, OutboxItem]] = await self.store.outbox.due_outbox(self._clock())
        if due:
            await self.flush(due)
        if self.metrics is not None and (awaiting := self.metrics.take_awaiting()):
            times = await self.store.copy_store.command_times(
                [(a.follower_id, a.command_id) for a in awaiting]
            )
            self.metrics.observe_split(awaiting, times)
        return len(due)


async def _all(calls: Iterable[Awaitable[None]]) -> None:
    """Run every call concurrently to its end; then raise the first error, if any."""
    for outcome in await asyncio.gather(*calls, return_exceptions=True):
        if isinstance(outcome, BaseException):
            raise outcome


async def _false() -> bool:
    return False
