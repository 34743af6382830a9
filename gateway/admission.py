"""Admission of a master's OrderIntent under copier overload: a pure decision.

The copier works through the intent stream of a partition in order. When it
falls behind, the stream's backlog grows; nothing may trim an entry the copier
has not finished (that would lose an intent the EA was told was recorded), so the
backlog is bounded here instead, before the intent is recorded: an intent that
would exceed the bound is refused with a retryable answer and stays with the EA,
which sends it again later (see docs/protocol.md, "Overload").

`decide_admission` takes the backlog as last measured (entries waiting =
unread + pending, and the age of the oldest of them), the limits and the intent's
action, and returns whether to record it. Exits (``close``, ``cancel_pending``)
reduce risk and are only refused at the hard bound, so they keep flowing while
new exposure is refused; they are never refused for age (closes never expire).
It never awaits and never reads the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "EXIT_ACTIONS",
    "Admission",
    "AdmissionLimits",
    "IntentBacklog",
    "RefusalReason",
    "decide_admission",
]

#: Actions that only reduce exposure: admitted up to the hard bound.
EXIT_ACTIONS = frozenset({"close", "cancel_pending"})


class RefusalReason(StrEnum):
    """Why an intent was refused (the ``reason`` label of the refusal counter)."""

    BACKLOG_FULL = "backlog_full"  #: the partition's waiting intents reached the bound
    BACKLOG_STALE = "backlog_stale"  #: its oldest waiting intent is older than the bound


@dataclass(frozen=True, slots=True)
class AdmissionLimits:
    """The bounds of one partition's intent backlog. 0 turns a bound off."""

    #: waiting intents (unread + pending) at which opens, pending orders and
    #: modifies are refused
    max_waiting: int = 10_000
    #: waiting intents at which exits are refused too (the hard bound)
    max_waiting_exits: int = 50_000
    #: age (ms) of the oldest waiting intent at which opens, pending orders and
    #: modifies are refused
    max_age_ms: int = 20_000
    #: what a refusal tells the EA to wait before sending again (ms)
    retry_after_ms: int = 1_000


@dataclass(frozen=True, slots=True)
class IntentBacklog:
    """One partition's intent-stream backlog, as last measured."""

    waiting: int  #: entries not finished: unread + pending
    oldest_ms: int | None  #: age of the oldest of them (ms), None when nothing waits


@dataclass(frozen=True, slots=True)
class Admission:
    """The decision for one intent."""

    admitted: bool  #: record it
    reason: RefusalReason | None = None  #: why not, when refused
    retry_after_ms: int = 0  #: when a resend makes sense, when refused

    @property
    def retry_after_s(self) -> int:
        """`retry_after_ms` in whole seconds, at least 1 (a ``Retry-After`` header)."""
        return max(1, -(-self.retry_after_ms // 1000))


ADMITTED = Admission(admitted=True)


def decide_admission(
    action: str | None, backlog: IntentBacklog | None, limits: AdmissionLimits
) -> Admission:
    """Admit or refuse one OrderIntent of `action` given the partition's backlog.

    Args:
        action: the intent's ``payload.action`` (None when unknown: treated as an open).
        backlog: the backlog last measured; None when never measured (admitted).
        limits: the bounds.
    """
    if backlog is None:
        return ADMITTED
    if action in EXIT_ACTIONS:
        if _reached(backlog.waiting, limits.max_waiting_exits):
            return _refused(RefusalReason.BACKLOG_FULL, limits)
        return ADMITTED
    if _reached(backlog.waiting, limits.max_waiting):
        return _refused(RefusalReason.BACKLOG_FULL, limits)
    if backlog.oldest_ms is not None and _reached(backlog.oldest_ms, limits.max_age_ms):
        return _refused(RefusalReason.BACKLOG_STALE, limits)
    return ADMITTED


def _reached(value: int, bound: int) -> bool:
    return bound > 0 and value >= bound


def _refused(reason: RefusalReason, limits: AdmissionLimits) -> Admission:
    return Admission(admitted=False, reason=reason, retry_after_ms=limits.retry_after_ms)
