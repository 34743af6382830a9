"""Ack bookkeeping and duplicate detection (pure, no loop)."""

from __future__ import annotations

from gateway.client.tracking import AckTracker, Inbox, JournalState, Verdict
from schemas import ExecutionReport, InitAck, OrderCommand

NOW = 1_763_800_000_000


def command(seq: int, command_id: str = "cmd-1", envelope_id: str | None = None) -> OrderCommand:
    return OrderCommand.model_validate(
        {
            "id": envelope_id or f"e-{seq}",
            "ts": NOW,
            "seq": seq,
            "payload": {
                "command_id": command_id,
                "action": "open",
                "symbol": "EURUSD",
                "side": "buy",
                "order_type": "market",
                "volume": 0.1,
                "master_ticket": 7,
            },
        }
    )


def report(command_id: str = "cmd-1") -> ExecutionReport:
    return ExecutionReport.model_validate(
        {
            "id": "r-1",
            "ts": NOW,
            "payload": {"command_id": command_id, "status": "filled", "ticket": 9},
        }
    )


def test_ack_reports_the_highest_processed_seq() -> None:
    acks = AckTracker()
    for seq in (1, 2, 3):
        acks.delivered(seq)
    acks.processed(1)
    acks.processed(2)
    assert acks.ack_seq == 2


def test_ack_holds_below_a_message_still_being_processed() -> None:
    acks = AckTracker()
    for seq in (4, 5, 6):
        acks.delivered(seq)
    acks.processed(5)
    acks.processed(6)
    assert acks.ack_seq == 0
    acks.processed(4)
    assert acks.ack_seq == 6


def test_ack_never_moves_backwards() -> None:
    acks = AckTracker(acked=10)
    acks.delivered(3)
    acks.processed(3)
    assert acks.ack_seq == 10


def test_ack_skips_seq_gaps_when_nothing_below_is_open() -> None:
    acks = AckTracker(acked=2)
    acks.delivered(9)  # a promotion renumbered the backlog: gaps are normal
    acks.processed(9)
    assert acks.ack_seq == 9


def test_ack_stops_waiting_for_open_messages_when_the_connection_is_gone() -> None:
    acks = AckTracker()
    acks.delivered(1)
    acks.delivered(2)
    acks.processed(2)
    acks.forget_open()
    assert acks.in_flight == 0
    acks.delivered(3)
    acks.processed(3)
    assert acks.ack_seq == 3


def test_inbox_admits_a_new_envelope_once_and_drops_its_duplicates() -> None:
    inbox = Inbox()
    ack = InitAck.model_validate(
        {
            "id": "a",
            "ts": NOW,
            "seq": 1,
            "payload": {"session_id": "s", "role": "master", "heartbeat_interval_s": 5},
        }
    )
    assert inbox.admit(ack).verdict is Verdict.NEW
    assert inbox.admit(ack).verdict is Verdict.IN_FLIGHT
    inbox.handled(ack)
    assert inbox.admit(ack).verdict is Verdict.DONE


def test_inbox_replays_the_stored_report_when_a_command_comes_again_under_a_new_id() -> None:
    inbox = Inbox()
    first = command(1)
    assert inbox.admit(first).verdict is Verdict.NEW
    inbox.remember_report(report())
    inbox.handled(first)
    again = inbox.admit(command(5, envelope_id="other-id"))
    assert again.verdict is Verdict.REPLAY
    assert again.report == report()


def test_inbox_drops_a_command_whose_first_copy_is_still_executing() -> None:
    inbox = Inbox()
    inbox.admit(command(1))
    assert inbox.admit(command(2, envelope_id="x")).verdict is Verdict.IN_FLIGHT


def test_inbox_lets_an_abandoned_command_be_tried_again() -> None:
    inbox = Inbox()
    first = command(1)
    inbox.admit(first)
    inbox.abandoned(first)
    assert inbox.admit(first).verdict is Verdict.NEW


def test_inbox_forgets_the_oldest_ids_beyond_its_memory() -> None:
    inbox = Inbox(memory=2)
    for seq in (1, 2, 3):
        env = command(seq, command_id=f"c{seq}")
        inbox.admit(env)
        inbox.handled(env)
    assert inbox.admit(command(1, command_id="c1")).verdict is Verdict.NEW


def test_journal_round_trips_ack_and_reports_through_json() -> None:
    inbox = Inbox()
    inbox.admit(command(1))
    inbox.remember_report(report())
    state = JournalState.from_json(inbox.journal(ack_seq=4).to_json())
    assert state.ack_seq == 4
    restored = Inbox(journal=state)
    assert restored.admit(command(9, envelope_id="new")).verdict is Verdict.REPLAY
