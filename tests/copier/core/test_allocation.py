"""Allocation: lots from the allocation mode, fitted to the follower's symbol."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copier.core import (
    AdjustmentReason,
    Sized,
    SizingInput,
    Skip,
    SkipReason,
    loss_per_lot,
    normalize_volume,
    round_down,
    size_order,
)
from copier.errors import InvalidInput
from schemas.messages import SymbolSpec
from schemas.subscriptions import SubscriptionSettings

from .builders import D, spec


def alloc(**fields: object) -> SubscriptionSettings:
    return SubscriptionSettings.model_validate({"allocation": fields})


def sizing(**overrides: object) -> SizingInput:
    fields: dict[str, object] = {
        "master_volume": D(1),
        "entry_price": D("1.10000"),
        "stop_price": D("1.09000"),
        "follower_equity": D(10_000),
        "master_equity": D(10_000),
        "spec": spec(),
    }
    fields.update(overrides)
    return SizingInput(**fields)  # type: ignore[arg-type]


def volume_of(result: Sized | Skip) -> Decimal:
    assert isinstance(result, Sized), result
    return result.volume


# -- the four modes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("allocation", "master_volume", "expected"),
    [
        ({"mode": "mirror"}, "1", "1"),
        ({"mode": "mirror", "multiplier": 2}, "1", "2"),
        ({"mode": "mirror", "multiplier": "0.5"}, "0.37", "0.18"),  # 0.185 rounds down
        ({"mode": "fixed_lot", "lots": "0.5"}, "3", "0.5"),
        ({"mode": "fixed_lot", "lots": "0.123"}, "3", "0.12"),
    ],
)
def test_mirror_and_fixed_lot_volumes(
    allocation: dict[str, object], master_volume: str, expected: str
) -> None:
    result = size_order(alloc(**allocation).allocation, sizing(master_volume=D(master_volume)))
    assert volume_of(result) == D(expected)


@pytest.mark.parametrize(
    ("follower_equity", "master_equity", "multiplier", "expected"),
    [
        ("5000", "20000", "1", "0.25"),  # 1 lot x 5000 / 20000
        ("5000", "20000", "2", "0.5"),
        ("10000", "3000", "1", "3.33"),  # 3.333.. rounds down
        ("100", "100000", "1", None),  # 0.001 lots: below min_lot
    ],
)
def test_proportional_scales_by_equity_ratio(
    follower_equity: str, master_equity: str, multiplier: str, expected: str | None
) -> None:
    result = size_order(
        alloc(mode="proportional", multiplier=multiplier).allocation,
        sizing(follower_equity=D(follower_equity), master_equity=D(master_equity)),
    )
    if expected is None:
        assert isinstance(result, Skip) and result.reason is SkipReason.BELOW_MIN_LOT
    else:
        assert volume_of(result) == D(expected)


@pytest.mark.parametrize("missing", ["follower_equity", "master_equity"])
def test_proportional_without_equity_is_skipped_with_reason(missing: str) -> None:
    result = size_order(alloc(mode="proportional").allocation, sizing(**{missing: None}))
    assert isinstance(result, Skip)
    assert result.reason is SkipReason.EQUITY_UNKNOWN
    assert missing.split("_")[0] in result.message


def test_fixed_fractional_uses_tick_value_when_reported() -> None:
    # USDJPY on a USD account: 1 tick (0.001) of 1 lot is worth 0.6667 USD.
    usdjpy = spec(
        "USDJPY", digits=3, point=D("0.001"), tick_size=D("0.001"), tick_value=D("0.6667")
    )
    result = size_order(
        alloc(mode="fixed_fractional", risk_fraction="0.01").allocation,
        sizing(entry_price=D("150.000"), stop_price=D("149.000"), spec=usdjpy),
    )
    # risk 100 USD / (1000 ticks x 0.6667) = 0.14998 -> 0.14
    assert volume_of(result) == D("0.14")


def test_fixed_fractional_falls_back_to_contract_size() -> None:
    # EURUSD on a USD account: 0.01 x 100 000 = 1000 USD per lot; 1 % of 10 000 = 100.
    result = size_order(alloc(mode="fixed_fractional", risk_fraction="0.01").allocation, sizing())
    assert volume_of(result) == D("0.1")


def test_fixed_fractional_with_tick_value_matches_contract_size_on_quote_currency_account() -> None:
    with_ticks = spec(tick_size=D("0.00001"), tick_value=D(1))
    assert loss_per_lot(with_ticks, D("1.1"), D("1.09")) == loss_per_lot(
        spec(), D("1.1"), D("1.09")
    )


@pytest.mark.parametrize("stop", [None, D(0)])
def test_fixed_fractional_without_stop_loss_is_skipped_with_reason(stop: Decimal | None) -> None:
    result = size_order(
        alloc(mode="fixed_fractional", risk_fraction="0.01").allocation, sizing(stop_price=stop)
    )
    assert isinstance(result, Skip) and result.reason is SkipReason.NO_STOP_LOSS


def test_fixed_fractional_with_stop_at_entry_is_skipped_with_reason() -> None:
    result = size_order(
        alloc(mode="fixed_fractional", risk_fraction="0.01").allocation,
        sizing(stop_price=D("1.10000")),
    )
    assert isinstance(result, Skip) and result.reason is SkipReason.ZERO_STOP_DISTANCE


def test_fixed_fractional_without_follower_equity_is_skipped_with_reason() -> None:
    result = size_order(
        alloc(mode="fixed_fractional", risk_fraction="0.01").allocation,
        sizing(follower_equity=None),
    )
    assert isinstance(result, Skip) and result.reason is SkipReason.EQUITY_UNKNOWN


# -- fitting to the symbol --------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "symbol", "expected"),
    [
        ("0.129", spec(), "0.12"),
        ("0.12", spec(), "0.12"),
        ("1.999999", spec(), "1.99"),
        ("0.37", spec(lot_step=D("0.1"), min_lot=D("0.1")), "0.3"),
        ("7", spec(lot_step=D(1), min_lot=D(1)), "7"),
        ("0.0149", spec(lot_step=D("0.005"), min_lot=D("0.005")), "0.010"),
    ],
)
def test_volume_is_rounded_down_to_lot_step(raw: str, symbol: SymbolSpec, expected: str) -> None:
    assert volume_of(normalize_volume(D(raw), symbol)) == D(expected)


@pytest.mark.parametrize(
    ("raw", "symbol"),
    [
        ("0.009", spec()),
        ("0", spec()),
        ("0.09", spec(min_lot=D("0.1"))),
        ("5", spec(min_lot=D(10), max_lot=D(5))),
    ],
)
def test_volume_below_min_lot_is_skipped_with_reason(raw: str, symbol: SymbolSpec) -> None:
    result = normalize_volume(D(raw), symbol)
    assert isinstance(result, Skip)
    assert result.reason is SkipReason.BELOW_MIN_LOT
    assert "min_lot" in result.message


def test_volume_over_max_lot_is_capped_and_recorded() -> None:
    result = normalize_volume(D(150), spec(max_lot=D(50)))
    assert isinstance(result, Sized)
    assert result.volume == D(50)
    assert [a.reason for a in result.adjustments] == [AdjustmentReason.CAPPED_AT_MAX_LOT]
    assert (result.adjustments[0].before, result.adjustments[0].after) == (D(150), D(50))


def test_cap_at_a_max_lot_off_the_step_grid_still_gives_a_multiple_of_lot_step() -> None:
    assert volume_of(normalize_volume(D(200), spec(max_lot=D("99.995")))) == D("99.99")


@pytest.mark.parametrize(("volume", "step"), [(D(1), D(0)), (D(-1), D("0.01"))])
def test_round_down_rejects_bad_arguments(volume: Decimal, step: Decimal) -> None:
    with pytest.raises(InvalidInput):
        round_down(volume, step)


# -- properties ---------------------------------------------------------------------

_steps = st.sampled_from([D("0.001"), D("0.01"), D("0.05"), D("0.1"), D(1)])


@st.composite
def symbols(draw: st.DrawFn) -> SymbolSpec:
    step = draw(_steps)
    min_lot = step * draw(st.integers(1, 20))
    max_lot = min_lot + draw(
        st.decimals(min_value=0, max_value=500, places=3, allow_nan=False, allow_infinity=False)
    )
    return spec(lot_step=step, min_lot=min_lot, max_lot=max_lot)


raw_volumes = st.decimals(
    min_value=0, max_value=10_000, places=6, allow_nan=False, allow_infinity=False
)


@given(raw=raw_volumes, symbol=symbols())
def test_fitted_volume_is_a_multiple_of_lot_step_within_min_and_max_lot(
    raw: Decimal, symbol: SymbolSpec
) -> None:
    result = normalize_volume(raw, symbol)
    if isinstance(result, Skip):
        assert result.reason is SkipReason.BELOW_MIN_LOT
        assert round_down(min(raw, symbol.max_lot), symbol.lot_step) < symbol.min_lot
        return
    assert symbol.min_lot <= result.volume <= symbol.max_lot
    assert result.volume % symbol.lot_step == 0
    assert result.volume <= raw


@given(
    master_volume=st.decimals(min_value="0.01", max_value=100, places=2),
    multiplier=st.decimals(min_value="0.01", max_value=10, places=2),
    risk=st.decimals(min_value="0.001", max_value="0.1", places=3),
    mode=st.sampled_from(["mirror", "proportional", "fixed_fractional", "fixed_lot"]),
    symbol=symbols(),
)
def test_every_mode_sends_a_valid_volume_or_a_reason(
    master_volume: Decimal, multiplier: Decimal, risk: Decimal, mode: str, symbol: SymbolSpec
) -> None:
    fields: dict[str, object] = {"mode": mode}
    if mode in ("mirror", "proportional"):
        fields["multiplier"] = multiplier
    elif mode == "fixed_fractional":
        fields["risk_fraction"] = risk
    else:
        fields["lots"] = master_volume
    result = size_order(
        alloc(**fields).allocation, sizing(master_volume=master_volume, spec=symbol)
    )
    if isinstance(result, Skip):
        assert result.reason is SkipReason.BELOW_MIN_LOT
    else:
        assert symbol.min_lot <= result.volume <= symbol.max_lot
        assert result.volume % symbol.lot_step == 0
