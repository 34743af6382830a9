"""Issue 13, item 7: an invalid message gets an ErrorAlert naming the fields, like REST."""

from __future__ import annotations

import orjson
import pytest

from gateway.protocol import Send
from schemas import ErrorAlert
from schemas.envelope import encode_envelope, parse_server_envelope
from tests.gateway.protocol.test_session_rules import INTENT, NOW, make_session


def _alert_for(payload: dict[str, object], *, via_object: bool) -> ErrorAlert:
    session = make_session()
    envelope = {**INTENT, "payload": payload}
    effects = (
        session.receive_object(envelope, NOW)
        if via_object
        else session.receive_frame(orjson.dumps(envelope), NOW)
    )
    (alert,) = [e.envelope for e in effects if isinstance(e, Send)]
    assert isinstance(alert, ErrorAlert)
    return alert


@pytest.mark.parametrize("via_object", [False, True], ids=["websocket", "poll"])
def test_invalid_order_intent_gets_an_alert_with_each_failing_field(via_object: bool) -> None:
    bad = {**INTENT["payload"], "volume": -1, "side": "sideways"}  # type: ignore[dict-item]
    del bad["symbol"]
    alert = _alert_for(bad, via_object=via_object)
    assert alert.payload.code == "validation_error"
    assert alert.payload.ref_id == "i-1"
    details = alert.payload.details
    assert details is not None
    by_field = {tuple(d.loc): d.msg for d in details}
    assert set(by_field) >= {
        ("payload", "volume"),
        ("payload", "side"),
        ("payload", "symbol"),
    }
    assert all(msg for msg in by_field.values())


def test_alert_details_are_bounded_and_travel_on_the_wire() -> None:
    bad = {"symbol": "x" * 500, "volume": "nan", **{f"f{i}": i for i in range(200)}}
    alert = _alert_for(bad, via_object=True)
    assert alert.payload.details is not None
    assert 0 < len(alert.payload.details) <= 20
    again = parse_server_envelope(encode_envelope(alert))
    assert again == alert
