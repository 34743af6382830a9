"""Issue 13, item 7, on the wire: an invalid OrderIntent gets an ErrorAlert naming the
failing fields, over a real WebSocket and over poll, as a REST 422 would."""

from __future__ import annotations

import contextlib
import json

from gateway.app import create_app
from tests.e2e.harness import ADMIN_TOKEN
from tests.gateway.inprocess import Api, rules_settings
from tests.gateway.served import initialised_eas, served_in_this_loop

BAD_INTENT = {
    "type": "OrderIntent",
    "id": "bad-1",
    "ts": 1,
    "payload": {
        "action": "open",
        "ticket": 1,
        "side": "up",
        "order_type": "market",
        "volume": -1,
        "price": 1.1,
    },
}
FIELDS = {("payload", "symbol"), ("payload", "side"), ("payload", "volume")}


def failing_fields(alert: dict[str, object]) -> set[tuple[str, ...]]:
    payload = alert["payload"]
    assert isinstance(payload, dict)
    assert payload["code"] == "validation_error" and payload["ref_id"] == "bad-1"
    return {tuple(d["loc"]) for d in payload["details"]}


async def test_invalid_intent_over_websocket_gets_the_failing_fields() -> None:
    async with contextlib.AsyncExitStack() as stack:
        base_url = await stack.enter_async_context(
            served_in_this_loop(create_app(rules_settings(admin_token=ADMIN_TOKEN)))
        )
        [(_ea, ws)] = await initialised_eas(stack, base_url, ["ws-master"])
        await ws.send(BAD_INTENT)
        assert failing_fields(await ws.recv_type("ErrorAlert")) >= FIELDS


async def test_invalid_intent_over_poll_gets_the_failing_fields(api: Api) -> None:
    session = await api.keyed_session("poll-master")
    response = await api.exchange(session, json.dumps({"messages": [BAD_INTENT]}).encode())
    [alert] = [m for m in response.json()["messages"] if m["type"] == "ErrorAlert"]
    assert failing_fields(alert) >= FIELDS
