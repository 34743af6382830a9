"""Issue 13, item 4: every allocation and risk number has a sane upper bound, enforced
by the model and published in the generated JSON Schema."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.generate import JSON_DIR
from schemas.subscriptions import SUBSCRIPTION_BOUNDS, SubscriptionSettings


def body_with(path: tuple[str, ...], value: Any, mode: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if path[0] == "allocation":
        body["allocation"] = {"mode": mode, path[1]: value}
    elif path[0] == "risk":
        body["risk"] = {path[1]: value}
    else:
        body[path[0]] = value
    return body


BOUNDED = [
    (("allocation", "lots"), "fixed_lot"),
    (("allocation", "multiplier"), "mirror"),
    (("allocation", "multiplier"), "proportional"),
    (("allocation", "risk_fraction"), "fixed_fractional"),
    (("risk", "max_drawdown_pct"), None),
    (("risk", "max_open_positions"), None),
    (("risk", "max_lots_per_symbol"), None),
    (("risk", "max_total_lots"), None),
    (("risk", "max_orders_per_minute"), None),
    (("max_signal_age_ms",), None),
]


@pytest.mark.parametrize(("path", "mode"), BOUNDED)
def test_subscription_accepts_its_bound_and_refuses_anything_above(
    path: tuple[str, ...], mode: str | None
) -> None:
    low, high = SUBSCRIPTION_BOUNDS[path[-1]]
    SubscriptionSettings.model_validate(body_with(path, high, mode))
    SubscriptionSettings.model_validate(body_with(path, low, mode))
    for too_big in (high * 2, 1e308):
        with pytest.raises(ValidationError):
            SubscriptionSettings.model_validate(body_with(path, too_big, mode))


def test_fixed_lot_of_1e308_is_refused() -> None:
    with pytest.raises(ValidationError):
        SubscriptionSettings.model_validate({"allocation": {"mode": "fixed_lot", "lots": 1e308}})


def test_symbol_map_size_is_bounded() -> None:
    limit = SUBSCRIPTION_BOUNDS["symbol_map"][1]
    SubscriptionSettings.model_validate({"symbol_map": {f"S{i}": "X" for i in range(limit)}})
    with pytest.raises(ValidationError):
        SubscriptionSettings.model_validate(
            {"symbol_map": {f"S{i}": "X" for i in range(limit + 1)}}
        )


def _maxima(schema: Any, found: dict[str, Any]) -> dict[str, Any]:
    if isinstance(schema, dict):
        for name, sub in (schema.get("properties") or {}).items():
            for option in [sub, *sub.get("anyOf", [])]:
                for key in ("maximum", "maxProperties"):
                    if key in option:
                        found[name] = option[key]
        for value in schema.values():
            _maxima(value, found)
    elif isinstance(schema, list):
        for value in schema:
            _maxima(value, found)
    return found


def test_generated_json_schema_publishes_every_bound() -> None:
    schema = json.loads((JSON_DIR / "SubscriptionSettings.json").read_text())
    maxima = _maxima(schema, {})
    for name, (_low, high) in SUBSCRIPTION_BOUNDS.items():
        assert name in maxima, name
        assert float(maxima[name]) == float(high), name
