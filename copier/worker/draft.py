"""Building blocks of the worker's decisions: value objects and the write draft. Pure.

`Draft` accumulates one `FollowerWrite` while `copier.worker.decide` runs the
planner (new record, copy records, outbox envelopes, status changes); it only
mutates itself, never its inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import lru_cache
from operator import attrgetter
from typing import Any

from copier.core import (
    Alert,
    BreakerState,
    FollowerState,
    MasterSignal,
    Send,
    Skip,
    SwitchStatus,
    derive_command_id,
    plan_intent,
    update_peak,
)
from copier.core.links import LinkKey
from copier.core.shared_plans import SharedPlans
from copier.core.values import value
from copier.worker.codec import ID_SLOT, plain_json_text, split_at_id_slot
from copier.worker.state import CopyRecord, CopyStatus, FollowerRecord
from schemas.codes import Action, Severity
from schemas.envelope import ErrorAlert, OrderCommand, encode_envelope
from schemas.messages import OrderCommandPayload, SymbolSpec
from schemas.subscriptions import SubscriptionSettings, SubscriptionStatus

__all__ = [
    "Draft",
    "FollowerContext",
    "FollowerWrite",
    "OutboxItem",
    "StatusChange",
    "attempt_of",
    "command_forms",
    "new_copy",
]

_ENTRIES = frozenset({Action.OPEN, Action.PLACE_PENDING})


@dataclass(frozen=True, slots=True)
class FollowerContext:
    """What the EA last told the gateway about the follower account (ea-state)."""

    equity: Decimal | None = None  # latest equity (StatusHeartbeat, else InitRequest)
    symbols: Mapping[str, SymbolSpec] = field(default_factory=dict)  # InitRequest symbols


@value
class OutboxItem:
    """An envelope to hand to the follower's delivery log."""

    envelope_id: str  # envelope id (= command id for commands): the delivery log dedups on it
    body: bytes  # envelope JSON without seq
    due_ms: int  # not before (retries); for immediate items, when a sweeper may take over
    immediate: bool  # the writer enqueues it right after its commit


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A subscription status the copier itself changes (e.g. drawdown -> close_only)."""

    master_id: str  # the subscription's master
    status: SubscriptionStatus  # the new status
    reason: str  # machine-readable reason (the guard)
    message: str  # human readable explanation


@value
class FollowerWrite:
    """Everything one decision writes for one follower, in one atomic commit."""

    before: FollowerRecord  # the record the decision was made on (its version is checked)
    after: FollowerRecord  # the record to store
    copies: tuple[CopyRecord, ...] = ()  # copy records to store (replace by command id)
    outbox: tuple[OutboxItem, ...] = ()  # envelopes to enqueue
    status_changes: tuple[StatusChange, ...] = ()  # subscription statuses to change
    notes: tuple[str, ...] = ()  # what happened, for the log
    #: scheduled envelopes to take back out of the outbox, unless a flush claimed them
    withdrawn: tuple[str, ...] = ()


def attempt_of(command_id: str) -> int:
    """The retry number encoded in a command id (``cmd-...r2`` -> 2; no suffix -> 0)."""
    _, sep, suffix = command_id.rpartition(".r")
    return int(suffix) if sep and suffix.isdigit() else 0


class Draft:
    """Accumulates one `FollowerWrite` (local mutation only; inputs stay untouched)."""

    def __init__(
        self,
        record: FollowerRecord,
        ctx: FollowerContext,
        now_ms: int,
        grace_ms: int,
        shared: SharedPlans | None = None,
    ):
        self.shared = shared  # plans shared with other followers of this round (or none)
        self.before = record  # the record as loaded
        peak = update_peak(record.peak, ctx.equity)
        self.record = record if peak == record.peak else replace(record, peak=peak)  # working copy
        self.ctx = ctx  # the follower's equity and symbols
        self.now = now_ms  # decision time
        self.grace = grace_ms  # how long an immediate outbox item is left to its writer
        self.copies: dict[str, CopyRecord] = {}  # copy records by base command id
        self.outbox: list[OutboxItem] = []  # envelopes to enqueue
        self.changes: list[StatusChange] = []  # subscription status changes
        self.notes: list[str] = []  # log lines
        self.withdrawn: list[str] = []  # scheduled envelopes taken back (if still unclaimed)

    def finish(self) -> FollowerWrite:
        return FollowerWrite(
            self.before,
            self.record,
            tuple(self.copies.values()),
            tuple(self.outbox),
            tuple(self.changes),
            tuple(self.notes),
            tuple(self.withdrawn),
        )

    # ---- outputs -----------------------------------------------------------------
    def send(self, command: OrderCommandPayload, *, due_ms: int | None = None) -> dict[str, object]:
        """Put `command` into the outbox; returns its JSON form (for the copy record)."""
        body, json_form = command_forms(command, self.now)
        immediate = due_ms is None
        due = self.now + self.grace if due_ms is None else due_ms
        self.outbox.append(OutboxItem(command.command_id, body, due, immediate))
        return json_form

    def alert(self, alert: Alert, ref: str) -> None:
        envelope_id = f"alert-{alert.code}-{ref}"
        envelope = ErrorAlert(id=envelope_id, ts=self.now, payload=alert.to_payload())
        self.outbox.append(
            OutboxItem(envelope_id, encode_envelope(envelope), self.now + self.grace, True)
        )

    def breaker_alert(self, before_state: BreakerState) -> None:
        breaker = self.record.breaker
        if before_state is not BreakerState.OPEN and breaker.state(self.now) is BreakerState.OPEN:
            message = (
                f"{breaker.failures} consecutive rejected executions: new opens are paused "
                f"for {breaker.cooldown_ms // 1000} s"
            )
            alert = Alert("circuit_open", Severity.ERROR, message, "check the follower terminal")
            self.alert(alert, str(breaker.opened_at_ms))

    # ---- planning ----------------------------------------------------------------
    def plan(self, signal: MasterSignal, settings: SubscriptionSettings) -> LinkKey | None:
        """Plan one intent; returns the link key when it must wait (not parked yet)."""
        master = signal.master_account_id
        record = self.record
        # order times are kept only while the rate guard is set, and only as many as it
        # can count (its limit): at hundreds of opens a second a full minute of times
        # was re-read and re-written on every commit
        limit = settings.risk.max_orders_per_minute
        state = FollowerState(
            account_id=record.account_id,
            equity=self.ctx.equity,
            equity_peak=record.peak,
            symbols=self.ctx.symbols,
            links=record.links,
            recent_order_ms=() if limit is None else record.recent_for(master, self.now),
            breaker=record.breaker,
        )
        shared = self.shared
        if shared is not None and shared.now_ms == self.now:
            plan = shared.plan(signal, settings, state)
        else:
            plan = plan_intent(signal, settings, state, self.now)
        base = derive_command_id(master, signal.intent_id, record.account_id)
        for effect in plan.effects:
            if isinstance(effect, SwitchStatus):
                change = StatusChange(master, effect.status, effect.reason.value, effect.message)
                self.changes.append(change)
            else:
                self.alert(effect, base)
        outcome = plan.outcome
        if isinstance(outcome, Send):
            command = outcome.command
            if command.action in _ENTRIES:
                recent = {m: t for m, t in record.recent.items() if m != master}
                if limit:
                    recent[master] = (*state.recent_order_ms, self.now)[-limit:]
                self.record = record.with_links(
                    plan.links,
                    recent=recent if recent or record.recent else record.recent,
                    breaker=record.breaker.on_open_sent(self.now),
                )
            else:
                self.record = record.with_links(plan.links)
            json_form = self.send(command, due_ms=outcome.not_before_ms)
            notes = (
                "; ".join(f"{a.reason.value}: {a.before} -> {a.after}" for a in outcome.adjustments)
                if outcome.adjustments
                else None
            )
            self.copies[base] = new_copy(
                base,
                signal,
                self.now,
                message=notes or None,
                requested_volume=command.volume,
                requested_price=command.price,
                current_command_id=command.command_id,
                attempts=1,
                command=json_form,
            )
            return None
        if plan.links is not record.links:
            self.record = record.with_links(plan.links)
        copy = new_copy(base, signal, self.now)
        if isinstance(outcome, Skip):
            self.copies[base] = replace(
                copy,
                status=CopyStatus.SKIPPED,
                reason=outcome.reason.value,
                message=outcome.message,
            )
            return None
        link = plan.links.find(master, outcome.master_ticket)
        key = link.key if link is not None else (master, outcome.master_ticket)
        self.copies[base] = replace(copy, status=CopyStatus.WAITING, message=outcome.message)
        return key

    def park(self, key: LinkKey, signal: MasterSignal) -> None:
        self.record = self.record.with_parked(key, (*self.record.parked_for(key), signal))

    def replay(self, key: LinkKey, subscriptions: Mapping[str, SubscriptionSettings]) -> None:
        """Replay the intents parked on `key` in order, until one has to wait again."""
        queue = list(self.record.parked_for(key))
        self.record = self.record.with_parked(key, ())
        while queue:
            signal = queue[0]
            settings = subscriptions.get(signal.master_account_id)
            if settings is None:
                base = derive_command_id(
                    signal.master_account_id, signal.intent_id, self.record.account_id
                )
                self.copies[base] = replace(
                    new_copy(base, signal, self.now),
                    status=CopyStatus.SKIPPED,
                    reason="unsubscribed",
                    message="the subscription was deleted while the intent waited",
                )
                queue.pop(0)
                continue
            wait_key = self.plan(signal, settings)
            if wait_key is not None:
                for parked in queue:
                    self.park(wait_key, parked)
                return
            queue.pop(0)


def new_copy(base: str, signal: MasterSignal, now_ms: int, **fields: Any) -> CopyRecord:
    """The copy record of `signal` decided now (status queued unless `fields` say otherwise)."""
    intent = signal.intent
    return CopyRecord(
        command_id=base,
        master_id=signal.master_account_id,
        intent_id=signal.intent_id,
        action=intent.action,
        master_ticket=intent.ticket,
        symbol=intent.symbol,
        status=fields.pop("status", CopyStatus.QUEUED),
        intent_received_ms=signal.received_ms,
        decided_ms=now_ms,
        trace_parent=signal.trace_parent,
        **fields,
    )


@lru_cache(maxsize=256)
def _command_template(
    values: tuple[Any, ...], ts: int
) -> tuple[list[bytes], dict[str, object]] | None:
    """The envelope of a command shape split around its id, and the payload's JSON form."""
    fields: dict[str, Any] = dict(zip(_PAYLOAD_FIELDS, values, strict=True))
    payload = OrderCommandPayload.model_construct(command_id=ID_SLOT, **fields)
    parts = split_at_id_slot(encode_envelope(OrderCommand(id=ID_SLOT, ts=ts, payload=payload)))
    if parts is None:
        return None
    return parts, payload.model_dump(mode="json", exclude_none=True)


_PAYLOAD_FIELDS = tuple(name for name in OrderCommandPayload.model_fields if name != "command_id")
_payload_values = attrgetter(*_PAYLOAD_FIELDS)  # command -> its values but the id, in order


def command_forms(command: OrderCommandPayload, ts: int) -> tuple[bytes, dict[str, object]]:
    """A command's envelope bytes (as `encode_envelope` makes them) and its JSON form.

    The followers of one intent get commands that differ only by id: the
    envelope is serialised once per shape and `ts` (memoised) and the id is put
    into the two places it goes. An id that JSON would escape takes the plain way.
    """
    command_id = command.command_id
    values = _payload_values(command)
    template = _command_template(values, ts) if plain_json_text(command_id) else None
    if template is None:
        envelope = OrderCommand(id=command_id, ts=ts, payload=command)
        return encode_envelope(envelope), command.model_dump(mode="json", exclude_none=True)
    parts, json_form = template
    return command_id.encode().join(parts), {**json_form, "command_id": command_id}
