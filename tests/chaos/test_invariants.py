"""The fault suite's pure half: seeded schedules and the invariant check."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench._chaos_check import FAULT_KINDS, Execution, History, Intent, check, schedule
from bench._chaos_run import MessageChaos
from copier.core.commands import derive_command_id
from schemas.envelope import ExecutionReport, OrderIntent, StatusHeartbeat


def _history(*executions: tuple[str, int, str]) -> History:
    """Master m1 sent intents 0..3 about tickets 10, 10, 11, 10; f1 copies m1."""
    intents = [Intent("m1", f"i{n}", n, ticket) for n, ticket in enumerate((10, 10, 11, 10))]
    history = History(intents=intents, subscriptions={"f1": ["m1"]})
    for follower, index, status in executions:
        command_id = derive_command_id("m1", f"i{index}", follower)
        history.executions.append(Execution(follower, command_id, status))
    return history


@given(st.integers(0, 10_000))
def test_a_seed_replays_the_same_faults(seed: int) -> None:
    assert schedule(seed, 8.0, faults=5) == schedule(seed, 8.0, faults=5)


@given(st.integers(0, 10_000), st.floats(1.0, 60.0))
def test_faults_fall_inside_the_trading_window_and_are_known_kinds(
    seed: int, duration: float
) -> None:
    faults = schedule(seed, duration, faults=6)
    assert [f.at_s for f in faults] == sorted(f.at_s for f in faults)
    assert all(0 < f.at_s <= 0.8 * duration + 1e-6 and f.kind in FAULT_KINDS for f in faults)


def test_different_seeds_give_different_schedules() -> None:
    assert len({tuple(schedule(seed, 8.0, faults=3)) for seed in range(50)}) > 45


def test_a_schedule_draws_only_the_kinds_asked_for() -> None:
    assert {f.kind for f in schedule(3, 8.0, faults=20, kinds=["cut"])} == {"cut"}


def test_a_clean_history_breaks_nothing() -> None:
    history = _history(("f1", 0, "filled"), ("f1", 1, "modified"), ("f1", 3, "closed"))
    history.session_samples = [[("m1", "authenticated"), ("f1", "authenticated")]]
    assert check(history) == []


def test_a_command_executed_twice_is_a_duplicate_execution() -> None:
    violations = check(_history(("f1", 0, "filled"), ("f1", 0, "filled")))
    assert [v.invariant for v in violations] == ["duplicate_execution"]


def test_a_rejected_command_and_its_successful_retry_are_not_duplicates() -> None:
    history = _history(("f1", 0, "rejected"))
    retry = derive_command_id("m1", "i0", "f1") + ".r1"
    history.executions.append(Execution("f1", retry, "filled"))
    assert check(history) == []


def test_a_close_executed_before_its_open_breaks_the_order() -> None:
    violations = check(_history(("f1", 3, "closed"), ("f1", 0, "filled")))
    assert [(v.invariant, v.account) for v in violations] == [("order", "f1")]


def test_commands_about_different_master_orders_may_pass_each_other() -> None:
    assert check(_history(("f1", 2, "filled"), ("f1", 0, "filled"))) == []


def test_two_authenticated_sessions_of_one_account_in_a_sample_are_a_violation() -> None:
    history = History(
        session_samples=[
            [("m1", "authenticated"), ("m1", "pending")],
            [("m1", "authenticated"), ("m1", "authenticated")],
        ]
    )
    assert [v.invariant for v in check(history)] == ["two_live_sessions"]


def test_position_mismatches_are_reported_per_follower() -> None:
    history = History(
        mismatches={
            "f1": [{"master": "m1", "master_ticket": 7, "problem": "missing_copy", "detail": ""}]
        }
    )
    assert [(v.invariant, v.account) for v in check(history)] == [("position", "f1")]


def _report(n: int) -> ExecutionReport:
    return ExecutionReport.model_validate(
        {"id": f"r{n}", "ts": 1, "payload": {"command_id": f"c{n}", "status": "filled"}}
    )


def _intent(n: int) -> OrderIntent:
    return OrderIntent.model_validate(
        {
            "id": f"i{n}",
            "ts": 1,
            "payload": {
                "action": "open",
                "ticket": n,
                "symbol": "EURUSD",
                "side": "buy",
                "order_type": "market",
                "volume": 0.1,
                "price": 1.1,
            },
        }
    )


@pytest.mark.parametrize("seed", range(20))
def test_mangled_messages_keep_every_message_and_the_order_of_intents(seed: int) -> None:
    chaos = MessageChaos(random.Random(seed))
    chaos.active = True
    beat = StatusHeartbeat.model_validate({"id": "h", "ts": 1, "payload": {"ack_seq": 0}})
    batch = [_intent(1), _report(1), _report(2), beat, _intent(2), _report(3)]
    out = chaos.mangle(batch)
    assert {e.id for e in out} == {e.id for e in batch}
    assert [e.id for e in out if isinstance(e, OrderIntent)] in (
        ["i1", "i2"],
        ["i1", "i1", "i2"],
        ["i1", "i2", "i2"],
        ["i1", "i1", "i2", "i2"],
    )


def test_messages_pass_untouched_while_the_fault_is_off() -> None:
    batch = [_report(1), _report(2)]
    assert MessageChaos(random.Random(1)).mangle(batch) == batch
