"""Ticket links: which follower ticket a master ticket was copied to. Pure state.

A `TicketLink` is born when the planner sends an ``open`` or ``place_pending``
command (state ``opening``, follower ticket unknown). The follower's
ExecutionReport resolves it: ``filled``/``placed`` link it to the follower ticket
(``open``), ``rejected``/``expired`` fail it. Closes and modifies are only ever
sent to a ticket learnt this way.

A link is keyed by ``(master account, root ticket)``, the master ticket the copy
was opened for. MT4 gives the remainder of a partially closed position a new
ticket; the master's new tickets become *aliases* of the root, and the
follower's new ticket (``new_ticket`` of the close report) replaces the link's
follower ticket.

While a ticket-changing command (open, place_pending, close, cancel_pending) is
in flight, the link is *blocked*: the planner answers ``WaitForLink`` for further
closes/modifies, which the caller parks and replays once `LinkBook.apply_report`
has cleared the in-flight command. Modifies do not block.

`LinkBook` is immutable: every operation returns a new book.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum

from copier.core.values import value
from schemas.codes import Action, ExecutionStatus, OrderType, Side
from schemas.messages import ExecutionReportPayload

__all__ = [
    "MAX_INTENT_IDS",
    "InFlight",
    "LinkBook",
    "LinkChange",
    "LinkKey",
    "LinkKind",
    "LinkState",
    "ReportApplied",
    "TicketLink",
]

#: How many applied master intent ids a link remembers (for duplicate detection).
MAX_INTENT_IDS = 64

_ZERO = Decimal(0)

#: (master account id, root master ticket).
LinkKey = tuple[str, int]


class LinkState(StrEnum):
    """Life cycle of a link."""

    OPENING = "opening"  # open/place_pending sent, no report yet
    OPEN = "open"  # follower ticket known; position or pending order live
    CLOSED = "closed"  # the follower side is gone (closed, cancelled, expired)
    FAILED = "failed"  # the open was rejected or expired; never retried from here


class LinkKind(StrEnum):
    """What the follower holds for the link."""

    POSITION = "position"
    PENDING_ORDER = "pending_order"


class LinkChange(StrEnum):
    """What a report did to its link."""

    IGNORED = "ignored"  # unknown/duplicate command id, or a status that does not fit
    LINKED = "linked"  # open filled or pending order placed: follower ticket known
    FAILED = "failed"  # the open was rejected/expired
    REDUCED = "reduced"  # partial close: less volume remains
    CLOSED = "closed"  # nothing remains on the follower
    FILLED_AT_BROKER = "filled_at_broker"  # the follower's pending order became a position
    MODIFIED = "modified"  # SL/TP (or pending price) changed
    UNCHANGED = "unchanged"  # a close/modify/cancel was rejected: the link is as before


@value
class InFlight:
    """A ticket-changing command sent for a link and not yet reported."""

    command_id: str  # id of the command awaiting its report
    action: Action  # open, place_pending, close or cancel_pending
    volume: Decimal  # lots the command asked for


@value
class TicketLink:
    """One master position/order and its copy on one follower."""

    master_account_id: str  # the master account
    root_ticket: int  # master ticket the copy was opened for (the link's key)
    master_ticket: int  # the master's current ticket (changes on partial closes)
    master_volume: Decimal  # the master's remaining lots; 0 once the master closed
    kind: LinkKind  # position or pending order on the follower
    state: LinkState  # life-cycle state
    symbol: str  # follower symbol
    side: Side  # follower side (flipped for reverse subscriptions)
    order_type: OrderType  # follower order type (market, limit or stop)
    open_command_id: str  # id of the command that opened the copy
    remaining_volume: Decimal  # follower lots still open (requested lots while opening)
    lot_step: Decimal  # follower lot_step when the copy was opened
    min_lot: Decimal  # follower min_lot when the copy was opened
    follower_ticket: int | None = None  # follower ticket, once reported
    opened_volume: Decimal = _ZERO  # follower lots filled by the open (0 until filled)
    in_flight: InFlight | None = None  # ticket-changing command awaiting its report
    intent_ids: tuple[str, ...] = ()  # master intents already applied (newest last)
    error: str | None = None  # why the link failed
    from_pending: bool = False  # the copy was placed as a pending order

    @property
    def is_live(self) -> bool:
        """Opening or open: counts as exposure."""
        return self.state in (LinkState.OPENING, LinkState.OPEN)

    @property
    def master_closed(self) -> bool:
        """The master no longer holds anything for this link."""
        return self.master_volume <= _ZERO

    @property
    def key(self) -> LinkKey:
        """The link's key in a `LinkBook`."""
        return (self.master_account_id, self.root_ticket)

    def with_intent(self, intent_id: str) -> TicketLink:
        """This link with `intent_id` remembered as applied."""
        ids = (*self.intent_ids, intent_id)[-MAX_INTENT_IDS:]
        return replace(self, intent_ids=ids)


