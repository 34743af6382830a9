"""SyncSnapshots sent in parts, on the pure core: which effect a part asks for, how a
complete set becomes the one snapshot the copier sees, what an invalid set gives."""

from __future__ import annotations

import itertools
import random
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.protocol import BufferSnapshotPart, PublishEaEvent, SessionProtocol, assemble_snapshot
from schemas import EnvelopeError, InitAck, Role, SessionState, SyncSnapshot, parse_client_envelope
from schemas.messages import MAX_SNAPSHOT_PARTS

NOW = 1_763_800_000_000


def position(ticket: int) -> dict[str, Any]:
    return {
        "ticket": ticket,
        "symbol": "EURUSD",
        "side": "buy",
        "volume": "0.1",
        "open_price": "1.08123",
    }


def order(ticket: int) -> dict[str, Any]:
    return {
        "ticket": ticket,
        "symbol": "GBPUSD",
        "side": "sell",
        "order_type": "limit",
        "volume": "0.2",
        "price": "1.27",
    }


def snapshot(env_id: str, **payload: Any) -> dict[str, Any]:
    body = {"positions": [], "orders": [], **payload}
    return {"type": "SyncSnapshot", "id": env_id, "ts": NOW, "payload": body}


def split(
    positions: list[dict[str, Any]], orders: list[dict[str, Any]], cuts: list[list[int]]
) -> list[bytes]:
    """The snapshot in len(cuts) parts; cuts[i] = [positions in part i, orders in part i]."""
    parts, p, o = [], 0, 0
    for n, (np, no) in enumerate(cuts, start=1):
        extra = {"balance": "1000", "equity": "990", "request_id": "rq-1"}
        part = snapshot(
            f"e-{n}",
            positions=positions[p : p + np],
            orders=orders[o : o + no],
            snapshot_id="snap-1",
            part=n,
            parts=len(cuts),
            **extra,
        )
        parts.append(orjson.dumps(part))
        p, o = p + np, o + no
    return parts


def make_session() -> SessionProtocol:
    counter = itertools.count(1)
    return SessionProtocol(
        session_id="s-1",
        account_id="demo-1",
        state=SessionState.AUTHENTICATED,
        role=Role.MASTER,
        heartbeat_interval_s=1,
        heartbeat_timeout_s=3,
        last_heartbeat_ms=NOW,
        new_id=lambda: f"srv-{next(counter)}",
    )


# ---- the protocol core -----------------------------------------------------------------


def test_a_whole_snapshot_goes_to_the_copier_as_before() -> None:
    effects = make_session().receive_frame(orjson.dumps(snapshot("s-1")), NOW)
    assert [type(e) for e in effects] == [PublishEaEvent]


def test_a_part_is_buffered_not_published() -> None:
    frame = snapshot("e-2", positions=[position(7)], snapshot_id="snap-1", part=2, parts=3)
    (effect,) = make_session().receive_frame(orjson.dumps(frame), NOW)
    assert isinstance(effect, BufferSnapshotPart)
    assert (effect.snapshot_id, effect.part, effect.parts) == ("snap-1", 2, 3)
    assert parse_client_envelope(effect.body).payload == parse_client_envelope(frame).payload


@pytest.mark.parametrize(
    "fields",
    [
        {"snapshot_id": "snap-1"},
        {"part": 1, "parts": 2},
        {"snapshot_id": "snap-1", "part": 3, "parts": 2},
        {"snapshot_id": "snap-1", "part": 0, "parts": 2},
        {"snapshot_id": "snap-1", "part": 1, "parts": MAX_SNAPSHOT_PARTS + 1},
        {"snapshot_id": "", "part": 1, "parts": 1},
    ],
    ids=["id-only", "no-id", "part-past-parts", "part-zero", "too-many-parts", "empty-id"],
)
def test_inconsistent_part_fields_are_refused_like_any_invalid_message(
    fields: dict[str, Any],
) -> None:
    session = make_session()
    effects = session.receive_frame(orjson.dumps(snapshot("e-1", **fields)), NOW)
    assert [e.envelope.payload.code for e in effects] == ["validation_error"]  # type: ignore[union-attr]


def test_init_ack_announces_how_many_parts_the_gateway_assembles() -> None:
    ack = make_session().init_ack(NOW)
    assert isinstance(ack, InitAck) and ack.payload.max_snapshot_parts == MAX_SNAPSHOT_PARTS


# ---- assembly --------------------------------------------------------------------------


def test_the_assembled_snapshot_is_the_whole_snapshot_named_after_its_first_part() -> None:
    positions, orders = [position(t) for t in range(1, 6)], [order(t) for t in range(10, 13)]
    bodies = split(positions, orders, [[3, 0], [2, 1], [0, 2]])

    whole = parse_client_envelope(assemble_snapshot(bodies))

    assert isinstance(whole, SyncSnapshot) and (whole.id, whole.ts) == ("e-1", NOW)
    expected = parse_client_envelope(
        snapshot("x", positions=positions, orders=orders, balance="1000", equity="990")
    ).payload.model_copy(update={"request_id": "rq-1"})
    assert whole.payload == expected
    assert not whole.payload.is_part


@given(
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=8),
    st.randoms(use_true_random=False),
)
def test_any_split_in_any_arrival_order_assembles_to_the_same_snapshot(
    cuts: list[tuple[int, int]], rnd: random.Random
) -> None:
    positions = [position(t) for t in range(sum(c[0] for c in cuts))]
    orders = [order(1000 + t) for t in range(sum(c[1] for c in cuts))]
    bodies = split(positions, orders, [list(c) for c in cuts])
    shuffled = bodies[:]
    rnd.shuffle(shuffled)

    whole = parse_client_envelope(assemble_snapshot(shuffled)).payload

    assert [p.ticket for p in whole.positions] == [p["ticket"] for p in positions]  # type: ignore[union-attr]
    assert [o.ticket for o in whole.orders] == [o["ticket"] for o in orders]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "broken",
    ["missing-part", "two-snapshots", "whole-snapshot", "parts-disagree"],
)
def test_a_set_that_is_not_parts_1_to_n_of_one_snapshot_is_refused(broken: str) -> None:
    bodies = split([position(1), position(2)], [], [[1, 0], [1, 0], [0, 0]])
    match broken:
        case "missing-part":
            bodies = bodies[:2]
        case "two-snapshots":
            other = orjson.loads(bodies[2])
            other["payload"]["snapshot_id"] = "snap-2"
            bodies[2] = orjson.dumps(other)
        case "whole-snapshot":
            bodies[2] = orjson.dumps(snapshot("e-3"))
        case "parts-disagree":
            other = orjson.loads(bodies[2])
            other["payload"]["parts"] = 4
            bodies[2] = orjson.dumps(other)
    with pytest.raises(EnvelopeError) as caught:
        assemble_snapshot(bodies)
    assert caught.value.code == "validation_error"


def test_a_set_whose_whole_exceeds_the_snapshot_limits_is_refused() -> None:
    positions = [position(t) for t in range(5001)]
    bodies = split(positions, [], [[2500, 0], [2501, 0]])
    with pytest.raises(EnvelopeError) as caught:
        assemble_snapshot(bodies)
    assert caught.value.ref_id == "e-1"
