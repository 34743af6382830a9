"""JSON forms of the worker's value objects (what is stored in Redis). Pure.

Decimals are stored as strings (never floats), enums as their values. Every
``decode_*`` accepts exactly what the matching ``encode_*`` produced.

A follower record is a Redis hash: ``v`` (version), ``e`` (epoch: a token set
when the record is created, so a deleted and re-created record never repeats a
(version, epoch) pair), ``s`` (everything but the links) and one ``l:<master>:<root>``
field per ticket link. A commit writes ``s`` and only the links that changed
(`encode_changes`), so its cost does not grow with the size of the link book.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson

from copier.core import CircuitBreaker, InFlight, LinkBook, MasterSignal, TicketLink
from copier.core.links import LinkKey, LinkKind, LinkState
from copier.worker.state import CopyRecord, FollowerRecord, MasterBook
from schemas.codes import Action, OrderType, Side
from schemas.messages import OrderIntentPayload, PendingOrder, Position

__all__ = [
    "ID_SLOT",
    "LINK_FIELD_PREFIX",
    "STATE_FIELD",
    "FieldChanges",
    "decode_copy",
    "decode_follower",
    "decode_master_book",
    "decode_signals",
    "dumps",
    "encode_changes",
    "encode_copy",
    "encode_follower",
    "encode_link",
    "encode_master_book",
    "encode_signals",
    "encode_state",
    "link_field",
    "parked_field",
    "plain_json_text",
    "split_at_id_slot",
]


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):  # e.g. a read-only view of a copy record's command
        return dict(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def dumps(value: Any) -> bytes:
    """Compact JSON with Decimals as strings."""
    return orjson.dumps(value, default=_default)


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


_LinkValues = tuple[Any, ...]


def _link_values(link: TicketLink) -> _LinkValues:
    """Everything of a link but its command ids, hashable (Decimals as their text)."""
    flight = link.in_flight
    return (
        link.master_account_id,
        link.root_ticket,
        link.master_ticket,
        str(link.master_volume),
        link.kind,
        link.state,
        link.symbol,
        link.side,
        link.order_type,
        str(link.remaining_volume),
        str(link.lot_step),
        str(link.min_lot),
        link.follower_ticket,
        str(link.opened_volume),
        None if flight is None else (flight.action, str(flight.volume)),
        link.intent_ids,
        link.error,
        link.from_pending,
    )


def _json_of(values: _LinkValues, open_id: str, flight_id: str | None) -> dict[str, Any]:
    m, root, mt, mv, kind, state, symbol, side, order_type = values[:9]
    rem, step, min_lot, ft, ov, flight, ids, err, fp = values[9:]
    return {
        "m": m,
        "root": root,
        "mt": mt,
        "mv": mv,
        "kind": kind.value,
        "state": state.value,
        "symbol": symbol,
        "side": side.value,
        "type": order_type.value,
        "open": open_id,
        "rem": rem,
        "step": step,
        "min": min_lot,
        "ft": ft,
        "ov": ov,
        "fl": None if flight is None else [flight_id, flight[0].value, flight[1]],
        "ids": list(ids),
        "err": err,
        "fp": fp,
    }


def _link_json(link: TicketLink) -> dict[str, Any]:
    flight = link.in_flight
    flight_id = None if flight is None else flight.command_id
    return _json_of(_link_values(link), link.open_command_id, flight_id)


#: Stands for a command id in a JSON template: serialise with it in the id's two
#: places, split with `split_at_id_slot`, join the parts with the real id.
ID_SLOT = "cmd-id-slot-0000000000000000000000000000000000000000000000000000000000000000"


def split_at_id_slot(serialised: bytes) -> list[bytes] | None:
    """`serialised` split around its two `ID_SLOT`s; None when the slot text occurs elsewhere."""
    parts = serialised.split(ID_SLOT.encode())
    return parts if len(parts) == 3 else None


@lru_cache(maxsize=256)
def _link_template(values: _LinkValues) -> list[bytes] | None:
    """A link's JSON split around its two command ids (opening and in flight)."""
    return split_at_id_slot(orjson.dumps(_json_of(values, ID_SLOT, ID_SLOT)))


def plain_json_text(text: str) -> bool:
    """True when JSON writes `text` as it is (printable ASCII, no quote or backslash)."""
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def _link(data: dict[str, Any]) -> TicketLink:
    flight = data["fl"]
    return TicketLink(
        master_account_id=data["m"],
        root_ticket=data["root"],
        master_ticket=data["mt"],
        master_volume=Decimal(data["mv"]),
        kind=LinkKind(data["kind"]),
        state=LinkState(data["state"]),
        symbol=data["symbol"],
        side=Side(data["side"]),
        order_type=OrderType(data["type"]),
        open_command_id=data["open"],
        remaining_volume=Decimal(data["rem"]),
        lot_step=Decimal(data["step"]),
        min_lot=Decimal(data["min"]),
        follower_ticket=data["ft"],
        opened_volume=Decimal(data["ov"]),
        in_flight=None
        if flight is None
        else InFlight(flight[0], Action(flight[1]), Decimal(flight[2])),
        intent_ids=tuple(data["ids"]),
        error=data["err"],
        from_pending=data["fp"],
    )


