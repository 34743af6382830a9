"""The pump's EA event path: ExecutionReports and SyncSnapshots (`ReportPump`).

Part of `copier.worker.pump.CopierPump` (`pump.reports`): it reads the EA event
stream, loads, decides (pure: `decide_report(s)`, `decide_follower_snapshot`,
`reconcile_master`) and hands the writes to the pump's `commit`; a master's
snapshot fans its synthetic intents out through the pump's `fan_out_or_split`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from copier.core import MasterSignal, reconcile_master, retry_command_id
from copier.errors import SnapshotAhead
from copier.worker.commit_conflict import MAX_COMMIT_ATTEMPTS, CommitConflict
from copier.worker.decide import (
    FollowerWrite,
    decide_follower_snapshot,
    decide_report,
    decide_reports,
)
from copier.worker.report_span import report_span
from copier.worker.state import DELIVERY_CHECK_SESSION, CopyRecord, MasterBook
from copier.worker.streams import StreamEntry
from gateway.clock import Clock
from schemas.envelope import ExecutionReport, SyncSnapshot, parse_client_envelope
from schemas.messages import ExecutionReportPayload, SyncSnapshotPayload
from schemas.subscriptions import SubscriptionView

if TYPE_CHECKING:
    from copier.worker.pump import CopierPump

__all__ = ["SNAPSHOT_WAIT_MS", "ReportPump"]

_log = logging.getLogger("copygate.copier")

#: How long a master's snapshot may wait for the intents sent ahead of it (from its
#: stream entry's time; below the claims before a dead letter: 5 x claim_idle_ms).
SNAPSHOT_WAIT_MS = 20_000


class ReportPump:
    """Carries the EA events' decisions out through a `CopierPump`."""

    def __init__(self, pump: CopierPump, clock: Clock, *, grace_ms: int = 2_000) -> None:
        self._pump = pump  #: store, counters, tracer, commit and fan-out
        self._clock = clock  #: epoch ms
        self._grace = grace_ms  #: outbox grace for immediate items

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
        subs = await self._pump.store.subscriptions_of(follower)
        with contextlib.ExitStack() as span:
            for attempt in range(MAX_COMMIT_ATTEMPTS):
                item = (await self._pump.store.load({follower: base}))[follower]
                if attempt == 0:
                    tracer, copy = self._pump.tracer, item.copy
                    span.enter_context(report_span(tracer, follower, report, copy, report_trace))
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
                self._pump.counters.report_steps += 1
                befores = {item.copy.command_id: item.copy} if item.copy else None
                if not await self._pump.commit([write], {follower: subs}, now, befores):
                    self._pump.counters.reports += 1
                    return
            raise CommitConflict(f"report {report.command_id}: follower record kept changing")

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
        subs = await self._pump.store.subscriptions_of_many(list(pending))
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
                self._pump.store.load({f: ids[0] for f, ids in bases.items()}),
                self._pump.store.copy_store.copy_records({f: ids[1:] for f, ids in bases.items()}),
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
                        span = report_span(self._pump.tracer, follower, report, copy, trace_of)
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
            self._pump.counters.report_steps += 1
            lost = await self._pump.commit(
                writes, {w.after.account_id: subs[w.after.account_id] for w in writes}, now, befores
            )
            self._pump.counters.reports += sum(
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
        self._pump.counters.snapshots += 1
        if await self._pump.store.followers_of(account):
            if entry_id is not None and await self._ahead(account, entry_id):
                raise SnapshotAhead(f"snapshot {round_id} of {account} waits for its intents")
            await self._master_snapshot(account, snapshot, round_id, taken_ms)
        subs = await self._pump.store.subscriptions_of(account)
        if not subs:
            return
        for _attempt in range(MAX_COMMIT_ATTEMPTS):
            item = (await self._pump.store.load({account: None}))[account]
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
            if not await self._pump.commit([write], {account: subs}, now):
                return
        raise CommitConflict(f"snapshot {round_id}: follower record kept changing")

    async def _ahead(self, master: str, entry_id: str) -> bool:
        age_ms = self._clock() - int(entry_id.split("-", 1)[0])
        return age_ms < SNAPSHOT_WAIT_MS and await self._pump.store.intents_behind(master, entry_id)

    async def _master_snapshot(
        self, master: str, snapshot: SyncSnapshotPayload, round_id: str, taken_ms: int
    ) -> None:
        book = await self._pump.store.master_book(master)
        if taken_ms < book.as_of_ms:
            _log.info("master %s: snapshot %s predates the book, skipped", master, round_id)
            return
        synthetic = reconcile_master(
            list(book.positions.values()),
            list(book.orders.values()),
            snapshot,
            round_id=round_id,
        )
        equity = await self._pump.store.equity(master)
        for found in synthetic:
            if found.intent_id in book.applied:
                continue
            _log.info("master %s reconciled: %s", master, found.intent_id)
            signal = MasterSignal(master, found.intent_id, found.intent, self._clock(), equity)
            await self._pump.fan_out_or_split([signal])
        applied = (*book.applied, *(s.intent_id for s in synthetic))[-256:]
        await self._pump.store.put_master_book(
            master,
            MasterBook(
                positions={p.ticket: p for p in snapshot.positions},
                orders={o.ticket: o for o in snapshot.orders},
                applied=applied,
                as_of_ms=max(book.as_of_ms, taken_ms),
            ),
        )


def _is_delivery_check(entry: StreamEntry) -> bool:
    """The gateway's delivery check wrote it: an open that expired before it was sent."""
    return entry.fields.get(b"session_id") == DELIVERY_CHECK_SESSION.encode()
