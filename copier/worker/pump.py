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
import contextlib
import logging
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind, Tracer

from copier.core import MasterSignal, derive_command_id, reconcile_master, retry_command_id
from copier.core.shared_plans import SharedPlans
from copier.errors import SnapshotAhead
from copier.metrics import CopyMetrics
from copier.worker.codec import decode_signals
from copier.worker.decide import (
    FollowerWrite,
    OutboxItem,
    decide_follower_snapshot,
    decide_report,
    decide_reports,
    decide_signals,
)
from copier.worker.shards import FanOutShards, shard_of, split_partition
from copier.worker.state import DELIVERY_CHECK_SESSION, CopyRecord, MasterBook, apply_master_intent
from copier.worker.store import FollowerStore
from copier.worker.streams import StreamEntry
from copier.worker.withdrawn import mark_withdrawn
from gateway.clock import Clock
from gateway.telemetry import context_from_traceparent, current_traceparent
from schemas.codes import ExecutionStatus
from schemas.envelope import (
    ExecutionReport,
    OrderIntent,
    SyncSnapshot,
    parse_client_envelope,
)
from schemas.messages import ExecutionReportPayload, SyncSnapshotPayload
from schemas.subscriptions import SubscriptionView

__all__ = [
    "FAN_OUT_PART",
    "MAX_COMMIT_ATTEMPTS",
    "CommitConflict",
    "CopierPump",
    "PumpCounters",
]

_log = logging.getLogger("copygate.copier")

#: Commits of one decision before giving up (the entry then stays pending).
MAX_COMMIT_ATTEMPTS = 20

#: How long a master's snapshot may wait for the intents sent ahead of it (from its
#: stream entry's time; below the claims before a dead letter: 5 x claim_idle_ms).
SNAPSHOT_WAIT_MS = 20_000

#: Followers of one intent decided and written together (parts run concurrently).
FAN_OUT_PART = 250


