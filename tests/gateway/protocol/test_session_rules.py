"""Session rules 1-5 of the wire contract, on the pure protocol core (no loop, no Redis)."""

from __future__ import annotations

import itertools

import orjson
import pytest

from gateway.protocol import (
    Acknowledge,
    CheckPromotion,
    CloseSession,
    Effect,
    HoldIntent,
    LogAlert,
    PublishEaEvent,
    PublishIntent,
    RecordHeartbeat,
    RecordInit,
    RememberAck,
    Send,
    SessionProtocol,
)
from schemas import (
    CloseCode,
    CloseReason,
    ErrorAlert,
    InitAck,
    Receipt,
    Role,
    SessionState,
    SessionStateChange,
    ShutdownNotice,
)

NOW = 1_763_800_000_000

INTENT = {
    "type": "OrderIntent",
    "id": "i-1",
    "ts": NOW,
    "payload": {
        "action": "open",
        "ticket": 101,
        "symbol": "EURUSD",
        "side": "buy",
        "order_type": "market",
        "volume": 0.1,
        "price": 1.08123,
    },
}
HEARTBEAT = {"type": "StatusHeartbeat", "id": "h-1", "ts": NOW, "payload": {"ack_seq": 7}}
INIT = {"type": "InitRequest", "id": "r-1", "ts": NOW, "payload": {"ack_seq": 3}}
REPORT = {
    "type": "ExecutionReport",
    "id": "e-1",
    "ts": NOW,
    "payload": {"command_id": "c-1", "status": "filled", "ticket": 9},
}


def make_session(
    state: SessionState = SessionState.AUTHENTICATED, role: Role | None = Role.MASTER
) -> SessionProtocol:
    counter = itertools.count(1)
    return SessionProtocol(
        session_id="s-1",
        account_id="demo-1001",
        state=state,
        role=role,
        heartbeat_interval_s=1,
        heartbeat_timeout_s=3,
        last_heartbeat_ms=NOW,
        new_id=lambda: f"srv-{next(counter)}",
    )


def frame(obj: dict[str, object]) -> bytes:
    return orjson.dumps(obj)


def sent(effects: list[Effect]) -> list[object]:
    return [effect.envelope for effect in effects if isinstance(effect, Send)]


def assert_sent_nothing(effects: list[Effect]) -> None:
    assert sent(effects) == []


# ---- rule 1: pending -----------------------------------------------------------------


def test_pending_session_records_init_request_and_withholds_init_ack() -> None:
    session = make_session(SessionState.PENDING)
    effects = session.receive_frame(frame(INIT), NOW)
    assert effects == [RecordInit(b'{"ack_seq":3}'), RememberAck(3)]
    assert_sent_nothing(effects)


def test_pending_session_records_heartbeat_and_asks_for_promotion_check() -> None:
    session = make_session(SessionState.PENDING)
    effects = session.receive_frame(frame(HEARTBEAT), NOW + 500)
    assert [type(e) for e in effects] == [RecordHeartbeat, RememberAck, CheckPromotion]
    assert effects[1] == RememberAck(7)
    assert session.last_heartbeat_ms == NOW + 500


def test_pending_session_holds_order_intent_without_acting() -> None:
    session = make_session(SessionState.PENDING)
    effects = session.receive_frame(frame(INTENT), NOW)
    assert [type(e) for e in effects] == [HoldIntent]
    assert not any(isinstance(e, PublishIntent) for e in effects)


def test_pending_session_only_logs_error_alerts_server_side() -> None:
    session = make_session(SessionState.PENDING)
    effects = session.receive_frame(b"{not json", NOW)
    assert [type(e) for e in effects] == [LogAlert]
    assert_sent_nothing(effects)


def test_pending_session_ignores_execution_reports_with_a_server_side_log() -> None:
    session = make_session(SessionState.PENDING, role=Role.FOLLOWER)
    effects = session.receive_frame(frame(REPORT), NOW)
    assert [type(e) for e in effects] == [LogAlert]


# ---- rule 2: promotion -----------------------------------------------------------------


