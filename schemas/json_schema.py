"""JSON Schema generation that standard validators understand.

pydantic writes a numeric bound it cannot push into the core schema (a bound on a
type that already has validators, such as our exact decimals) under the Python
name of the constraint (``"gt": 0``, a Decimal bound even as a string), which no
JSON Schema validator knows. This
generator writes the Draft 2020-12 keywords instead; every committed and served
schema is generated with it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue

if TYPE_CHECKING:
    from pydantic._internal._core_utils import CoreSchemaOrField

__all__ = ["STANDARD_KEYWORDS", "StandardJsonSchema"]

#: pydantic's constraint names mapped to their JSON Schema keywords.
STANDARD_KEYWORDS = {
    "ge": "minimum",
    "gt": "exclusiveMinimum",
    "le": "maximum",
    "lt": "exclusiveMaximum",
}


class StandardJsonSchema(GenerateJsonSchema):
    """`GenerateJsonSchema` writing ``minimum``/``exclusiveMinimum``/... for every bound."""

    def generate_inner(self, schema: CoreSchemaOrField) -> JsonSchemaValue:
        """Generate as pydantic does, then rename Python constraint names to keywords."""
        generated = super().generate_inner(schema)
        return _standardise(generated)


def _standardise(node: JsonSchemaValue) -> JsonSchemaValue:
    if not any(name in node for name in STANDARD_KEYWORDS):
        return node
    return {
        STANDARD_KEYWORDS.get(key, key): _number(value) if key in STANDARD_KEYWORDS else value
        for key, value in node.items()
    }


def _number(bound: object) -> object:
    """A bound as a JSON number (pydantic writes a Decimal bound as a string)."""
    if isinstance(bound, str):
        exact = Decimal(bound)
        return int(exact) if exact == exact.to_integral_value() else float(exact)
    return bound
