"""Value objects of the worker: a follower's stored state, copy records, the master book.

All pure and immutable. `FollowerRecord` is what the worker loads for one
follower before planning and writes back (with a version check) after.
`CopyRecord` is the audit trail of one master intent on one follower.
`MasterBook` is what the copier believes a master holds, kept so that the
master's SyncSnapshot can reveal closes it could not report while offline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from copier.core import CircuitBreaker, LinkBook, MasterSignal
from copier.core.links import LinkKey
from copier.core.values import value
from schemas.codes import Action, OrderType
from schemas.messages import OrderIntentPayload, PendingOrder, Position

__all__ = [
    "DELIVERY_CHECK_SESSION",
    "RECENT_WINDOW_MS",
    "SIGNAL_EXPIRED",
    "CopyRecord",
    "CopyStatus",
    "FollowerRecord",
    "MasterBook",
    "apply_master_intent",
]

#: How long recent order times are kept (the rate guard's window is 60 s).
RECENT_WINDOW_MS = 60_000

#: How many applied intent ids the master book remembers (duplicate detection).
MAX_MASTER_INTENT_IDS = 256


class CopyStatus:
    """Values of `CopyRecord.status` besides the ExecutionReport statuses."""

    QUEUED = "queued"  # command written to the outbox / delivery log
    SKIPPED = "skipped"  # not copied; `reason` says why
    WAITING = "waiting"  # parked until the link's pending report arrives
    RETRYING = "retrying"  # rejected with a transient error; a retry is scheduled
    NOT_DELIVERED = "not_delivered"  # the delivery log refused it (full)


#: `session_id` of the ExecutionReports the gateway's delivery check writes to the EA
#: event stream for opens it did not send (expired); no EA session has this id.
DELIVERY_CHECK_SESSION = "gateway:delivery-check"
#: `CopyRecord.reason` of a copy whose open expired before it could be sent.
SIGNAL_EXPIRED = "signal_expired"


@value
class FollowerRecord:
    """A follower's copier state as stored (one Redis hash, versioned)."""

    account_id: str  # the follower account
    version: int = 0  # commit counter; a write succeeds only against the version it read
    links: LinkBook = field(default_factory=LinkBook)  # ticket links across masters
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)  # per-follower breaker
    peak: Decimal | None = None  # equity high-water mark
    recent: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # master -> order times
    parked: Mapping[LinkKey, tuple[MasterSignal, ...]] = field(
        default_factory=dict
    )  # intents waiting for a link, in arrival order
    #: decoded from a record that kept its parked intents inside the state field (written
    #: before they got a hash field per link): its next commit writes them all as fields
    parked_in_state: bool = False
    #: the EA's time (`executed_at_ms`) of the newest ExecutionReport applied, or of the
    #: newest SyncSnapshot reconciled: a follower snapshot taken before it is out of
    #: date and reconciles nothing (it would mark links opened after it as gone)
    as_of_ms: int = 0

    def recent_for(self, master_id: str, now_ms: int) -> tuple[int, ...]:
        """This subscription's order times inside the rate window."""
        return tuple(t for t in self.recent.get(master_id, ()) if t > now_ms - RECENT_WINDOW_MS)

    def with_order(self, master_id: str, now_ms: int) -> FollowerRecord:
        """This record with one more new order at `now_ms`."""
        times = (*self.recent_for(master_id, now_ms), now_ms)
        return replace(self, recent={**self.recent, master_id: times})

    def with_version(self, version: int) -> FollowerRecord:
        """This record as stored under `version` (cheaper than `replace` on the commit path);
        its link book as read (`LinkBook.as_read`)."""
        return FollowerRecord(
            self.account_id,
            version,
            self.links.as_read(),
            self.breaker,
            self.peak,
            self.recent,
            self.parked,
            as_of_ms=self.as_of_ms,
        )

    def with_links(
        self,
        links: LinkBook,
        *,
        recent: Mapping[str, tuple[int, ...]] | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> FollowerRecord:
        """This record with another link book (and order times and breaker, if given).

        The same as `replace`, built directly: this runs once per planned follower.
        """
        return FollowerRecord(
            self.account_id,
            self.version,
            links,
            self.breaker if breaker is None else breaker,
            self.peak,
            self.recent if recent is None else recent,
            self.parked,
            as_of_ms=self.as_of_ms,
        )

    def parked_for(self, key: LinkKey) -> tuple[MasterSignal, ...]:
        """Intents parked on one link."""
        return self.parked.get(key, ())

    def with_parked(self, key: LinkKey, signals: tuple[MasterSignal, ...]) -> FollowerRecord:
        """This record with the parked intents of one link replaced (empty = removed)."""
        parked = {k: v for k, v in self.parked.items() if k != key}
        if signals:
            parked[key] = signals
        return replace(self, parked=parked)


@value(slots=False)  # encoded once per command: orjson is faster on a __dict__
class CopyRecord:
    """What happened to one master intent on one follower."""

    command_id: str  # base command id (derived from master, intent, follower): the key
    master_id: str  # the master account
    intent_id: str  # the master's intent id (or a synthetic reconcile id)
    action: Action  # the master's action
    master_ticket: int  # the master's ticket
    symbol: str  # the master's symbol
    status: str  # CopyStatus value or ExecutionReport status
    intent_received_ms: int  # when the gateway received the intent
    decided_ms: int  # when the copier last decided about it
    reason: str | None = None  # skip reason / give-up reason / error
    message: str | None = None  # human readable detail
    follower_ticket: int | None = None  # the follower's ticket, once reported
    requested_volume: Decimal | None = None  # lots the command asked for
    requested_price: Decimal | None = None  # the master's price carried by the command
    filled_volume: Decimal | None = None  # lots the follower reported
    filled_price: Decimal | None = None  # price the follower reported
    current_command_id: str | None = None  # id of the latest attempt (retries add ``.rN``)
    attempts: int = 0  # commands sent for this intent (1 + retries)
    reported_ms: int | None = None  # when the latest ExecutionReport was processed
    command: Mapping[str, object] | None = None  # the OrderCommand payload (JSON form)
    trace_parent: str | None = None  # W3C traceparent of the intent's copier span


@dataclass(frozen=True, slots=True)
class MasterBook:
    """A master's positions and pending orders as the copier knows them."""

    positions: Mapping[int, Position] = field(default_factory=dict)  # ticket -> position
    orders: Mapping[int, PendingOrder] = field(default_factory=dict)  # ticket -> pending order
    applied: tuple[str, ...] = ()  # recently applied intent ids (newest last)
    #: the EA's time (envelope `ts`) of the newest intent or snapshot the book reflects:
    #: a SyncSnapshot taken before it is out of date and reconciles nothing
    as_of_ms: int = 0


def _position(intent: OrderIntentPayload, **overrides: object) -> Position:
    fields: dict[str, object] = {
        "ticket": intent.ticket,
        "symbol": intent.symbol,
        "side": intent.side,
        "volume": intent.volume,
        "open_price": intent.price,
        "sl": intent.sl,
        "tp": intent.tp,
        "magic": intent.magic,
        "comment": intent.comment,
    }
    fields.update(overrides)
    return Position.model_validate(fields)


def _close(book: MasterBook, intent: OrderIntentPayload) -> MasterBook:
    positions = dict(book.positions)
    orders = dict(book.orders)
    if intent.ticket in orders:
        del orders[intent.ticket]
        return replace(book, orders=orders)
    held = positions.pop(intent.ticket, None)
    if held is not None and intent.volume < held.volume:
        ticket = intent.new_ticket if intent.new_ticket is not None else held.ticket
        positions[ticket] = held.model_copy(
            update={"ticket": ticket, "volume": held.volume - intent.volume}
        )
    return replace(book, positions=positions)


def apply_master_intent(
    book: MasterBook, intent_id: str, intent: OrderIntentPayload, sent_ms: int = 0
) -> MasterBook:
    """The master book after one of the master's intents (idempotent by intent id).

    Args:
        book: the book before.
        intent_id: the intent's id (a repeated id changes nothing).
        intent: what the master did.
        sent_ms: the intent envelope's `ts` (the EA's clock), for `as_of_ms`.

    Returns:
        The book after.
    """
    if intent_id in book.applied:
        return book
    positions, orders = dict(book.positions), dict(book.orders)
    action = intent.action
    if action is Action.OPEN:
        orders.pop(intent.ticket, None)
        positions[intent.ticket] = _position(intent)
        book = replace(book, positions=positions, orders=orders)
    elif action is Action.PLACE_PENDING:
        orders[intent.ticket] = PendingOrder.model_validate(
            {
                **_position(intent).model_dump(),
                "order_type": intent.order_type,
                "price": intent.price,
            }
        )
        book = replace(book, orders=orders)
    elif action is Action.MODIFY:
        if intent.ticket in positions:
            held = positions[intent.ticket]
            positions[intent.ticket] = held.model_copy(update={"sl": intent.sl, "tp": intent.tp})
        elif intent.ticket in orders:
            order = orders[intent.ticket]
            price = intent.price if intent.order_type is not OrderType.MARKET else order.price
            orders[intent.ticket] = order.model_copy(
                update={"sl": intent.sl, "tp": intent.tp, "price": price}
            )
        book = replace(book, positions=positions, orders=orders)
    else:  # close, cancel_pending
        book = _close(book, intent)
    return replace(
        book,
        applied=(*book.applied, intent_id)[-MAX_MASTER_INTENT_IDS:],
        as_of_ms=max(book.as_of_ms, sent_ms),
    )