def test_promotion_opens_with_state_change_then_init_ack() -> None:
    session = make_session(SessionState.PENDING)
    opening = session.promote(NOW)
    assert [type(m) for m in opening] == [SessionStateChange, InitAck]
    change, ack = opening
    assert isinstance(change, SessionStateChange) and isinstance(ack, InitAck)
    assert change.payload.state is SessionState.AUTHENTICATED
    assert ack.payload.session_id == "s-1"
    assert ack.payload.heartbeat_interval_s == 1
    assert session.state is SessionState.AUTHENTICATED


def test_promoted_session_publishes_intents_from_then_on() -> None:
    session = make_session(SessionState.PENDING)
    session.promote(NOW)
    assert [type(e) for e in session.receive_frame(frame(INTENT), NOW)] == [PublishIntent]


def test_init_ack_names_unassigned_role_when_account_is_not_configured() -> None:
    session = make_session(role=None)
    ack = session.init_ack(NOW)
    assert ack.payload.role == "unassigned"


# ---- authenticated flow ---------------------------------------------------------------


def test_authenticated_init_request_is_acknowledged_and_answered() -> None:
    session = make_session()
    effects = session.receive_frame(frame(INIT), NOW)
    assert [type(e) for e in effects] == [RecordInit, Acknowledge, Send]
    assert effects[1] == Acknowledge(3)
    assert isinstance(sent(effects)[0], InitAck)


def test_authenticated_heartbeat_acknowledges_its_ack_seq() -> None:
    session = make_session()
    effects = session.receive_frame(frame(HEARTBEAT), NOW + 10)
    assert effects[1] == Acknowledge(7)
    assert session.last_heartbeat_ms == NOW + 10


def test_master_intent_is_published_normalised_without_inbound_seq() -> None:
    session = make_session()
    effects = session.receive_frame(frame({**INTENT, "seq": 99}), NOW)
    (publish,) = effects
    assert isinstance(publish, PublishIntent)
    body = orjson.loads(publish.body)
    assert "seq" not in body
    assert body["payload"]["volume"] == 0.1


def test_follower_report_is_published_for_the_copier() -> None:
    session = make_session(role=Role.FOLLOWER)
    assert [type(e) for e in session.receive_frame(frame(REPORT), NOW)] == [PublishEaEvent]


# ---- receipts (opt-in: InitRequest.receipts) ------------------------------------------

RECEIPT_INIT = {**INIT, "payload": {"ack_seq": 3, "receipts": True}}


@pytest.mark.parametrize(
    ("role", "message", "publish"),
    [(Role.FOLLOWER, REPORT, PublishEaEvent), (Role.MASTER, INTENT, PublishIntent)],
    ids=["report", "intent"],
)
def test_opted_in_ea_gets_a_receipt_after_its_message_is_published(
    role: Role, message: dict[str, object], publish: type
) -> None:
    session = make_session(role=role)
    session.receive_frame(frame(RECEIPT_INIT), NOW)
    effects = session.receive_frame(frame(message), NOW)
    assert [type(e) for e in effects] == [publish, Send]  # written after the publish
    (receipt,) = sent(effects)
    assert isinstance(receipt, Receipt)
    assert receipt.payload.ids == [message["id"]]


def test_receipts_asked_for_while_pending_hold_after_promotion() -> None:
    session = make_session(SessionState.PENDING, role=Role.FOLLOWER)
    session.receive_frame(frame(RECEIPT_INIT), NOW)
    session.promote(NOW)
    effects = session.receive_frame(frame(REPORT), NOW)
    assert [type(e) for e in effects] == [PublishEaEvent, Send]


@pytest.mark.parametrize("init", [INIT, {**INIT, "payload": {"ack_seq": 3, "receipts": False}}])
def test_ea_that_did_not_opt_in_gets_no_receipts(init: dict[str, object]) -> None:
    session = make_session(role=Role.FOLLOWER)
    session.receive_frame(frame(init), NOW)
    assert_sent_nothing(session.receive_frame(frame(REPORT), NOW))


def test_heartbeats_and_snapshots_get_no_receipt() -> None:
    session = make_session(role=Role.FOLLOWER)
    session.receive_frame(frame(RECEIPT_INIT), NOW)
    snapshot = {
        "type": "SyncSnapshot",
        "id": "s-1",
        "ts": NOW,
        "payload": {"positions": [], "orders": []},
    }
    assert_sent_nothing(session.receive_frame(frame(HEARTBEAT), NOW))
    assert_sent_nothing(session.receive_frame(frame(snapshot), NOW))