@dataclass(frozen=True, slots=True)
class ReportApplied:
    """Result of `LinkBook.apply_report`."""

    book: LinkBook  # the book after the report
    link: TicketLink | None  # the link after the report (None when ignored)
    change: LinkChange  # what happened

    @property
    def unblocked(self) -> bool:
        """True when parked intents of the link should be replayed now."""
        return self.change not in (LinkChange.IGNORED, LinkChange.MODIFIED)


_OPENING_ACTIONS = frozenset({Action.OPEN, Action.PLACE_PENDING})
_FAILURES = frozenset({ExecutionStatus.REJECTED, ExecutionStatus.EXPIRED})


def _error_text(report: ExecutionReportPayload) -> str:
    parts = [str(report.status)]
    if report.error_code is not None:
        parts.append(f"error {report.error_code}")
    if report.error_message:
        parts.append(report.error_message)
    return ": ".join(parts)


@value
class LinkBook:
    """All ticket links of one follower account, across its masters."""

    links: Mapping[LinkKey, TicketLink] = field(default_factory=dict)  # root key -> link
    aliases: Mapping[LinkKey, int] = field(default_factory=dict)  # later master ticket -> root
    commands: Mapping[str, LinkKey] = field(default_factory=dict)  # command id -> awaiting link
    #: The links as read from the store (`as_read`; None: not read so), and the keys
    #: put over them since: see `copier.core.link_changes`.
    read_as: Mapping[LinkKey, TicketLink] | None = field(default=None, compare=False, repr=False)
    put_since: tuple[LinkKey, ...] = field(default=(), compare=False, repr=False)

    def as_read(self) -> LinkBook:
        """This book as the store holds it: nothing put since."""
        return LinkBook(self.links, self.aliases, self.commands, self.links)

    def _put(
        self,
        key: LinkKey,
        links: Mapping[LinkKey, TicketLink],
        commands: Mapping[str, LinkKey] | None = None,
    ) -> LinkBook:
        """This book with `links` (`key` put) and `commands` (or the same)."""
        put = self.put_since if key in self.put_since else (*self.put_since, key)
        now = self.commands if commands is None else commands
        return LinkBook(links, self.aliases, now, self.read_as, put)

    # -- queries -----------------------------------------------------------------

    def find(self, master_account_id: str, master_ticket: int) -> TicketLink | None:
        """The link of a master ticket (its root ticket or any later one)."""
        root = self.aliases.get((master_account_id, master_ticket), master_ticket)
        return self.links.get((master_account_id, root))

    def for_command(self, command_id: str) -> TicketLink | None:
        """The link a command (awaiting its report) belongs to."""
        key = self.commands.get(command_id)
        return None if key is None else self.links.get(key)

    def of_master(self, master_account_id: str) -> tuple[TicketLink, ...]:
        """Every link copied from one master, ordered by root ticket."""
        return tuple(
            link for key, link in sorted(self.links.items()) if key[0] == master_account_id
        )

    # -- updates -----------------------------------------------------------------

    def put(self, link: TicketLink) -> LinkBook:
        """This book with `link` inserted or replaced."""
        key = link.key
        return self._put(key, {**self.links, key: link})

    def alias(self, master_account_id: str, ticket: int, root_ticket: int) -> LinkBook:
        """This book with `ticket` (a later master ticket) pointing to `root_ticket`."""
        key = (master_account_id, ticket)
        if ticket == root_ticket or self.aliases.get(key) == root_ticket:
            return self
        return replace(self, aliases={**self.aliases, key: root_ticket})

    def track(self, command_id: str, link: TicketLink) -> LinkBook:
        """This book with `link` stored and `command_id` awaiting its report."""
        key = link.key
        return self._put(key, {**self.links, key: link}, {**self.commands, command_id: key})

    def reissue(self, old_command_id: str, new_command_id: str) -> LinkBook:
        """Move an awaited command to a new id (a retry is sent under a new id).

        Unknown `old_command_id`: the book is returned unchanged.
        """
        key = self.commands.get(old_command_id)
        if key is None:
            return self
        link = self.links[key]
        if link.in_flight is not None and link.in_flight.command_id == old_command_id:
            link = replace(link, in_flight=replace(link.in_flight, command_id=new_command_id))
        if link.open_command_id == old_command_id:
            link = replace(link, open_command_id=new_command_id)
        commands = {k: v for k, v in self.commands.items() if k != old_command_id}
        commands[new_command_id] = key
        return self._put(key, {**self.links, key: link}, commands)

    def forget(self, command_id: str) -> LinkBook:
        """This book no longer awaiting a report for `command_id`."""
        if command_id not in self.commands:
            return self
        return replace(self, commands={k: v for k, v in self.commands.items() if k != command_id})

    def _settle(self, link: TicketLink, command_id: str, change: LinkChange) -> ReportApplied:
        """Store `link` and stop awaiting `command_id`."""
        return ReportApplied(self.put(link).forget(command_id), link, change)

    # -- reports -----------------------------------------------------------------

    def apply_report(self, report: ExecutionReportPayload) -> ReportApplied:
        """Apply a follower ExecutionReport.

        ``rejected`` is treated as final: decide retries (see `copier.core.retry`)
        before calling this, and `reissue` the command instead when retrying.
        Reports for unknown command ids (duplicates, stale ones) are ignored.

        Args:
            report: the follower's report.

        Returns:
            The new book, the link and what changed.
        """
        key = self.commands.get(report.command_id)
        if key is None:
            return ReportApplied(self, None, LinkChange.IGNORED)
        link = self.links[key]
        flight = link.in_flight
        if flight is not None and flight.command_id == report.command_id:
            if flight.action in _OPENING_ACTIONS:
                return self._opened(link, flight, report)
            return self._closed(link, flight, report)
        if report.command_id == link.open_command_id and link.kind is LinkKind.PENDING_ORDER:
            return self._pending_update(link, report)
        return self._modified(link, report)

    def _opened(
        self, link: TicketLink, flight: InFlight, report: ExecutionReportPayload
    ) -> ReportApplied:
        status = report.status
        if status in _FAILURES:
            failed = replace(
                link,
                state=LinkState.FAILED,
                remaining_volume=_ZERO,
                in_flight=None,
                error=_error_text(report),
            )
            return self._settle(failed, report.command_id, LinkChange.FAILED)
        if report.ticket is None:
            return ReportApplied(self, link, LinkChange.IGNORED)
        if status is ExecutionStatus.FILLED:  # an open, or a pending order filled at once
            volume = report.volume if report.volume else flight.volume
            filled = replace(
                link,
                kind=LinkKind.POSITION,
                order_type=OrderType.MARKET,
                state=LinkState.OPEN,
                follower_ticket=report.ticket,
                opened_volume=volume,
                remaining_volume=volume,
                in_flight=None,
            )
            return self._settle(filled, report.command_id, LinkChange.LINKED)
        if status is ExecutionStatus.PLACED and flight.action is Action.PLACE_PENDING:
            placed = replace(
                link, state=LinkState.OPEN, follower_ticket=report.ticket, in_flight=None
            )
            # keep awaiting the open command id: the order may report its fill later
            return ReportApplied(self.put(placed), placed, LinkChange.LINKED)
        return ReportApplied(self, link, LinkChange.IGNORED)

    def _closed(
        self, link: TicketLink, flight: InFlight, report: ExecutionReportPayload
    ) -> ReportApplied:
        status = report.status
        if status in _FAILURES:
            kept = replace(link, in_flight=None)
            return self._settle(kept, report.command_id, LinkChange.UNCHANGED)
        if flight.action is Action.CANCEL_PENDING and status is ExecutionStatus.CANCELLED:
            gone = replace(link, state=LinkState.CLOSED, remaining_volume=_ZERO, in_flight=None)
            applied = self._settle(gone, report.command_id, LinkChange.CLOSED)
            return applied.book._settle(gone, link.open_command_id, LinkChange.CLOSED)
        if flight.action is Action.CLOSE and status is ExecutionStatus.CLOSED:
            closed = report.volume if report.volume else flight.volume
            remaining = max(_ZERO, link.remaining_volume - closed)
            if remaining <= _ZERO:
                gone = replace(link, state=LinkState.CLOSED, remaining_volume=_ZERO, in_flight=None)
                return self._settle(gone, report.command_id, LinkChange.CLOSED)
            ticket = report.new_ticket if report.new_ticket is not None else link.follower_ticket
            reduced = replace(
                link, remaining_volume=remaining, follower_ticket=ticket, in_flight=None
            )
            return self._settle(reduced, report.command_id, LinkChange.REDUCED)
        return ReportApplied(self, link, LinkChange.IGNORED)

    def _pending_update(self, link: TicketLink, report: ExecutionReportPayload) -> ReportApplied:
        if report.status is ExecutionStatus.FILLED:
            volume = report.volume if report.volume else link.remaining_volume
            ticket = report.ticket if report.ticket is not None else link.follower_ticket
            filled = replace(
                link,
                kind=LinkKind.POSITION,
                order_type=OrderType.MARKET,
                follower_ticket=ticket,
                opened_volume=volume,
                remaining_volume=volume,
            )
            return self._settle(filled, report.command_id, LinkChange.FILLED_AT_BROKER)
        if report.status in (ExecutionStatus.EXPIRED, ExecutionStatus.CANCELLED):
            gone = replace(link, state=LinkState.CLOSED, remaining_volume=_ZERO)
            return self._settle(gone, report.command_id, LinkChange.CLOSED)
        return ReportApplied(self, link, LinkChange.IGNORED)

    def _modified(self, link: TicketLink, report: ExecutionReportPayload) -> ReportApplied:
        if report.status is ExecutionStatus.MODIFIED:
            return self._settle(link, report.command_id, LinkChange.MODIFIED)
        if report.status in _FAILURES:
            return self._settle(link, report.command_id, LinkChange.UNCHANGED)
        return ReportApplied(self, link, LinkChange.IGNORED)