def _signal_json(signal: MasterSignal) -> dict[str, Any]:
    return {
        "m": signal.master_account_id,
        "id": signal.intent_id,
        "intent": signal.intent.model_dump(mode="json", exclude_none=True),
        "at": signal.received_ms,
        "eq": signal.master_equity,
        "tp": signal.trace_parent,
    }


def _signal(data: dict[str, Any]) -> MasterSignal:
    return MasterSignal(
        master_account_id=data["m"],
        intent_id=data["id"],
        intent=OrderIntentPayload.model_validate(data["intent"]),
        received_ms=data["at"],
        master_equity=_dec(data["eq"]),
        trace_parent=data.get("tp"),
    )


#: The hash field of everything in a follower record but its links (and `v`, `e`).
STATE_FIELD = "s"

#: Prefix of the hash fields that hold one ticket link each.
LINK_FIELD_PREFIX = "l:"

#: Prefix of the hash fields that hold the intents parked on one link each.
PARKED_FIELD_PREFIX = "p:"

_STATE = STATE_FIELD.encode()
_LINK_PREFIX = LINK_FIELD_PREFIX.encode()
_PARKED_PREFIX = PARKED_FIELD_PREFIX.encode()


def parked_field(key: LinkKey) -> str:
    """The hash field of the intents parked on one link: ``p:<master account>:<root ticket>``."""
    return f"{PARKED_FIELD_PREFIX}{key[0]}:{key[1]}"


#: The last signal encoded and its JSON: one intent parks the same object on every follower.
_last_signal: list[tuple[MasterSignal, bytes]] = []


def _signal_bytes(signal: MasterSignal) -> bytes:
    if _last_signal and _last_signal[0][0] is signal:
        return _last_signal[0][1]
    encoded = dumps(_signal_json(signal))
    _last_signal[:] = [(signal, encoded)]
    return encoded


def encode_signals(signals: Sequence[MasterSignal]) -> bytes:
    """Master signals as a JSON list (a fan-out shard entry's body)."""
    return b"[" + b",".join(_signal_bytes(s) for s in signals) + b"]"


def decode_signals(raw: bytes) -> tuple[MasterSignal, ...]:
    """The inverse of `encode_signals`."""
    return tuple(map(_signal, orjson.loads(raw)))


def encode_parked(key: LinkKey, signals: tuple[MasterSignal, ...]) -> bytes:
    """One parked field's value: ``[master, root, [signal, ...]]``."""
    head = dumps([key[0], key[1]])[:-1]
    return head + b",[" + b",".join(_signal_bytes(s) for s in signals) + b"]]"


def link_field(key: LinkKey) -> str:
    """The hash field of one link: ``l:<master account>:<root ticket>``."""
    return f"{LINK_FIELD_PREFIX}{key[0]}:{key[1]}"


@dataclass(frozen=True, slots=True)
class FieldChanges:
    """What a commit writes into a follower's hash besides the version."""

    state: bytes  # the new ``s`` field
    put: tuple[tuple[str, bytes], ...]  # link fields written (new or changed links)
    drop: tuple[str, ...]  # link fields deleted (links no longer in the book)


def encode_state(record: FollowerRecord) -> bytes:
    """The ``s`` field: breaker, peak, recent orders, aliases, awaited commands.

    Parked intents have a field per link (`parked_field`), written only when
    they change: a follower with many closes parked behind unreported opens
    (an overloaded copier) does not re-encode all of them on every commit.
    """
    breaker = record.breaker
    book = record.links
    return dumps(
        {
            "breaker": [breaker.failures, breaker.opened_at_ms, breaker.trial_in_flight],
            "peak": record.peak,
            "recent": {m: list(times) for m, times in sorted(record.recent.items())},
            "parked": [],  # one field per link since (see `parked_field`)
            "aliases": [[m, t, root] for (m, t), root in sorted(book.aliases.items())],
            "commands": dict(book.commands),  # command id -> [master, root]
            "as_of_ms": record.as_of_ms,
        }
    )


def encode_link(link: TicketLink) -> bytes:
    """One link field's value.

    The followers of one intent get new links that differ only by their command
    id (the opening command, still in flight): such a link is serialised once
    per shape (memoised) and its id put into the two places it goes.
    """
    flight = link.in_flight
    command_id = link.open_command_id
    if flight is not None and flight.command_id == command_id and plain_json_text(command_id):
        parts = _link_template(_link_values(link))
        if parts is not None:
            return command_id.encode().join(parts)
    return orjson.dumps(_link_json(link))


