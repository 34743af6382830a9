"""The client's session rules (`ClientCore`): frames in, events and envelopes out, no loop."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from gateway.client.core import ClientCore, Deliver, Drop, Replay
from gateway.client.policy import Backoff, CloseInfo, Reconnect, ReconnectPolicy, Stop
from gateway.client.tracking import JournalState
from schemas import (
    ExecutionReport,
    InitAck,
    InitRequest,
    OrderCommand,
    SessionState,
    StatusHeartbeat,
)
from schemas.messages import AccountInfo, ExecutionReportPayload, SymbolSpec
from schemas.rest import SessionCreated

NOW = 1_763_800_000_000
EURUSD = SymbolSpec(
    symbol="EURUSD",
    digits=5,
    point=Decimal("0.00001"),
    contract_size=Decimal(100000),
    lot_step=Decimal("0.01"),
    min_lot=Decimal("0.01"),
    max_lot=Decimal(100),
)


def core(**kwargs: Any) -> ClientCore:
    policy = ReconnectPolicy(Backoff(base_s=1.0), rand=lambda: 0.0)
    return ClientCore("acc-1", id_prefix="t", policy=policy, **kwargs)


def created(state: str = "authenticated", interval: float = 5) -> SessionCreated:
    return SessionCreated.model_validate(
        {
            "session_id": "s1",
            "state": state,
            "session_token": "tok",
            "heartbeat_interval_s": interval,
            "heartbeat_timeout_s": 15,
        }
    )


def frame(
    kind: str, seq: int | None, payload: dict[str, Any], envelope_id: str | None = None
) -> bytes:
    body: dict[str, Any] = {
        "type": kind,
        "id": envelope_id or f"{kind}-{seq}",
        "ts": NOW,
        "payload": payload,
    }
    if seq is not None:
        body["seq"] = seq
    return orjson.dumps(body)


def command_frame(seq: int, command_id: str = "cmd-1", envelope_id: str | None = None) -> bytes:
    return frame(
        "OrderCommand",
        seq,
        {
            "command_id": command_id,
            "action": "open",
            "symbol": "EURUSD",
            "side": "buy",
            "order_type": "market",
            "volume": 0.1,
            "master_ticket": 3,
        },
        envelope_id,
    )


INIT_ACK = frame("InitAck", 1, {"session_id": "s1", "role": "follower", "heartbeat_interval_s": 2})


def test_client_sends_init_request_with_its_ack_seq_account_and_symbols() -> None:
    c = core(journal=JournalState(ack_seq=41))
    c.begin(created(), NOW)
    init = c.init_request(NOW, AccountInfo(balance=Decimal(100), equity=Decimal(90)), [EURUSD])
    assert isinstance(init, InitRequest)
    assert init.payload.ack_seq == 41
    assert init.payload.account is not None and init.payload.account.equity == 90
    assert init.payload.symbols == [EURUSD]


def test_client_envelope_ids_are_unique() -> None:
    c = core()
    assert len({c.next_id() for _ in range(100)}) == 100


def test_client_heartbeats_at_the_interval_announced_by_init_ack() -> None:
    c = core()
    c.begin(created(interval=5), NOW)
    assert not c.heartbeat_due(NOW + 4_999)
    assert c.heartbeat_due(NOW + 5_000)
    c.receive(INIT_ACK, NOW)
    c.heartbeat(NOW + 100)
    assert c.next_heartbeat_ms() == NOW + 2_100


def test_client_heartbeat_carries_the_highest_processed_seq() -> None:
    c = core()
    c.begin(created(), NOW)
    event = c.receive(command_frame(7), NOW)
    assert isinstance(event, Deliver)
    assert c.heartbeat(NOW).payload.ack_seq == 0
    c.processed(event.envelope)
    beat = c.heartbeat(NOW, AccountInfo(balance=Decimal(5), equity=Decimal(6)))
    assert isinstance(beat, StatusHeartbeat)
    assert (beat.payload.ack_seq, beat.payload.equity) == (7, Decimal(6))


def test_client_becomes_authenticated_with_its_role_on_init_ack() -> None:
    c = core()
    c.begin(created(state="pending"), NOW)
    assert c.state is SessionState.PENDING
    event = c.receive(INIT_ACK, NOW)
    assert isinstance(event, Deliver) and isinstance(event.envelope, InitAck)
    assert (c.state, c.role, c.init_acked) == (SessionState.AUTHENTICATED, "follower", True)


def test_client_drops_a_duplicate_envelope_and_counts_it_processed() -> None:
    c = core()
    c.begin(created(), NOW)
    first = c.receive(command_frame(3), NOW)
    assert isinstance(first, Deliver)
    assert c.receive(command_frame(3), NOW) == Drop("in_flight", first.envelope)
    c.processed(first.envelope)
    again = c.receive(command_frame(8, envelope_id="OrderCommand-3"), NOW)
    assert isinstance(again, Drop) and again.reason == "duplicate"
    assert c.acks.ack_seq == 8  # renumbered copy of a processed message: acknowledged


def test_client_replays_its_report_when_a_command_is_redelivered() -> None:
    c = core()
    c.begin(created(), NOW)
    event = c.receive(command_frame(3), NOW)
    assert isinstance(event, Deliver) and isinstance(event.envelope, OrderCommand)
    report = c.envelope(
        ExecutionReport, ExecutionReportPayload(command_id="cmd-1", status="filled", ticket=5), NOW
    )
    c.reported(report)
    c.processed(event.envelope)
    replay = c.receive(command_frame(4, envelope_id="fresh-id"), NOW)
    assert isinstance(replay, Replay) and replay.report == report
    assert c.acks.ack_seq == 4


def test_client_drops_an_unreadable_frame() -> None:
    c = core()
    assert c.receive(b"{not json", NOW) == Drop("malformed_json")
    assert c.receive(frame("Bogus", 1, {}), NOW) == Drop("unknown_type")


def test_client_stops_when_closed_4001_after_a_preempted_notice() -> None:
    c = core()
    c.begin(created(), NOW)
    c.receive(frame("ShutdownNotice", 5, {"reason": "preempted"}), NOW)
    assert c.closed(CloseInfo.websocket(4001)) == Stop("preempted", 4001)
    assert c.state is SessionState.CLOSED


def test_client_reconnects_after_the_notice_delay_when_the_server_shuts_down() -> None:
    c = core()
    c.begin(created(), NOW)
    c.receive(
        frame("ShutdownNotice", 5, {"reason": "server_shutdown", "reconnect_after_s": 2}), NOW
    )
    decision = c.closed(CloseInfo.websocket(4004))
    assert isinstance(decision, Reconnect) and decision.delay_s == 2


def test_client_keeps_its_ack_across_sessions() -> None:
    c = core()
    c.begin(created(), NOW)
    event = c.receive(command_frame(12), NOW)
    assert isinstance(event, Deliver)
    c.processed(event.envelope)
    c.closed(CloseInfo.websocket(4002))
    c.begin(created(), NOW)
    assert c.init_request(NOW, None, None).payload.ack_seq == 12


def test_client_journal_keeps_what_a_restart_needs() -> None:
    c = core()
    c.begin(created(), NOW)
    event = c.receive(command_frame(2), NOW)
    assert isinstance(event, Deliver)
    c.reported(
        c.envelope(
            ExecutionReport, ExecutionReportPayload(command_id="cmd-1", status="filled"), NOW
        )
    )
    c.processed(event.envelope)
    restarted = core(journal=c.journal())
    assert restarted.acks.ack_seq == 2
    assert isinstance(restarted.receive(command_frame(3, envelope_id="n"), NOW), Replay)
