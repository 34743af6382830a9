"""Shared field types: exact decimals that travel as JSON numbers, ids and times."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, PlainSerializer, StringConstraints

__all__ = [
    "MAX_SIGNIFICANT_DIGITS",
    "AccountId",
    "EpochMs",
    "MessageId",
    "NonNegativeDecimal",
    "PositiveDecimal",
    "Price",
    "Seq",
    "Symbol",
    "Ticket",
    "Volume",
    "decimal_to_json_number",
    "decimal_to_plain_text",
]

#: A JSON number with at most this many significant digits survives the
#: Decimal -> IEEE double -> shortest repr round trip exactly, so the gateway
#: can emit plain JSON numbers (the contract) without ever losing a digit.
MAX_SIGNIFICANT_DIGITS = 15


def _exact_decimal(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    digits = len(value.normalize().as_tuple().digits)
    if digits > MAX_SIGNIFICANT_DIGITS:
        raise ValueError(f"at most {MAX_SIGNIFICANT_DIGITS} significant digits are allowed")
    return value


def decimal_to_json_number(value: Decimal) -> float | int:
    """Serialise a Decimal as a JSON number whose text equals the decimal value.

    Exact because every accepted Decimal has at most 15 significant digits.
    """
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def decimal_to_plain_text(value: Decimal) -> str:
    """The JSON number text of a Decimal in plain notation, never with an exponent.

    MQL4's StringToDouble does not document exponents (``1e-05``), so prices and
    volumes go on the wire as ``0.00001``; integral values keep a ``.0`` as before.
    """
    if value == value.to_integral_value():
        return f"{int(value)}.0"
    return format(value.normalize(), "f")


_ExactDecimal = Annotated[
    Decimal,
    AfterValidator(_exact_decimal),
    PlainSerializer(decimal_to_json_number, return_type=float, when_used="json"),
]

#: Any exact decimal that is > 0 (lots).
PositiveDecimal = Annotated[_ExactDecimal, Field(gt=0)]
#: Any exact decimal that is >= 0.
NonNegativeDecimal = Annotated[_ExactDecimal, Field(ge=0)]
#: Lots. Exact; the server rounds down to the symbol's lot_step.
Volume = PositiveDecimal
#: A price. 0 means "none" in MT4 for SL/TP.
Price = NonNegativeDecimal

#: Epoch milliseconds (wire times are never strings).
EpochMs = Annotated[int, Field(ge=0)]
#: Per-account server sequence number.
Seq = Annotated[int, Field(ge=0)]
#: MT4 order ticket.
Ticket = Annotated[int, Field(ge=0)]
#: 1-64 chars of [A-Za-z0-9._:-].
AccountId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
]
#: Sender-unique message id.
MessageId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
#: Broker symbol name.
Symbol = Annotated[str, StringConstraints(min_length=1, max_length=32)]
