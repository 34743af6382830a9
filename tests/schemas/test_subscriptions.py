"""Subscription settings: the contract's body, defaults, and 422-worthy validation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.subscriptions import (
    FixedFractionalAllocation,
    FixedLotAllocation,
    MirrorAllocation,
    ProportionalAllocation,
    SubscriptionSettings,
    SubscriptionStatus,
)

CONTRACT_EXAMPLE: dict[str, Any] = {
    "allocation": {"mode": "mirror", "multiplier": 1.0},
    "symbol_map": {"EURUSD": "EURUSD.m"},
    "reverse": False,
    "copy_sl_tp": True,
    "copy_pending": True,
    "max_signal_age_ms": 30000,
    "pending_fill_grace_ms": 3000,
    "status": "active",
    "risk": {
        "max_drawdown_pct": None,
        "max_open_positions": None,
        "max_lots_per_symbol": None,
        "max_total_lots": None,
        "max_orders_per_minute": None,
    },
}


def error_locs(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    with pytest.raises(ValidationError) as caught:
        SubscriptionSettings.model_validate(body)
    return [e["loc"] for e in caught.value.errors()]


def test_contract_example_round_trips_exactly() -> None:
    settings = SubscriptionSettings.model_validate(CONTRACT_EXAMPLE)
    assert settings.model_dump(mode="json") == CONTRACT_EXAMPLE


def test_empty_body_gets_the_documented_defaults() -> None:
    settings = SubscriptionSettings.model_validate({})
    assert settings.allocation == MirrorAllocation(multiplier=Decimal(1))
    assert (settings.reverse, settings.copy_sl_tp, settings.copy_pending) == (False, True, True)
    assert settings.max_signal_age_ms == 30_000
    assert settings.status is SubscriptionStatus.ACTIVE
    assert settings.symbol_map == {}


@pytest.mark.parametrize(
    ("allocation", "model", "field", "value"),
    [
        ({"mode": "mirror", "multiplier": 2.5}, MirrorAllocation, "multiplier", Decimal("2.5")),
        ({"mode": "proportional"}, ProportionalAllocation, "multiplier", Decimal(1)),
        (
            {"mode": "fixed_fractional", "risk_fraction": 0.01},
            FixedFractionalAllocation,
            "risk_fraction",
            Decimal("0.01"),
        ),
        ({"mode": "fixed_lot", "lots": 0.1}, FixedLotAllocation, "lots", Decimal("0.1")),
        (  # a flat client sending every field, unused ones as null
            {"mode": "fixed_lot", "lots": 0.1, "multiplier": None, "risk_fraction": None},
            FixedLotAllocation,
            "lots",
            Decimal("0.1"),
        ),
    ],
)
def test_allocation_mode_selects_the_model(
    allocation: dict[str, Any], model: type, field: str, value: Decimal
) -> None:
    parsed = SubscriptionSettings.model_validate({"allocation": allocation}).allocation
    assert isinstance(parsed, model)
    assert getattr(parsed, field) == value


def test_decimals_are_exact() -> None:
    parsed = SubscriptionSettings.model_validate(
        {"allocation": {"mode": "mirror", "multiplier": 0.1}}
    )
    assert isinstance(parsed.allocation, MirrorAllocation)
    assert parsed.allocation.multiplier == Decimal("0.1")


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"allocation": {"mode": "martingale"}}, ("allocation",)),
        ({"allocation": {"multiplier": 2}}, ("allocation",)),
        ({"allocation": {"mode": "fixed_lot"}}, ("allocation", "fixed_lot", "lots")),
        (
            {"allocation": {"mode": "fixed_fractional"}},
            ("allocation", "fixed_fractional", "risk_fraction"),
        ),
        (
            {"allocation": {"mode": "fixed_fractional", "risk_fraction": 0}},
            ("allocation", "fixed_fractional", "risk_fraction"),
        ),
        (
            {"allocation": {"mode": "fixed_fractional", "risk_fraction": 1.5}},
            ("allocation", "fixed_fractional", "risk_fraction"),
        ),
        (
            {"allocation": {"mode": "mirror", "multiplier": -1}},
            ("allocation", "mirror", "multiplier"),
        ),
        (
            {"allocation": {"mode": "mirror", "multiplier": 5000}},
            ("allocation", "mirror", "multiplier"),
        ),
        ({"allocation": {"mode": "fixed_lot", "lots": 0}}, ("allocation", "fixed_lot", "lots")),
        ({"status": "stopped"}, ("status",)),
        ({"max_signal_age_ms": 0}, ("max_signal_age_ms",)),
        ({"symbol_map": {"EURUSD": ""}}, ("symbol_map", "EURUSD")),
        ({"risk": {"max_drawdown_pct": 0}}, ("risk", "max_drawdown_pct")),
        ({"risk": {"max_drawdown_pct": 101}}, ("risk", "max_drawdown_pct")),
        ({"risk": {"max_open_positions": -1}}, ("risk", "max_open_positions")),
        ({"risk": {"max_lots_per_symbol": 0}}, ("risk", "max_lots_per_symbol")),
        ({"risk": {"max_total_lots": "lots"}}, ("risk", "max_total_lots")),
        ({"risk": {"max_orders_per_minute": 1.5}}, ("risk", "max_orders_per_minute")),
        ({"reverse": "sometimes"}, ("reverse",)),
    ],
)
def test_invalid_settings_name_the_offending_field(
    body: dict[str, Any], loc: tuple[Any, ...]
) -> None:
    assert loc in error_locs(body)


@pytest.mark.parametrize(
    ("allocation", "foreign"),
    [
        ({"mode": "mirror", "lots": 1}, "lots"),
        ({"mode": "fixed_lot", "lots": 1, "multiplier": 2}, "multiplier"),
        ({"mode": "proportional", "risk_fraction": 0.01}, "risk_fraction"),
        ({"mode": "fixed_fractional", "risk_fraction": 0.01, "lots": 1}, "lots"),
    ],
)
def test_a_field_of_another_allocation_mode_is_rejected_not_ignored(
    allocation: dict[str, Any], foreign: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        SubscriptionSettings.model_validate({"allocation": allocation})
    (error,) = caught.value.errors()
    assert foreign in error["msg"] and allocation["mode"] in error["msg"]


def test_unknown_top_level_fields_are_ignored() -> None:
    settings = SubscriptionSettings.model_validate({"note": "extra optional fields are allowed"})
    assert settings == SubscriptionSettings()


def test_settings_are_frozen_values() -> None:
    settings = SubscriptionSettings()
    with pytest.raises(ValidationError):
        settings.reverse = True  # type: ignore[misc]
