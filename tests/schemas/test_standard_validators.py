"""The generated JSON Schemas mean the same to a standard validator as to pydantic.

`jsonschema`'s Draft 2020-12 validator checks every committed schema (and every
component of the OpenAPI and AsyncAPI documents) and decides valid and invalid
examples the way the models do: bounds are written as ``minimum`` /
``exclusiveMinimum`` / ``maximum``, never as pydantic's ``ge``/``gt``/``le``.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator
from pydantic import TypeAdapter, ValidationError

from schemas import envelope, subscriptions
from schemas.generate import JSON_DIR
from schemas.json_schema import STANDARD_KEYWORDS
from tests.schemas.test_envelopes import intent

NOW = 1_763_800_000_123


def _load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads((JSON_DIR / name).read_bytes())
    return document


def _keys(node: object, inside_properties: bool = False) -> set[str]:
    if isinstance(node, dict):
        own = set() if inside_properties else set(node)
        return own | {
            k for key, value in node.items() for k in _keys(value, key in ("properties", "$defs"))
        }
    if isinstance(node, list):
        return {k for value in node for k in _keys(value)}
    return set()


@pytest.mark.parametrize("path", sorted(JSON_DIR.glob("*.json")), ids=lambda p: p.name)
def test_generated_schema_uses_only_standard_bound_keywords(path: Any) -> None:
    assert not _keys(orjson.loads(path.read_bytes())) & set(STANDARD_KEYWORDS)


@pytest.mark.parametrize(
    "path",
    [p for p in sorted(JSON_DIR.glob("*.json")) if p.stem not in ("openapi", "asyncapi")],
    ids=lambda p: p.name,
)
def test_generated_schema_is_a_valid_draft_2020_12_schema(path: Any) -> None:
    Draft202012Validator.check_schema(orjson.loads(path.read_bytes()))


@pytest.mark.parametrize("name", ["openapi.json", "asyncapi.json"])
def test_every_api_document_component_is_a_valid_draft_2020_12_schema(name: str) -> None:
    for schema in _load(name)["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def _subscription(**fields: object) -> dict[str, object]:
    return {"allocation": {"mode": "mirror", "multiplier": 1.0}} | fields


_CASES = [
    ("ClientEnvelope.json", envelope.ClientEnvelope, intent(), True),
    ("ClientEnvelope.json", envelope.ClientEnvelope, intent(volume=0), False),
    ("ClientEnvelope.json", envelope.ClientEnvelope, intent(price=-1), False),
    ("ClientEnvelope.json", envelope.ClientEnvelope, intent(ticket=-3), False),
    ("ClientEnvelope.json", envelope.ClientEnvelope, intent(side="up"), False),
    (
        "ClientEnvelope.json",
        envelope.ClientEnvelope,
        {"type": "StatusHeartbeat", "id": "h", "ts": NOW, "payload": {"ack_seq": -1}},
        False,
    ),
    (
        "ClientEnvelope.json",
        envelope.ClientEnvelope,
        {"type": "StatusHeartbeat", "id": "h", "ts": NOW, "payload": {"ack_seq": 4}},
        True,
    ),
    ("SubscriptionSettings.json", subscriptions.SubscriptionSettings, _subscription(), True),
    (
        "SubscriptionSettings.json",
        subscriptions.SubscriptionSettings,
        _subscription(allocation={"mode": "mirror", "multiplier": 0}),
        False,
    ),
    (
        "SubscriptionSettings.json",
        subscriptions.SubscriptionSettings,
        _subscription(allocation={"mode": "fixed_fractional", "risk_fraction": 1.5}),
        False,
    ),
    (
        "SubscriptionSettings.json",
        subscriptions.SubscriptionSettings,
        _subscription(risk={"max_drawdown_pct": 101}),
        False,
    ),
    (
        "SubscriptionSettings.json",
        subscriptions.SubscriptionSettings,
        _subscription(max_signal_age_ms=0),
        False,
    ),
]


@pytest.mark.parametrize(("name", "model", "example", "valid"), _CASES)
def test_standard_validator_agrees_with_the_model_on(
    name: str, model: Any, example: dict[str, object], valid: bool
) -> None:
    validator = Draft202012Validator(_load(name))
    assert validator.is_valid(example) is valid
    try:
        TypeAdapter(model).validate_python(example)
        model_valid = True
    except ValidationError:
        model_valid = False
    assert model_valid is valid
