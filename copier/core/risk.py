"""Risk guards of a subscription. Pure functions over value objects.

Guards apply to new exposure only (``open`` and ``place_pending``); closes,
modifies and cancels always flow. They run in this order, and the first one
that blocks decides the reason:

1. ``max_drawdown_pct``: drawdown of the follower's equity from its peak. A
   breach blocks the open *and* asks for the subscription to switch to
   ``close_only`` (a `SwitchStatus` effect plus an `Alert`).
2. ``max_open_positions``: live copied positions and pending orders.
3. ``max_orders_per_minute``: new orders in the sliding 60 s window ending now.
4. ``max_lots_per_symbol`` then ``max_total_lots``: these *clip* the volume down
   to the room left, rounded down to lot_step; only when the clipped volume is
   below min_lot (or no room is left) is the order skipped.

Counts and lots are measured over what this subscription copied (its links),
not over manual trades or other masters' copies; drawdown is account-wide.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from copier.core.allocation import Sized, fmt_lots, round_down
from copier.core.links import LinkState, TicketLink
from copier.core.outcomes import (
    Adjustment,
    AdjustmentReason,
    Alert,
    Effect,
    Skip,
    SkipReason,
    SwitchStatus,
)
from schemas.codes import Severity
from schemas.messages import SymbolSpec
from schemas.subscriptions import RiskSettings, SubscriptionStatus

__all__ = [
    "ORDER_WINDOW_MS",
    "Blocked",
    "Exposure",
    "check_drawdown",
    "check_entry",
    "clip_to_lot_caps",
    "drawdown_pct",
    "orders_in_window",
    "update_peak",
    "uses_exposure",
]

#: Length of the `max_orders_per_minute` sliding window.
ORDER_WINDOW_MS = 60_000

_ZERO = Decimal(0)
_LIVE = frozenset({LinkState.OPENING, LinkState.OPEN})  # `TicketLink.is_live`, inlined
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Exposure:
    """What a subscription currently holds on the follower account."""

    open_positions: int = 0  # live copied positions and pending orders
    lots_by_symbol: Mapping[str, Decimal] = field(default_factory=dict)  # follower symbol -> lots
    total_lots: Decimal = _ZERO  # sum of all live copied lots

    @classmethod
    def from_links(cls, links: Iterable[TicketLink]) -> Exposure:
        """Exposure of the live (opening or open) links among `links`.

        Args:
            links: ticket links, typically those of one subscription.

        Returns:
            Counts and lots of the live ones.
        """
        count = 0
        total = _ZERO
        by_symbol: dict[str, Decimal] = {}
        for link in links:
            if link.state not in _LIVE:
                continue
            count += 1
            total += link.remaining_volume
            by_symbol[link.symbol] = by_symbol.get(link.symbol, _ZERO) + link.remaining_volume
        return cls(count, by_symbol, total)


@dataclass(frozen=True, slots=True)
class Blocked:
    """A guard blocked the order."""

    skip: Skip  # the reason, as recorded for the intent
    effects: tuple[Effect, ...] = ()  # what the caller must do about it


def uses_exposure(risk: RiskSettings) -> bool:
    """True when a guard of `risk` reads the `Exposure` (otherwise an empty one will do)."""
    return (
        risk.max_open_positions is not None
        or risk.max_lots_per_symbol is not None
        or risk.max_total_lots is not None
    )


def update_peak(peak: Decimal | None, equity: Decimal | None) -> Decimal | None:
    """The new equity peak after an equity reading (high-water mark).

    Args:
        peak: the peak so far, if any.
        equity: the latest equity reading, if any.

    Returns:
        max(peak, equity), ignoring whichever is missing.
    """
    if equity is None:
        return peak
    if peak is None:
        return equity
    return max(peak, equity)


def drawdown_pct(equity: Decimal, peak: Decimal) -> Decimal:
    """Drawdown from the peak in percent: (peak - equity) / peak x 100, never negative.

    Args:
        equity: current equity.
        peak: the equity peak.

    Returns:
        Percent (20 means 20 %); 0 when the peak is not positive.
    """
    if peak <= _ZERO:
        return _ZERO
    return max(_ZERO, (peak - equity) / peak * _HUNDRED)


def check_drawdown(
    risk: RiskSettings, equity: Decimal | None, peak: Decimal | None
) -> Blocked | None:
    """The ``max_drawdown_pct`` guard.

    Without an equity reading or a peak the drawdown cannot be measured and the
    guard passes. A breach means the drawdown reached the limit (>=).

    Args:
        risk: the subscription's risk settings.
        equity: the follower's current equity.
        peak: the follower's equity peak.

    Returns:
        `Blocked` with a switch to close_only and a critical alert, or None.
    """
    limit = risk.max_drawdown_pct
    if limit is None or equity is None or peak is None:
        return None
    drawdown = drawdown_pct(equity, peak)
    if drawdown < limit:
        return None
    message = (
        f"equity {fmt_lots(equity)} is {fmt_lots(drawdown)} % below its peak "
        f"{fmt_lots(peak)}, at or over max_drawdown_pct {fmt_lots(limit)}"
    )
    return Blocked(
        Skip(SkipReason.MAX_DRAWDOWN, message),
        (
            SwitchStatus(SubscriptionStatus.CLOSE_ONLY, SkipReason.MAX_DRAWDOWN, message),
            Alert(
                SkipReason.MAX_DRAWDOWN.value,
                Severity.CRITICAL,
                f"{message}; the subscription now only copies closes",
                "review the account, then set the subscription's status back to active",
            ),
        ),
    )


def orders_in_window(
    order_times_ms: Iterable[int], now_ms: int, window_ms: int = ORDER_WINDOW_MS
) -> int:
    """How many of the order times fall in the window (now - window, now].

    Times after `now_ms` (clock skew) count as inside the window.
    """
    start = now_ms - window_ms
    return sum(1 for t in order_times_ms if t > start)


def check_entry(
    risk: RiskSettings,
    exposure: Exposure,
    *,
    equity: Decimal | None,
    equity_peak: Decimal | None,
    recent_order_ms: Iterable[int],
    now_ms: int,
) -> Blocked | None:
    """The guards that do not depend on the volume: drawdown, positions, rate.

    Args:
        risk: the subscription's risk settings.
        exposure: what the subscription holds now.
        equity: the follower's current equity.
        equity_peak: the follower's equity peak.
        recent_order_ms: times of the subscription's recent new orders.
        now_ms: the current time.

    Returns:
        `Blocked` for the first guard that trips, or None.
    """
    blocked = check_drawdown(risk, equity, equity_peak)
    if blocked is not None:
        return blocked
    if risk.max_open_positions is not None and exposure.open_positions >= risk.max_open_positions:
        return Blocked(
            Skip(
                SkipReason.MAX_OPEN_POSITIONS,
                f"{exposure.open_positions} copied positions/orders are open, "
                f"max_open_positions is {risk.max_open_positions}",
            )
        )
    if risk.max_orders_per_minute is not None:
        count = orders_in_window(recent_order_ms, now_ms)
        if count >= risk.max_orders_per_minute:
            return Blocked(
                Skip(
                    SkipReason.MAX_ORDERS_PER_MINUTE,
                    f"{count} orders in the last 60 s, "
                    f"max_orders_per_minute is {risk.max_orders_per_minute}",
                )
            )
    return None


def _clip(
    sized: Sized,
    *,
    cap: Decimal,
    held: Decimal,
    spec: SymbolSpec,
    skip_reason: SkipReason,
    adjustment: AdjustmentReason,
    what: str,
) -> Sized | Skip:
    room = cap - held
    if sized.volume <= room:
        return sized
    clipped = round_down(max(room, _ZERO), spec.lot_step)
    if clipped < spec.min_lot or clipped <= _ZERO:
        return Skip(
            skip_reason,
            f"{fmt_lots(held)} lots held {what}, cap {fmt_lots(cap)}: room "
            f"{fmt_lots(max(room, _ZERO))} is below min_lot {spec.min_lot} of {spec.symbol}",
        )
    step = Adjustment(adjustment, sized.volume, clipped)
    return Sized(clipped, (*sized.adjustments, step))


def clip_to_lot_caps(
    risk: RiskSettings, exposure: Exposure, sized: Sized, spec: SymbolSpec
) -> Sized | Skip:
    """The lot caps: clip to ``max_lots_per_symbol``, then to ``max_total_lots``.

    A volume over a cap is reduced to the room left under it, rounded down to
    lot_step; each reduction is recorded as an `Adjustment`. If the room is below
    min_lot the order is skipped.

    Args:
        risk: the subscription's risk settings.
        exposure: what the subscription holds now.
        sized: the allocated volume (already a multiple of lot_step).
        spec: the follower's symbol properties.

    Returns:
        The (possibly reduced) volume, or a `Skip`.
    """
    result: Sized | Skip = sized
    if risk.max_lots_per_symbol is not None:
        result = _clip(
            sized,
            cap=risk.max_lots_per_symbol,
            held=exposure.lots_by_symbol.get(spec.symbol, _ZERO),
            spec=spec,
            skip_reason=SkipReason.MAX_LOTS_PER_SYMBOL,
            adjustment=AdjustmentReason.CLIPPED_TO_MAX_LOTS_PER_SYMBOL,
            what=f"on {spec.symbol}",
        )
    if isinstance(result, Skip) or risk.max_total_lots is None:
        return result
    return _clip(
        result,
        cap=risk.max_total_lots,
        held=exposure.total_lots,
        spec=spec,
        skip_reason=SkipReason.MAX_TOTAL_LOTS,
        adjustment=AdjustmentReason.CLIPPED_TO_MAX_TOTAL_LOTS,
        what="in total",
    )
