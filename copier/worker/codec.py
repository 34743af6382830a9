"""Stored forms of the worker's records: follower hashes, copy records, master books. Pure.

Decimals are stored as strings (never floats), enums as their values. Every
``decode_*`` accepts exactly what the matching ``encode_*`` produced.

A follower record is a Redis hash: ``v`` (version), ``e`` (epoch: a token set
when the record is created, so a deleted and re-created record never repeats a
(version, epoch) pair), ``s`` (everything but the links) and one ``l:<master>:<root>``
field per ticket link. A commit writes ``s`` and only the links that changed
(`encode_changes`), so its cost does not grow with the size of the link book.
A link field's value is `link_codec`'s, a parked intent's `signal_codec`'s; the
JSON text itself is `stored_json`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import orjson

from copier.core import CircuitBreaker, LinkBook, MasterSignal
from copier.core.link_changes import changed_keys
from copier.core.links import LinkKey
from copier.worker.link_codec import decode_link, encode_link
from copier.worker.signal_codec import decode_signal, decode_signals, encode_signal
from copier.worker.state import CopyRecord, FollowerRecord, MasterBook
from copier.worker.stored_json import (
    ID_SLOT,
    dumps,
    optional_decimal,
    plain_json_text,
    split_at_id_slot,
)
from schemas.codes import Action
from schemas.messages import PendingOrder, Position

# ID_SLOT, plain_json_text, split_at_id_slot (stored_json) and decode_signals
# (signal_codec) stay importable from here: draft.py and pump.py import them so.
__all__ = [
    "ID_SLOT",
    "LINK_FIELD_PREFIX",
    "STATE_FIELD",
    "FieldChanges",
    "decode_copy",
    "decode_follower",
    "decode_master_book",
    "decode_signals",
    "encode_changes",
    "encode_copy",
    "encode_follower",
    "encode_master_book",
    "encode_state",
    "link_field",
    "parked_field",
    "plain_json_text",
    "split_at_id_slot",
]


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


def encode_parked(key: LinkKey, signals: tuple[MasterSignal, ...]) -> bytes:
    """One parked field's value: ``[master, root, [signal, ...]]``."""
    head = dumps([key[0], key[1]])[:-1]
    return head + b",[" + b",".join(encode_signal(s) for s in signals) + b"]]"


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
    held under its key (an equal copy is merely written again). Books read from
    the store are compared only at the keys put since (`copier.core.link_changes`),
    not link by link.
    """
    old = before.links.links
    new = after.links.links
    keys = changed_keys(before.links, after.links)
    if keys is None:  # not read from the store: compare the whole book
        put = tuple(
            (link_field(key), encode_link(link))
            for key, link in new.items()
            if old.get(key) is not link
        )
        drop = tuple(link_field(key) for key in old if key not in new)
    else:  # only the keys either book put since it was read can differ
        ordered = sorted(keys)
        put = tuple(
            (link_field(key), encode_link(new[key]))
            for key in ordered
            if key in new and old.get(key) is not new[key]
        )
        drop = tuple(link_field(key) for key in ordered if key in old and key not in new)
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
    parked = {(m, root): tuple(map(decode_signal, items)) for m, root, items in data["parked"]}
    for name, raw in fields.items():
        if name.startswith(_LINK_PREFIX):
            link = decode_link(orjson.loads(raw))
            links[link.key] = link
        elif name.startswith(_PARKED_PREFIX):
            m, root, items = orjson.loads(raw)
            parked[(m, root)] = tuple(map(decode_signal, items))
    book = LinkBook(
        links=links,
        aliases={(m, t): root for m, t, root in data["aliases"]},
        commands={cmd: (m, root) for cmd, (m, root) in data["commands"].items()},
    ).as_read()
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
        peak=optional_decimal(data["peak"]),
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
        data[name] = optional_decimal(data[name])
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