def encode_follower(record: FollowerRecord) -> dict[bytes, bytes]:
    """Every field of a follower's hash but ``v`` and ``e`` (as HGETALL returns them)."""
    fields = {_STATE: encode_state(record)}
    for key, link in record.links.links.items():
        fields[link_field(key).encode()] = encode_link(link)
    for key, signals in record.parked.items():
        fields[parked_field(key).encode()] = encode_parked(key, signals)
    return fields


def encode_changes(before: FollowerRecord, after: FollowerRecord) -> FieldChanges:
    """The fields a commit of `after` over the stored `before` must write.

    Links are immutable and the link book keeps unchanged links as the same
    objects, so a link is written only when it is not the very object `before`
    held under its key (an equal copy is merely written again).
    """
    old = before.links.links
    new = after.links.links
    put = tuple(
        (link_field(key), encode_link(link))
        for key, link in new.items()
        if old.get(key) is not link
    )
    drop = tuple(link_field(key) for key in old if key not in new)
    was, now = ({} if before.parked_in_state else before.parked), after.parked
    put += tuple(
        (parked_field(key), encode_parked(key, signals))
        for key, signals in now.items()
        if was.get(key) is not signals
    )
    drop += tuple(parked_field(key) for key in before.parked if key not in now)
    return FieldChanges(encode_state(after), put, drop)


def decode_follower(
    account_id: str, version: int, fields: Mapping[bytes, bytes], breaker: CircuitBreaker
) -> FollowerRecord:
    """A follower's record from its hash fields; `breaker` carries the configured thresholds."""
    state = fields.get(_STATE)
    if not state:
        return FollowerRecord(account_id, version, breaker=breaker)
    data = orjson.loads(state)
    failures, opened_at, trial = data["breaker"]
    links = {}
    parked = {(m, root): tuple(map(_signal, items)) for m, root, items in data["parked"]}
    for name, raw in fields.items():
        if name.startswith(_LINK_PREFIX):
            link = _link(orjson.loads(raw))
            links[link.key] = link
        elif name.startswith(_PARKED_PREFIX):
            m, root, items = orjson.loads(raw)
            parked[(m, root)] = tuple(map(_signal, items))
    book = LinkBook(
        links=links,
        aliases={(m, t): root for m, t, root in data["aliases"]},
        commands={cmd: (m, root) for cmd, (m, root) in data["commands"].items()},
    )
    return FollowerRecord(
        account_id=account_id,
        version=version,
        links=book,
        breaker=CircuitBreaker(
            threshold=breaker.threshold,
            cooldown_ms=breaker.cooldown_ms,
            failures=failures,
            opened_at_ms=opened_at,
            trial_in_flight=trial,
        ),
        peak=_dec(data["peak"]),
        recent={m: tuple(times) for m, times in data["recent"].items()},
        parked=parked,
        parked_in_state=bool(data["parked"]),
        as_of_ms=int(data.get("as_of_ms", 0)),  # absent in records stored before it
    )


_COPY_DECIMALS = ("requested_volume", "requested_price", "filled_volume", "filled_price")


def encode_copy(record: CopyRecord) -> bytes:
    """A copy record as stored in the follower's ``copies`` hash."""
    # orjson writes a dataclass as an object of its fields in declaration order
    # (the action enum as its value): the same bytes as a dict of the fields.
    return dumps(record)


def decode_copy(raw: bytes) -> CopyRecord:
    """The inverse of `encode_copy`."""
    data = orjson.loads(raw)
    data["action"] = Action(data["action"])
    for name in _COPY_DECIMALS:
        data[name] = _dec(data[name])
    return CopyRecord(**data)


def encode_master_book(book: MasterBook) -> bytes:
    """A master book as stored."""
    return dumps(
        {
            "positions": [p.model_dump(mode="json") for _t, p in sorted(book.positions.items())],
            "orders": [o.model_dump(mode="json") for _t, o in sorted(book.orders.items())],
            "applied": list(book.applied),
            "as_of_ms": book.as_of_ms,
        }
    )


def decode_master_book(raw: bytes | None) -> MasterBook:
    """The inverse of `encode_master_book`; an empty book when nothing is stored."""
    if not raw:
        return MasterBook()
    data = orjson.loads(raw)
    positions = [Position.model_validate(p) for p in data["positions"]]
    orders = [PendingOrder.model_validate(o) for o in data["orders"]]
    return MasterBook(
        positions={p.ticket: p for p in positions},
        orders={o.ticket: o for o in orders},
        applied=tuple(data["applied"]),
        as_of_ms=int(data.get("as_of_ms", 0)),
    )