@pytest.mark.parametrize(
    ("role", "message"),
    [(Role.FOLLOWER, INTENT), (Role.MASTER, REPORT)],
    ids=["follower-sends-intent", "master-sends-report"],
)
def test_message_from_the_wrong_role_is_answered_with_an_alert(
    role: Role, message: dict[str, object]
) -> None:
    session = make_session(role=role)
    (alert,) = sent(session.receive_frame(frame(message), NOW))
    assert isinstance(alert, ErrorAlert)
    assert alert.payload.code == "not_allowed_for_role"
    assert alert.payload.ref_id == message["id"]


# ---- rule 3 and 4: closes -------------------------------------------------------------


def test_heartbeat_is_missing_only_after_more_than_the_timeout() -> None:
    session = make_session()
    assert not session.heartbeat_expired(NOW + 3000)
    assert session.heartbeat_expired(NOW + 3001)


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        (CloseReason.HEARTBEAT_TIMEOUT, CloseCode.HEARTBEAT_TIMEOUT),
        (CloseReason.PREEMPTED, CloseCode.PREEMPTED),
        (CloseReason.KEY_REJECTED, CloseCode.AUTH_FAILED),
        (CloseReason.KEY_REVOKED, CloseCode.AUTH_FAILED),
        (CloseReason.SERVER_SHUTDOWN, CloseCode.SERVER_SHUTDOWN),
    ],
)
def test_close_sends_shutdown_notice_then_the_reasons_close_code(
    reason: CloseReason, code: CloseCode
) -> None:
    session = make_session()
    notice_effect, close_effect = session.close(reason, NOW)
    assert isinstance(notice_effect, Send)
    notice = notice_effect.envelope
    assert isinstance(notice, ShutdownNotice) and notice.payload.reason == reason.value
    assert close_effect == CloseSession(reason, code)
    assert session.state is SessionState.CLOSED


def test_closed_session_ignores_everything_after() -> None:
    session = make_session()
    session.close(CloseReason.PREEMPTED, NOW)
    assert session.receive_frame(frame(INTENT), NOW) == []
    assert session.close(CloseReason.HEARTBEAT_TIMEOUT, NOW) == []


def test_client_shutdown_notice_closes_the_session_normally() -> None:
    session = make_session()
    message = {"type": "ShutdownNotice", "id": "x", "ts": NOW, "payload": {"reason": "bye"}}
    assert session.receive_frame(frame(message), NOW) == [
        CloseSession(CloseReason.CLIENT_SHUTDOWN, CloseCode.NORMAL)
    ]


# ---- rule 5: malformed input ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code", "ref_id"),
    [
        (b"{nope", "malformed_json", None),
        (b"[1, 2]", "malformed_json", None),
        (frame({"type": "Bogus", "id": "b-1", "ts": NOW, "payload": {}}), "unknown_type", "b-1"),
        (frame({"type": "InitAck", "id": "b-2", "ts": NOW, "payload": {}}), "unknown_type", "b-2"),
        (frame({**INTENT, "payload": {"action": "open"}}), "validation_error", "i-1"),
        (frame({**HEARTBEAT, "payload": {"ack_seq": -1}}), "validation_error", "h-1"),
        (frame({**INTENT, "id": ""}), "validation_error", None),
    ],
    ids=[
        "bad-json",
        "not-object",
        "unknown-type",
        "server-only-type",
        "missing-fields",
        "negative-ack",
        "empty-id",
    ],
)
def test_bad_message_is_dropped_and_answered_with_alert_naming_its_id(
    raw: bytes, code: str, ref_id: str | None
) -> None:
    session = make_session()
    effects = session.receive_frame(raw, NOW)
    (alert,) = sent(effects)
    assert len(effects) == 1
    assert isinstance(alert, ErrorAlert)
    assert alert.payload.code == code
    assert alert.payload.ref_id == ref_id
    assert session.state is SessionState.AUTHENTICATED


def test_poll_message_that_is_not_an_object_is_rejected_like_a_bad_frame() -> None:
    session = make_session()
    (alert,) = sent(session.receive_object([1], NOW))
    assert isinstance(alert, ErrorAlert) and alert.payload.code == "malformed_json"


def test_server_envelope_ids_are_unique() -> None:
    session = make_session()
    ids = {session.init_ack(NOW).id for _ in range(50)}
    assert len(ids) == 50
