"""The pure copier core: no I/O, no awaits, no clock (time is an argument).

Modules:

- `allocation`: lots from the allocation mode, fitted to the follower's symbol;
- `risk`: the subscription's risk guards;
- `links`: ticket links (master ticket -> follower ticket) and ExecutionReports;
- `entries`, `exits`, `planner`: one master intent -> one follower decision;
- `reconcile`: SyncSnapshots against links and known master positions;
- `retry`: retry policy for failed executions and the per-follower circuit breaker;
- `commands`: deterministic command ids and symbol/side/stop translation;
- `outcomes`: `Send`, `Skip` (with `SkipReason`), `WaitForLink`, effects.
"""

from copier.core.allocation import (
    Sized,
    SizingInput,
    loss_per_lot,
    normalize_volume,
    raw_volume,
    round_down,
    size_order,
)
from copier.core.commands import derive_command_id, retry_command_id
from copier.core.exits import close_volume
from copier.core.inputs import FollowerState, MasterSignal, Plan
from copier.core.links import (
    InFlight,
    LinkBook,
    LinkChange,
    LinkKind,
    LinkState,
    ReportApplied,
    TicketLink,
)
from copier.core.outcomes import (
    Adjustment,
    AdjustmentReason,
    Alert,
    Effect,
    Outcome,
    Send,
    Skip,
    SkipReason,
    SwitchStatus,
    WaitForLink,
)
from copier.core.planner import plan_intent
from copier.core.reconcile import (
    FollowerReconciliation,
    ReconcileNote,
    ReconcileNoteKind,
    SyntheticIntent,
    reconcile_follower,
    reconcile_master,
)
from copier.core.retry import (
    RETRYABLE_ERRORS,
    BackoffPolicy,
    BreakerState,
    CircuitBreaker,
    GiveUp,
    GiveUpReason,
    Retry,
    RetryDecision,
    decide_retry,
)
from copier.core.risk import (
    Blocked,
    Exposure,
    check_drawdown,
    check_entry,
    clip_to_lot_caps,
    drawdown_pct,
    orders_in_window,
    update_peak,
)

__all__ = [
    "RETRYABLE_ERRORS",
    "Adjustment",
    "AdjustmentReason",
    "Alert",
    "BackoffPolicy",
    "Blocked",
    "BreakerState",
    "CircuitBreaker",
    "Effect",
    "Exposure",
    "FollowerReconciliation",
    "FollowerState",
    "GiveUp",
    "GiveUpReason",
    "InFlight",
    "LinkBook",
    "LinkChange",
    "LinkKind",
    "LinkState",
    "MasterSignal",
    "Outcome",
    "Plan",
    "ReconcileNote",
    "ReconcileNoteKind",
    "ReportApplied",
    "Retry",
    "RetryDecision",
    "Send",
    "Sized",
    "SizingInput",
    "Skip",
    "SkipReason",
    "SwitchStatus",
    "SyntheticIntent",
    "TicketLink",
    "WaitForLink",
    "check_drawdown",
    "check_entry",
    "clip_to_lot_caps",
    "close_volume",
    "decide_retry",
    "derive_command_id",
    "drawdown_pct",
    "loss_per_lot",
    "normalize_volume",
    "orders_in_window",
    "plan_intent",
    "raw_volume",
    "reconcile_follower",
    "reconcile_master",
    "retry_command_id",
    "round_down",
    "size_order",
    "update_peak",
]
