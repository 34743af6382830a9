"""Envelopes parse into the discriminated union, round-trip, and keep decimals exact."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import (
    EnvelopeError,
    ErrorCode,
    OrderCommand,
    OrderIntent,
    SyncSnapshot,
    SyncSnapshotRequest,
    encode_envelope,
    parse_client_envelope,
    parse_server_envelope,
)
from schemas.messages import OrderCommandPayload

NOW = 1_763_800_000_123


def intent(**payload: object) -> dict[str, object]:
    base: dict[str, object] = {
        "action": "open",
        "ticket": 7,
        "symbol": "EURUSD",
        "side": "buy",
        "order_type": "market",
        "volume": 0.1,
        "price": 1.08123,
    }
    return {"type": "OrderIntent", "id": "m-1", "ts": NOW, "payload": base | payload}


def test_client_envelope_parses_into_its_concrete_type() -> None:
    parsed = parse_client_envelope(orjson.dumps(intent()))
    assert isinstance(parsed, OrderIntent)
    assert parsed.payload.volume == Decimal("0.1")


def test_sync_snapshot_is_a_report_inbound_and_a_request_outbound() -> None:
    inbound = {
        "type": "SyncSnapshot",
        "id": "s",
        "ts": NOW,
        "payload": {"positions": [], "orders": []},
    }
    outbound = {
        "type": "SyncSnapshot",
        "id": "s",
        "ts": NOW,
        "seq": 4,
        "payload": {"request_id": "r-1"},
    }
    assert isinstance(parse_client_envelope(orjson.dumps(inbound)), SyncSnapshot)
    assert isinstance(parse_server_envelope(orjson.dumps(outbound)), SyncSnapshotRequest)


def test_extra_optional_fields_are_accepted() -> None:
    parsed = parse_client_envelope(orjson.dumps({**intent(spread=3), "trace": "x"}))
    assert isinstance(parsed, OrderIntent)


@pytest.mark.parametrize("volume", [0, -0.1, "abc", None])
def test_non_positive_or_non_numeric_volume_is_refused(volume: object) -> None:
    with pytest.raises(EnvelopeError) as err:
        parse_client_envelope(orjson.dumps(intent(volume=volume)))
    assert err.value.code is ErrorCode.VALIDATION_ERROR
    assert err.value.ref_id == "m-1"
    assert err.value.details[0]["loc"][-1] == "volume"


def test_more_than_fifteen_significant_digits_is_refused_rather_than_rounded() -> None:
    with pytest.raises(EnvelopeError):
        parse_client_envelope(
            b'{"type":"OrderIntent","id":"x","ts":1,"payload":{"action":"open",'
            b'"ticket":1,"symbol":"X","side":"buy","order_type":"market",'
            b'"volume":0.1234567890123456,"price":1}}'
        )


def test_order_command_for_existing_order_requires_the_follower_ticket() -> None:
    with pytest.raises(ValueError, match="ticket is required"):
        OrderCommandPayload(
            command_id="c",
            action="close",
            symbol="EURUSD",
            side="buy",
            order_type="market",
            volume=Decimal("0.1"),
            master_ticket=1,
        )


def open_command(volume: Decimal, price: Decimal, seq: int | None = None) -> OrderCommand:
    payload = OrderCommandPayload(
        command_id="c-1",
        action="open",
        symbol="EURUSD",
        side="sell",
        order_type="market",
        volume=volume,
        master_ticket=7,
        price=price,
    )
    return OrderCommand(id="c-1", ts=NOW, seq=seq, payload=payload)


def test_encoded_envelope_omits_absent_fields_and_emits_numbers() -> None:
    command = open_command(Decimal("0.30"), Decimal("1.10000"), seq=5)
    body = orjson.loads(encode_envelope(command))
    assert body["seq"] == 5
    assert body["payload"]["volume"] == 0.3
    assert body["payload"]["price"] == 1.1
    assert "sl" not in body["payload"]


def test_an_envelope_encoded_without_its_seq_is_the_same_json_minus_the_seq() -> None:
    command = open_command(Decimal("0.30"), Decimal("1.10000"), seq=5)
    without = orjson.loads(encode_envelope(command, exclude_seq=True))
    full = orjson.loads(encode_envelope(command))
    assert without == {key: value for key, value in full.items() if key != "seq"}
    assert command.seq == 5  # the model itself is left as it was


_decimals = st.decimals(
    min_value=Decimal("0.00001"),
    max_value=Decimal("100000"),
    places=5,
    allow_nan=False,
    allow_infinity=False,
)


@given(volume=_decimals, price=_decimals)
def test_decimals_survive_the_json_round_trip_exactly(volume: Decimal, price: Decimal) -> None:
    original = parse_client_envelope(orjson.dumps(intent()))
    assert isinstance(original, OrderIntent)
    changed = original.model_copy(
        update={"payload": original.payload.model_copy(update={"volume": volume, "price": price})}
    )
    again = parse_client_envelope(encode_envelope(changed))
    assert isinstance(again, OrderIntent)
    assert again.payload.volume == volume
    assert again.payload.price == price


_wire_decimals = st.builds(
    lambda digits, exponent: Decimal(digits).scaleb(exponent),
    st.integers(min_value=1, max_value=10**15 - 1).map(str),
    st.integers(min_value=-20, max_value=5),
)


def _number_text(body: bytes, key: str) -> str:
    start = body.index(f'"{key}":'.encode()) + len(key) + 3
    end = min(i for i in (body.find(b",", start), body.find(b"}", start)) if i >= 0)
    return body[start:end].decode()


@given(volume=_wire_decimals, price=_wire_decimals)
def test_encoder_writes_prices_and_volumes_without_exponent(
    volume: Decimal, price: Decimal
) -> None:
    body = encode_envelope(open_command(volume, price))
    for key, value in (("volume", volume), ("price", price)):
        text = _number_text(body, key)
        assert "e" not in text.lower()
        assert Decimal(text) == value
    again = parse_server_envelope(body)
    assert isinstance(again, OrderCommand)
    assert (again.payload.volume, again.payload.price) == (volume, price)
