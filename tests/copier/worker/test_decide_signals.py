"""`decide_signals` is the `decide_signal` chain of its intents, merged into one write."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import settings as settings_hypothesis
from hypothesis import strategies as st

from copier.core import MasterSignal, derive_command_id
from copier.core.shared_plans import SharedPlans
from copier.worker.decide import (
    FollowerContext,
    FollowerWrite,
    decide_report,
    decide_signal,
    decide_signals,
    merge_writes,
)
from copier.worker.state import FollowerRecord
from schemas.codes import Action, ExecutionStatus
from schemas.messages import ExecutionReportPayload, OrderIntentPayload
from tests.copier.core.builders import MASTER, NOW, intent, settings, signal, spec

FOLLOWER = "f1"
CTX = FollowerContext(equity=Decimal(10_000), symbols={"EURUSD": spec()})

#: what a master may send about tickets 100 and 101 (102: 100's remainder)
INTENTS: dict[str, OrderIntentPayload] = {
    "open 100": intent(Action.OPEN, 100),
    "open 101": intent(Action.OPEN, 101),
    "modify 100": intent(Action.MODIFY, 100, sl=Decimal("1.08")),
    "close 100": intent(Action.CLOSE, 100),
    "close half of 100": intent(Action.CLOSE, 100, volume=Decimal("0.5"), new_ticket=102),
    "close 102": intent(Action.CLOSE, 102, volume=Decimal("0.5")),
    "close 101": intent(Action.CLOSE, 101),
}


def start(state: str) -> FollowerRecord:
    """A fresh follower, one whose copy of 100 is opening, or one whose copy is open."""
    record = FollowerRecord(FOLLOWER)
    if state == "fresh":
        return record
    record = decide_signal(
        signal(INTENTS["open 100"], intent_id="i-0"), settings(), record, CTX, NOW
    ).after
    if state == "opening":
        return record
    fill = ExecutionReportPayload.model_validate(
        {
            "command_id": derive_command_id(MASTER, "i-0", FOLLOWER),
            "status": ExecutionStatus.FILLED,
            "ticket": 9,
            "volume": 1,
        }
    )
    filled = decide_report(record, fill, None, {MASTER: settings()}, CTX, NOW)
    assert filled is not None
    return filled.after


def chain(
    signals: list[MasterSignal], record: FollowerRecord, shared: SharedPlans | None
) -> FollowerWrite:
    parts = []
    for one in signals:
        part = decide_signal(one, settings(), record, CTX, NOW + 1, shared=shared)
        parts.append(part)
        record = part.after
    return merge_writes(parts)


@settings_hypothesis(max_examples=150, deadline=None)
@given(
    state=st.sampled_from(["fresh", "opening", "open"]),
    names=st.lists(st.sampled_from(sorted(INTENTS)), min_size=1, max_size=6),
    shared=st.booleans(),
)
def test_deciding_intents_together_gives_the_merged_write_of_deciding_them_one_by_one(
    state: str, names: list[str], shared: bool
) -> None:
    record = start(state)
    signals = [signal(INTENTS[name], intent_id=f"i-{n + 1}") for n, name in enumerate(names)]

    together = decide_signals(
        signals, settings(), record, CTX, NOW + 1, shared=SharedPlans(NOW + 1) if shared else None
    )

    assert together == chain(signals, record, SharedPlans(NOW + 1) if shared else None)
