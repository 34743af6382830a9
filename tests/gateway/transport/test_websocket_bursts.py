"""Frames a WebSocket already received are applied together (the real app, served).

A master that sends intents faster than one Redis round trip each used to wait
for the gateway frame by frame: its later frames (its heartbeat among them) sat
in the socket. Now every frame already received is parsed, and the run of
intents is appended in one ordered round trip; each Receipt still follows its
append, and a refusal still ends the run with what went before it recorded.
"""

from __future__ import annotations

import contextlib
from typing import Any

from gateway.app import GatewayRuntime, create_app
from tests.e2e.harness import ADMIN_TOKEN
from tests.gateway.served import served_in_this_loop
from tests.gateway.test_intent_admission import (
    SOFT,
    behind,
    master_with_receipts,
    order_intent,
    recorded,
    settings,
)


class CountingSink:
    """The runtime's intent sink, counting the runs appended in one round trip."""

    def __init__(self, sink: Any) -> None:
        self._sink = sink
        self.runs: list[int] = []  #: items per `publish_in_order` call

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sink, name)

    async def publish_in_order(self, account_id: str, session_id: str, items: Any) -> Any:
        self.runs.append(len(items))
        return await self._sink.publish_in_order(account_id, session_id, items)


async def test_a_burst_of_intents_is_appended_in_one_round_trip_with_every_receipt_in_order() -> (
    None
):
    app = create_app(settings(admin_token=ADMIN_TOKEN))
    async with served_in_this_loop(app) as base_url, contextlib.AsyncExitStack() as stack:
        runtime: GatewayRuntime = app.state.runtime
        sink = CountingSink(runtime.store.intents)
        runtime.store.intents = sink  # type: ignore[assignment]
        ws = await master_with_receipts(stack, base_url, "m-burst")
        burst = [order_intent("open", ticket) for ticket in range(30)]
        for intent in burst:  # written before the server reads any of them
            await ws.send(intent)
        receipts = [(await ws.recv_type("Receipt"))["payload"]["ids"] for _ in burst]
        assert receipts == [[intent["id"]] for intent in burst]
        assert await recorded(runtime, "m-burst") == [intent["id"] for intent in burst]
        assert max(sink.runs, default=0) > 1  # not one round trip per intent
        assert sum(sink.runs) <= len(burst)


async def test_a_refusal_inside_a_burst_sends_the_receipts_of_what_went_before_it() -> None:
    app = create_app(settings(admin_token=ADMIN_TOKEN))
    async with served_in_this_loop(app) as base_url, contextlib.AsyncExitStack() as stack:
        runtime: GatewayRuntime = app.state.runtime
        ws = await master_with_receipts(stack, base_url, "m-refused")
        behind(runtime, "m-refused", SOFT)  # opens are refused, exits flow
        exits = [order_intent("close", ticket) for ticket in (1, 2)]
        refused, after = order_intent("open", 3), order_intent("close", 4)
        for intent in (*exits, refused, after):
            await ws.send(intent)
        for intent in exits:
            assert (await ws.recv_type("Receipt"))["payload"]["ids"] == [intent["id"]]
        alert = await ws.recv()
        assert (alert["type"], alert["payload"]["ref_id"]) == ("ErrorAlert", refused["id"])
        assert await ws.wait_closed() == 1008
        assert await recorded(runtime, "m-refused") == [intent["id"] for intent in exits]
