"""The SDK's WebSocket connection treats a written intent/report as unconfirmed until a Receipt."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.client.core import ClientCore
from gateway.client.transports import WebSocketConnection
from schemas import ExecutionReport, StatusHeartbeat

NOW = 1_763_800_000_000


class WrittenSocket:
    """A socket whose writes all succeed (whether the server read them is unknown)."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.close_code: int | None = None
        self.close_reason: str | None = None

    async def send(self, text: str) -> None:
        self.frames.append(text)


def report(envelope_id: str) -> ExecutionReport:
    return ExecutionReport.model_validate(
        {
            "id": envelope_id,
            "ts": NOW,
            "payload": {"command_id": f"c-{envelope_id}", "status": "filled", "ticket": 9},
        }
    )


HEARTBEAT = StatusHeartbeat.model_validate({"id": "h-1", "ts": NOW, "payload": {"ack_seq": 0}})


async def test_client_resends_written_reports_that_got_no_receipt() -> None:
    conn = WebSocketConnection(WrittenSocket())  # type: ignore[arg-type]
    await conn.send([report("e-1"), HEARTBEAT, report("e-2")])
    conn.confirmed(["e-1"])
    assert [e.id for e in conn.unsent()] == ["e-2"]
    assert conn.unsent() == []  # handed back once


async def test_client_forgets_reports_confirmed_by_a_receipt() -> None:
    conn = WebSocketConnection(WrittenSocket())  # type: ignore[arg-type]
    await conn.send([report("e-1")])
    conn.confirmed(["e-1", "unknown"])
    assert conn.unsent() == []


@pytest.mark.parametrize(("transport", "asks"), [(True, True), (False, None)])
def test_client_asks_for_receipts_only_on_the_websocket(transport: bool, asks: Any) -> None:
    core = ClientCore(account_id="a-1", id_prefix="t")
    init = core.init_request(NOW, None, None, receipts=transport)
    assert init.payload.receipts is asks
