"""Risk guards: drawdown, open positions, order rate, lot caps (clip or skip)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from copier.core import (
    AdjustmentReason,
    Alert,
    Exposure,
    Sized,
    Skip,
    SkipReason,
    SwitchStatus,
    check_drawdown,
    check_entry,
    clip_to_lot_caps,
    drawdown_pct,
    orders_in_window,
    update_peak,
)
from copier.core.risk import uses_exposure
from schemas.codes import Severity
from schemas.subscriptions import RiskSettings, SubscriptionStatus

from .builders import NOW, D, spec


def risk(**fields: object) -> RiskSettings:
    return RiskSettings.model_validate(fields)


def entry(
    settings: RiskSettings,
    exposure: Exposure | None = None,
    *,
    equity: str = "10000",
    peak: str = "10000",
    orders: tuple[int, ...] = (),
) -> SkipReason | None:
    blocked = check_entry(
        settings,
        exposure or Exposure(),
        equity=D(equity),
        equity_peak=D(peak),
        recent_order_ms=orders,
        now_ms=NOW,
    )
    return None if blocked is None else blocked.skip.reason


# -- drawdown ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("equity", "peak", "expected"),
    [("10000", "10000", "0"), ("8000", "10000", "20"), ("12000", "10000", "0"), ("5", "0", "0")],
)
def test_drawdown_is_measured_from_the_equity_peak(equity: str, peak: str, expected: str) -> None:
    assert drawdown_pct(D(equity), D(peak)) == D(expected)


@pytest.mark.parametrize(
    ("peak", "equity", "expected"),
    [(None, "5", "5"), ("5", None, "5"), ("5", "7", "7"), ("7", "5", "7"), (None, None, None)],
)
def test_equity_peak_is_a_high_water_mark(
    peak: str | None, equity: str | None, expected: str | None
) -> None:
    def as_dec(value: str | None) -> Decimal | None:
        return None if value is None else D(value)

    assert update_peak(as_dec(peak), as_dec(equity)) == as_dec(expected)


@pytest.mark.parametrize(
    ("limit", "equity", "blocked"),
    [
        ("20", "8001", False),
        ("20", "8000", True),  # exactly at the limit is a breach
        ("20", "7000", True),
        ("5", "9600", False),
    ],
)
def test_drawdown_guard_blocks_at_the_limit(limit: str, equity: str, blocked: bool) -> None:
    result = check_drawdown(risk(max_drawdown_pct=limit), D(equity), D(10_000))
    assert (result is not None) is blocked


def test_drawdown_breach_switches_the_subscription_to_close_only_and_alerts() -> None:
    result = check_drawdown(risk(max_drawdown_pct=10), D(8_500), D(10_000))
    assert result is not None
    assert result.skip.reason is SkipReason.MAX_DRAWDOWN
    switch, alert = result.effects
    assert isinstance(switch, SwitchStatus) and switch.status is SubscriptionStatus.CLOSE_ONLY
    assert switch.reason is SkipReason.MAX_DRAWDOWN
    assert isinstance(alert, Alert) and alert.severity is Severity.CRITICAL
    payload = alert.to_payload(ref_id="i-1")
    assert payload.code == "max_drawdown" and payload.ref_id == "i-1"
    assert "15" in payload.message  # the drawdown in percent


@pytest.mark.parametrize(("equity", "peak"), [(None, D(1)), (D(1), None)])
def test_drawdown_guard_passes_when_it_cannot_be_measured(
    equity: Decimal | None, peak: Decimal | None
) -> None:
    assert check_drawdown(risk(max_drawdown_pct=1), equity, peak) is None


# -- counts and rate ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "open_positions", "expected"),
    [
        (None, 99, None),
        (3, 2, None),
        (3, 3, SkipReason.MAX_OPEN_POSITIONS),
        (0, 0, SkipReason.MAX_OPEN_POSITIONS),
    ],
)
def test_max_open_positions_guard(
    limit: int | None, open_positions: int, expected: SkipReason | None
) -> None:
    settings = risk(max_open_positions=limit)
    assert entry(settings, Exposure(open_positions=open_positions)) is expected


@pytest.mark.parametrize(
    ("limit", "ages_ms", "expected"),
    [
        (3, (1_000, 30_000, 59_999), SkipReason.MAX_ORDERS_PER_MINUTE),
        (3, (1_000, 30_000, 60_000), None),  # the oldest just left the window
        (3, (1_000, 30_000), None),
        (1, (-500,), SkipReason.MAX_ORDERS_PER_MINUTE),  # clock skew: counted
        (None, (0, 0, 0, 0), None),
    ],
)
def test_max_orders_per_minute_uses_a_sliding_60s_window(
    limit: int | None, ages_ms: tuple[int, ...], expected: SkipReason | None
) -> None:
    times = tuple(NOW - age for age in ages_ms)
    assert entry(risk(max_orders_per_minute=limit), orders=times) is expected


def test_orders_in_window_counts_only_the_last_minute() -> None:
    assert orders_in_window([NOW - 120_000, NOW - 60_000, NOW - 59_999, NOW], NOW) == 2


def test_drawdown_is_checked_before_the_other_guards() -> None:
    settings = risk(max_drawdown_pct=10, max_open_positions=0)
    assert entry(settings, equity="5000") is SkipReason.MAX_DRAWDOWN


# -- lot caps: clip down to the room left, skip below min_lot --------------------------


@pytest.mark.parametrize(
    ("caps", "held_symbol", "held_total", "volume", "expected", "adjustment"),
    [
        ({"max_lots_per_symbol": 2}, "0.5", "0.5", "1", "1", None),
        ({"max_lots_per_symbol": 2}, "1.5", "1.5", "1", "0.5", "per_symbol"),
        ({"max_lots_per_symbol": "1.255"}, "0", "0", "2", "1.25", "per_symbol"),
        ({"max_total_lots": 3}, "0", "2.7", "1", "0.3", "total"),
        ({"max_lots_per_symbol": 2, "max_total_lots": 3}, "1.5", "2.8", "1", "0.2", "both"),
        ({"max_lots_per_symbol": 2}, "2", "2", "1", SkipReason.MAX_LOTS_PER_SYMBOL, None),
        ({"max_lots_per_symbol": 2}, "1.995", "0", "1", SkipReason.MAX_LOTS_PER_SYMBOL, None),
        ({"max_total_lots": 3}, "0", "3.5", "1", SkipReason.MAX_TOTAL_LOTS, None),
    ],
)
def test_lot_caps_clip_to_the_room_left_or_skip_below_min_lot(
    caps: dict[str, object],
    held_symbol: str,
    held_total: str,
    volume: str,
    expected: str | SkipReason,
    adjustment: str | None,
) -> None:
    exposure = Exposure(1, {"EURUSD": D(held_symbol)}, D(held_total))
    result = clip_to_lot_caps(risk(**caps), exposure, Sized(D(volume)), spec())
    if isinstance(expected, SkipReason):
        assert isinstance(result, Skip) and result.reason is expected
        return
    assert isinstance(result, Sized) and result.volume == D(expected)
    reasons = [a.reason for a in result.adjustments]
    assert (
        reasons
        == {
            None: [],
            "per_symbol": [AdjustmentReason.CLIPPED_TO_MAX_LOTS_PER_SYMBOL],
            "total": [AdjustmentReason.CLIPPED_TO_MAX_TOTAL_LOTS],
            "both": [
                AdjustmentReason.CLIPPED_TO_MAX_LOTS_PER_SYMBOL,
                AdjustmentReason.CLIPPED_TO_MAX_TOTAL_LOTS,
            ],
        }[adjustment]
    )


def test_lots_per_symbol_counts_only_that_symbol() -> None:
    exposure = Exposure(1, {"GBPUSD": D(5)}, D(5))
    result = clip_to_lot_caps(risk(max_lots_per_symbol=1), exposure, Sized(D(1)), spec())
    assert isinstance(result, Sized) and result.volume == D(1)


@pytest.mark.parametrize(
    ("risk", "reads_exposure"),
    [
        ({}, False),
        ({"max_drawdown_pct": 20, "max_orders_per_minute": 5}, False),
        ({"max_open_positions": 3}, True),
        ({"max_lots_per_symbol": 2}, True),
        ({"max_total_lots": 5}, True),
    ],
)
def test_planner_measures_exposure_only_for_guards_that_read_it(
    risk: dict[str, object], reads_exposure: bool
) -> None:
    assert uses_exposure(RiskSettings.model_validate(risk)) is reads_exposure
