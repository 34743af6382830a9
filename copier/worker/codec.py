"""JSON forms of the worker's value objects (what is stored in Redis). Pure.

Decimals are stored as strings (never floats), enums as their values. Every
``decode_*`` accepts exactly what the matching ``encode_*`` produced.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from copier.core import CircuitBreaker, InFlight, LinkBook, MasterSignal, TicketLink
from copier.core.links import LinkKind, LinkState
from copier.worker.state import CopyRecord, FollowerRecord, MasterBook
from schemas.codes import Action, OrderType, Side
from schemas.messages import OrderIntentPayload, PendingOrder, Position

__all__ = [
    "decode_copy",
    "decode_follower",
    "decode_master_book",
    "dumps",
    "encode_copy",
    "encode_follower",
    "encode_master_book",
]


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def dumps(value: Any) -> bytes:
    """Compact JSON with Decimals as strings."""
    return orjson.dumps(value, default=_default)


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _link_json(link: TicketLink) -> dict[str, Any]:
    flight = link.in_flight
    return {
        "m": link.master_account_id,
        "root": link.root_ticket,
        "mt": link.master_ticket,
        "mv": link.master_volume,
        "kind": link.kind.value,
        "state": link.state.value,
        "symbol": link.symbol,
        "side": link.side.value,
        "type": link.order_type.value,
        "open": link.open_command_id,
        "rem": link.remaining_volume,
        "step": link.lot_step,
        "min": link.min_lot,
        "ft": link.follower_ticket,
        "ov": link.opened_volume,
        "fl": None if flight is None else [flight.command_id, flight.action.value, flight.volume],
        "ids": list(link.intent_ids),
        "err": link.error,
        "fp": link.from_pending,
    }


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


def _book_json(book: LinkBook) -> dict[str, Any]:
    return {
        "links": [_link_json(link) for _key, link in sorted(book.links.items())],
        "aliases": [[m, t, root] for (m, t), root in sorted(book.aliases.items())],
        "commands": [[cmd, m, root] for cmd, (m, root) in sorted(book.commands.items())],
    }


def _book(data: dict[str, Any]) -> LinkBook:
    links = {link.key: link for link in map(_link, data["links"])}
    aliases = {(m, t): root for m, t, root in data["aliases"]}
    commands = {cmd: (m, root) for cmd, m, root in data["commands"]}
    return LinkBook(links=links, aliases=aliases, commands=commands)


def _signal_json(signal: MasterSignal) -> dict[str, Any]:
    return {
        "m": signal.master_account_id,
        "id": signal.intent_id,
        "intent": signal.intent.model_dump(mode="json", exclude_none=True),
        "at": signal.received_ms,
        "eq": signal.master_equity,
    }


def _signal(data: dict[str, Any]) -> MasterSignal:
    return MasterSignal(
        master_account_id=data["m"],
        intent_id=data["id"],
        intent=OrderIntentPayload.model_validate(data["intent"]),
        received_ms=data["at"],
        master_equity=_dec(data["eq"]),
    )


def encode_follower(record: FollowerRecord) -> bytes:
    """The ``state`` field of a follower's hash (everything but the version)."""
    breaker = record.breaker
    return dumps(
        {
            "links": _book_json(record.links),
            "breaker": [breaker.failures, breaker.opened_at_ms, breaker.trial_in_flight],
            "peak": record.peak,
            "recent": {m: list(times) for m, times in sorted(record.recent.items())},
            "parked": [
                [m, root, [_signal_json(s) for s in signals]]
                for (m, root), signals in sorted(record.parked.items())
            ],
        }
    )


def decode_follower(
    account_id: str, version: int, state: bytes | None, breaker: CircuitBreaker
) -> FollowerRecord:
    """A follower's record from its hash; `breaker` carries the configured thresholds."""
    if not state:
        return FollowerRecord(account_id, version, breaker=breaker)
    data = orjson.loads(state)
    failures, opened_at, trial = data["breaker"]
    return FollowerRecord(
        account_id=account_id,
        version=version,
        links=_book(data["links"]),
        breaker=CircuitBreaker(
            threshold=breaker.threshold,
            cooldown_ms=breaker.cooldown_ms,
            failures=failures,
            opened_at_ms=opened_at,
            trial_in_flight=trial,
        ),
        peak=_dec(data["peak"]),
        recent={m: tuple(times) for m, times in data["recent"].items()},
        parked={(m, root): tuple(map(_signal, items)) for m, root, items in data["parked"]},
    )


_COPY_DECIMALS = ("requested_volume", "requested_price", "filled_volume", "filled_price")


def encode_copy(record: CopyRecord) -> bytes:
    """A copy record as stored in the follower's ``copies`` hash."""
    data = {name: getattr(record, name) for name in CopyRecord.__dataclass_fields__}
    data["action"] = record.action.value
    data["command"] = None if record.command is None else dict(record.command)
    return dumps(data)


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
    )
