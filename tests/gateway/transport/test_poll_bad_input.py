"""Poll messages no JSON encoder can re-encode are refused like any bad message, never 500.

Found by bench/fuzz_transports.py: a message nested 300 deep is valid JSON (the
body parser allows 1024 levels) but cannot be re-encoded (orjson stops at 255) to
measure its size; that raised inside the exchange and answered 500.
"""

from __future__ import annotations

import json

import pytest

from tests.gateway.inprocess import Api


@pytest.mark.parametrize("depth", [300, 1000])
async def test_poll_message_nested_too_deep_gets_an_alert_not_a_server_error(
    api: Api, depth: int
) -> None:
    session = await api.keyed_session("deep")
    nested = "[" * depth + "]" * depth
    heartbeat = '{"type":"StatusHeartbeat","id":"h","ts":1,"payload":{"ack_seq":0}}'
    response = await api.exchange(session, f'{{"messages":[{nested},{heartbeat}]}}'.encode())
    assert response.status_code == 200, response.text
    alerts = [m for m in response.json()["messages"] if m["type"] == "ErrorAlert"]
    assert [a["payload"]["code"] for a in alerts] == ["malformed_json"]
    assert json.dumps(alerts)  # the reply itself is plain JSON