class CommitConflict(RuntimeError):
    """A follower record kept changing under a decision."""


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

    # ---- stream handlers -----------------------------------------------------------
    async def on_intent_entry(self, entry: StreamEntry) -> None:
        """Handler of the intent stream: one master OrderIntent."""
        await self._master_intents(entry.account_id, [entry])

    async def on_inbox_entry(self, entry: StreamEntry) -> None:
        """Handler of the EA event stream: ExecutionReports and SyncSnapshots."""
        envelope = parse_client_envelope(bytes(entry.fields[b"body"]))
        account = entry.account_id
        if isinstance(envelope, ExecutionReport):
            await self.on_report(
                account,
                envelope.payload,
                signal_expired=_is_delivery_check(entry),
                report_trace=entry.fields.get(b"traceparent"),
            )
        elif isinstance(envelope, SyncSnapshot):
            await self.on_snapshot(
                account,
                envelope.payload,
                round_id=envelope.id,
                taken_ms=envelope.ts,
                entry_id=entry.entry_id,
            )

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
            await self._fan_out_or_split(signals, views, unfinished)
        finally:
            for span in spans:
                span.end()
        book = await self.store.master_book(master)
        for _, envelope in intents:
            book = apply_master_intent(book, envelope.id, envelope.payload, envelope.ts)
        await self.store.put_master_book(master, book)

    async def _fan_out_or_split(
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

    async def on_inbox_entries(self, groups: Mapping[str, Sequence[StreamEntry]]) -> None:
        """Batch handler of the EA event stream: several accounts' entries, each in order.

        Accounts whose entries are all ExecutionReports are applied together
        (`on_reports`: one load, decide, commit for all of them); any other
        account's entries go one at a time through `on_inbox_entry`.
        """
        reports: dict[str, list[tuple[ExecutionReportPayload, bytes | None]]] = {}
        others: list[StreamEntry] = []
        for account, entries in groups.items():
            envelopes = [parse_client_envelope(bytes(e.fields[b"body"])) for e in entries]
            payloads = [
                (e.payload, entry.fields.get(b"traceparent"))
                for e, entry in zip(envelopes, entries, strict=True)
                if isinstance(e, ExecutionReport) and not _is_delivery_check(entry)
            ]
            if len(payloads) == len(entries):
                reports[account] = payloads
            else:
                others += entries
        await self.on_reports(reports)
        for entry in others:
            await self.on_inbox_entry(entry)

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
                self.store.copy_records({f: ids[1:] for f, ids in wanted.items()}),
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
            retry = await self._commit(
                writes,
                {w.after.account_id: {master: views[w.after.account_id]} for w in writes},
                now,
            )
            wanted = {f: wanted[f] for f in retry}
        raise CommitConflict(f"intents of {master}: follower records kept changing")

    async def _commit(
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
            stored = await self.store.copy_records(wanted)
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

    # ---- reports and snapshots ---------------------------------------------------
    async def on_report(
        self,
        follower: str,
        report: ExecutionReportPayload,
        *,
        not_delivered: bool = False,
        signal_expired: bool = False,
        report_trace: bytes | None = None,
    ) -> None:
        """Apply one ExecutionReport (or a not-delivered or not-sent verdict) of a follower.

        Its span, ``copier.report``, continues the trace of the intent's copy (the
        copy record's `trace_parent`) and links to the span that received the
        report (`report_trace`, from the EA event stream entry).
        """
        base = retry_command_id(report.command_id, 0)
        subs = await self.store.subscriptions_of(follower)
        with contextlib.ExitStack() as span:
            for attempt in range(MAX_COMMIT_ATTEMPTS):
                item = (await self.store.load({follower: base}))[follower]
                if attempt == 0:
                    span.enter_context(self._report_span(follower, report, item.copy, report_trace))
                now = self._clock()
                write = decide_report(
                    item.record,
                    report,
                    item.copy,
                    subs,
                    item.ctx,
                    now,
                    grace_ms=self._grace,
                    not_delivered=not_delivered,
                    signal_expired=signal_expired,
                )
                if write is None:
                    return
                self.counters.report_steps += 1
                befores = {item.copy.command_id: item.copy} if item.copy else None
                if not await self._commit([write], {follower: subs}, now, befores):
                    self.counters.reports += 1
                    return
            raise CommitConflict(f"report {report.command_id}: follower record kept changing")

    def _report_span(
        self,
        follower: str,
        report: ExecutionReportPayload,
        copy: CopyRecord | None,
        report_trace: bytes | None,
    ) -> AbstractContextManager[Span]:
        received = context_from_traceparent(report_trace)
        links = [Link(trace.get_current_span(received).get_span_context())] if received else []
        return self.tracer.start_as_current_span(
            "copier.report",
            context=context_from_traceparent(copy.trace_parent if copy else None),
            kind=SpanKind.CONSUMER,
            links=links,
            attributes={
                "copygate.account_id": follower,
                "copygate.command_id": report.command_id,
                "copygate.status": report.status.value,
            },
        )

    async def on_reports(
        self, reports: Mapping[str, Sequence[tuple[ExecutionReportPayload, bytes | None]]]
    ) -> None:
        """Apply the waiting ExecutionReports of many followers in one step.

        One load of every follower (plus one read of the copy records beyond the
        first per follower), one pure fold per follower (`decide_reports`: the
        reports in order, a close parked behind an open's fill released in the
        same write) and one commit of all of them; followers whose commit lost a
        race are decided again on fresh state.
        """
        traces = {r.command_id: t for rs in reports.values() for r, t in rs}
        pending = {f: [r for r, _ in rs] for f, rs in reports.items() if rs}
        if not pending:
            return
        subs = await self.store.subscriptions_of_many(list(pending))
        with contextlib.ExitStack() as spans:
            await self._apply_reports(pending, subs, traces, spans)

    async def _apply_reports(
        self,
        pending: dict[str, list[ExecutionReportPayload]],
        subs: Mapping[str, Mapping[str, SubscriptionView]],
        traces: Mapping[str, bytes | None],
        spans: contextlib.ExitStack,
    ) -> None:
        traced: set[str] = set()
        for _attempt in range(MAX_COMMIT_ATTEMPTS):
            if not pending:
                return
            bases = {
                f: [retry_command_id(r.command_id, 0) for r in rs] for f, rs in pending.items()
            }
            loaded, more = await asyncio.gather(
                self.store.load({f: ids[0] for f, ids in bases.items()}),
                self.store.copy_records({f: ids[1:] for f, ids in bases.items()}),
            )
            now = self._clock()
            writes: list[FollowerWrite] = []
            befores: dict[str, CopyRecord] = {}
            for follower, item in loaded.items():
                copies = dict(more.get(follower, {}))
                if item.copy is not None:
                    copies[item.copy.command_id] = item.copy
                befores.update(copies)
                for report in pending[follower]:
                    if report.command_id not in traced:
                        traced.add(report.command_id)
                        copy = copies.get(retry_command_id(report.command_id, 0))
                        trace_of = traces.get(report.command_id)
                        span = self._report_span(follower, report, copy, trace_of)
                        spans.enter_context(span)
                write = decide_reports(
                    item.record,
                    pending[follower],
                    copies,
                    subs[follower],
                    item.ctx,
                    now,
                    grace_ms=self._grace,
                )
                if write is not None:
                    writes.append(write)
            self.counters.report_steps += 1
            lost = await self._commit(
                writes, {w.after.account_id: subs[w.after.account_id] for w in writes}, now, befores
            )
            self.counters.reports += sum(
                len(pending[w.after.account_id]) for w in writes if w.after.account_id not in lost
            )
            pending = {f: pending[f] for f in lost}
        raise CommitConflict(f"reports of {sorted(pending)}: follower records kept changing")

    async def on_snapshot(
        self,
        account: str,
        snapshot: SyncSnapshotPayload,
        *,
        round_id: str,
        taken_ms: int = 0,
        entry_id: str | None = None,
    ) -> None:
        """Reconcile an account's SyncSnapshot: as a master, as a follower, or both.

        `taken_ms` is the snapshot envelope's `ts`, `entry_id` its stream entry. As a
        master, a snapshot taken before the newest intent already applied is out of
        date (the streams are read independently, and a killed worker's entries are
        claimed late) and reconciles nothing: it would undo what that intent did.
        One that reached the streams after intents of the same master the copier has
        not processed yet waits for them (`SnapshotAhead`: the entry stays pending
        and is claimed again), for up to `SNAPSHOT_WAIT_MS`; reconciled against a
        book without them it would close what they opened or moved. As a follower, a
        snapshot taken before the newest ExecutionReport applied (its
        `executed_at_ms`) reconciles nothing either (`decide_follower_snapshot`).
        """
        self.counters.snapshots += 1
        if await self.store.followers_of(account):
            if entry_id is not None and await self._ahead(account, entry_id):
                raise SnapshotAhead(f"snapshot {round_id} of {account} waits for its intents")
            await self._master_snapshot(account, snapshot, round_id, taken_ms)
        subs = await self.store.subscriptions_of(account)
        if not subs:
            return
        for _attempt in range(MAX_COMMIT_ATTEMPTS):
            item = (await self.store.load({account: None}))[account]
            if not item.record.links.links:
                return
            now = self._clock()
            write = decide_follower_snapshot(
                item.record,
                snapshot,
                round_id,
                subs,
                item.ctx,
                now,
                grace_ms=self._grace,
                taken_ms=taken_ms,
            )
            if write is None:
                _log.info("follower %s: snapshot %s predates a report, skipped", account, round_id)
                return
            if not await self._commit([write], {account: subs}, now):
                return
        raise CommitConflict(f"snapshot {round_id}: follower record kept changing")

    async def _ahead(self, master: str, entry_id: str) -> bool:
        age_ms = self._clock() - int(entry_id.split("-", 1)[0])
        return age_ms < SNAPSHOT_WAIT_MS and await self.store.intents_behind(master, entry_id)

    async def _master_snapshot(
        self, master: str, snapshot: SyncSnapshotPayload, round_id: str, taken_ms: int
    ) -> None:
        book = await self.store.master_book(master)
        if taken_ms < book.as_of_ms:
            _log.info("master %s: snapshot %s predates the book, skipped", master, round_id)
            return
        synthetic = reconcile_master(
            list(book.positions.values()),
            list(book.orders.values()),
            snapshot,
            round_id=round_id,
        )
        equity = await self.store.equity(master)
        for found in synthetic:
            if found.intent_id in book.applied:
                continue
            _log.info("master %s reconciled: %s", master, found.intent_id)
            signal = MasterSignal(master, found.intent_id, found.intent, self._clock(), equity)
            await self._fan_out_or_split([signal])
        applied = (*book.applied, *(s.intent_id for s in synthetic))[-256:]
        await self.store.put_master_book(
            master,
            MasterBook(
                positions={p.ticket: p for p in snapshot.positions},
                orders={o.ticket: o for o in snapshot.orders},
                applied=applied,
                as_of_ms=max(book.as_of_ms, taken_ms),
            ),
        )

    # ---- outbox ----------------------------------------------------------------------
    async def flush(self, items: Iterable[tuple[str, OutboxItem]]) -> None:
        """Hand outbox items to the delivery logs; refused commands are recorded as such."""
        results = await self.store.flush(items, now_ms=self._clock())
        for account, result in results.items():
            self.counters.commands += len(result.queued)
            for envelope_id in result.refused:
                if envelope_id.startswith("cmd-"):
                    refused = ExecutionReportPayload(
                        command_id=envelope_id,
                        status=ExecutionStatus.REJECTED,
                        error_message="not delivered: the follower's delivery log is full",
                    )
                    await self.on_report(account, refused, not_delivered=True)

    async def sweep(self) -> int:
        """Enqueue due outbox items (retries, and orphans of writers that died).

        Also reads the queued and delivered times of copies reported since the
        last sweep, for the latency histograms (one pipeline).
        """
        due: list[tuple[str, OutboxItem]] = await self.store.due_outbox(self._clock())
        if due:
            await self.flush(due)
        if self.metrics is not None and (awaiting := self.metrics.take_awaiting()):
            times = await self.store.command_times(
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


def _is_delivery_check(entry: StreamEntry) -> bool:
    """The gateway's delivery check wrote it: an open that expired before it was sent."""
    return entry.fields.get(b"session_id") == DELIVERY_CHECK_SESSION.encode()
