"""The fault suite's pure half: seeded schedules and the invariant check."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench._chaos_check import (
    FAULT_KINDS,
    SENTINEL_KINDS,
    SINGLE_REDIS_KINDS,
    Accepted,
    Execution,
    History,
    Intent,
    SessionSpan,
    StaleProbe,
    check,
    schedule,
)
from bench._chaos_sim import MessageChaos
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


# ---- topologies and the new fault kinds ------------------------------------------------


def test_one_redis_never_fails_over_and_sentinel_servers_are_never_restarted_from_disk() -> None:
    assert "failover" not in SINGLE_REDIS_KINDS and "redis_restart" in SINGLE_REDIS_KINDS
    assert "redis_restart" not in SENTINEL_KINDS and "failover" in SENTINEL_KINDS
    assert set(SINGLE_REDIS_KINDS) | set(SENTINEL_KINDS) == set(FAULT_KINDS)


@given(st.integers(0, 10_000), st.integers(1, 40))
def test_a_preempt_fault_targets_one_of_the_run_accounts(seed: int, accounts: int) -> None:
    faults = schedule(seed, 8.0, faults=6, accounts=accounts, kinds=["preempt"])
    assert all(0 <= f.target < accounts for f in faults)


# ---- at most one live session per account at every instant -----------------------------


def _span(gen: int, created: int, closed: int | None, account: str = "m1") -> SessionSpan:
    return SessionSpan(account, f"s{gen}", gen, created, closed, None if closed is None else "x")


@pytest.mark.parametrize(
    ("spans", "slack_ms", "broken"),
    [
        # preempted at the instant its successor began
        ([_span(1, 0, 100), _span(2, 100, 200), _span(3, 200, None)], 0, 0),
        # closed (timeout) well before its successor began
        ([_span(1, 0, 50), _span(2, 100, None)], 0, 0),
        # still open when a newer generation began
        ([_span(1, 0, None), _span(2, 100, None)], 0, 1),
        # closed after its successor began: by more than the slack ...
        ([_span(1, 0, 400), _span(2, 100, None)], 200, 1),
        # ... and within it
        ([_span(1, 0, 250), _span(2, 100, None)], 200, 0),
        # one generation given to two sessions (a lost increment)
        ([_span(1, 0, 100), SessionSpan("m1", "other", 1, 100, None)], 0, 1),
        # two accounts are independent
        ([_span(1, 0, None, "m1"), _span(1, 0, None, "f1")], 0, 0),
        # a pending session (generation 0) never counts
        ([SessionSpan("m1", "p", 0, 0, None), _span(1, 10, None)], 0, 0),
    ],
)
def test_session_spans_overlap_only_when_a_generation_outlives_its_successor(
    spans: list[SessionSpan], slack_ms: int, broken: int
) -> None:
    violations = check(History(sessions=spans, clock_slack_ms=slack_ms))
    assert [v.invariant for v in violations] == ["two_live_sessions"] * broken


@given(st.lists(st.integers(1, 1000), min_size=1, max_size=20))
def test_sessions_each_preempted_by_the_next_never_overlap(gaps: list[int]) -> None:
    starts = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    spans = [
        _span(n + 1, start, starts[n + 1] if n + 1 < len(starts) else None)
        for n, start in enumerate(starts)
    ]
    assert check(History(sessions=spans)) == []


# ---- no message accepted from a stale session generation --------------------------------


def _accepted(*sessions: str, account: str = "m1", stream: str = "intents") -> list[Accepted]:
    return [Accepted(stream, account, sid, f"e{n}") for n, sid in enumerate(sessions)]


_GENERATIONS = [_span(1, 0, 100), _span(2, 100, 200), _span(3, 200, None)]


@pytest.mark.parametrize(
    ("accepted", "broken"),
    [
        (_accepted("s1", "s1", "s2", "s3", "s3"), 0),
        (_accepted("s1", "s3"), 0),  # a generation may write nothing
        (_accepted("s2", "s1"), 1),  # s1 written after s2: fencing failed
        (_accepted("s1", "s3", "s2", "s3"), 1),
        (_accepted("s1", "s2") + _accepted("s1", stream="ea-events"), 0),  # per stream
    ],
)
def test_a_message_accepted_after_a_newer_generation_wrote_is_stale(
    accepted: list[Accepted], broken: int
) -> None:
    violations = check(History(sessions=_GENERATIONS, accepted=accepted))
    assert [v.invariant for v in violations] == ["stale_generation"] * broken


def test_a_message_from_a_session_never_authenticated_is_stale() -> None:
    pending = SessionSpan("m1", "p", 0, 0, None)
    violations = check(History(sessions=[pending], accepted=_accepted("p")))
    assert [(v.invariant, v.account) for v in violations] == [("stale_generation", "m1")]


@given(st.lists(st.integers(1, 3), min_size=1, max_size=30))
def test_a_write_of_an_older_generation_after_a_newer_one_is_always_caught(
    generations: list[int],
) -> None:
    ordered = sorted(generations)
    assert (
        check(History(sessions=_GENERATIONS, accepted=_accepted(*(f"s{g}" for g in ordered)))) == []
    )
    if ordered[-1] > 1:
        stale = [*ordered, 1]  # generation 1 writes after the newest
        violations = check(
            History(sessions=_GENERATIONS, accepted=_accepted(*(f"s{g}" for g in stale)))
        )
        assert [v.invariant for v in violations] == ["stale_generation"]


@pytest.mark.parametrize(
    ("status", "accepted", "broken"),
    [
        (410, False, 0),  # refused: preempted
        (401, False, 0),  # refused: the token is unknown
        (None, False, 0),  # no answer (the connection broke): nothing to judge
        (503, False, 0),  # Redis away: nothing was accepted
        (200, False, 1),  # the exchange went through on a preempted session
        (410, True, 1),  # refused, yet its message is in a stream
    ],
)
def test_a_probe_on_a_preempted_session_must_be_refused(
    status: int | None, accepted: bool, broken: int
) -> None:
    history = History(
        sessions=_GENERATIONS,
        stale_probes=[StaleProbe("m1", "s1", "probe-1", status)],
        accepted=[Accepted("intents", "m1", "s1", "probe-1")] if accepted else [],
    )
    violations = [v for v in check(history) if "probe" in v.detail]
    assert [v.invariant for v in violations] == ["stale_generation"] * broken
