"""The stored JSON of one ticket link (a follower record's ``l:<master>:<root>`` field). Pure.

Decimals are strings, enums their values; `decode_link` accepts exactly what
`encode_link` produced. The followers of one intent get new links that differ
only by their command id: such a link is serialised once per shape and its id
put into the two places it goes (`stored_json.ID_SLOT`).
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson

from copier.core import InFlight, TicketLink
from copier.core.links import LinkKind, LinkState
from copier.worker.stored_json import ID_SLOT, plain_json_text, split_at_id_slot
from schemas.codes import Action, OrderType, Side

__all__ = ["decode_link", "encode_link"]

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


@lru_cache(maxsize=256)
def _link_template(values: _LinkValues) -> list[bytes] | None:
    """A link's JSON split around its two command ids (opening and in flight)."""
    return split_at_id_slot(orjson.dumps(_json_of(values, ID_SLOT, ID_SLOT)))


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


def decode_link(data: dict[str, Any]) -> TicketLink:
    """The link of a parsed link field (the inverse of `encode_link`)."""
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
