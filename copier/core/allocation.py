"""Allocation: how many lots the follower trades for a master order. Pure, exact.

Two steps:

1. `raw_volume` applies the subscription's allocation mode:

   - ``mirror``: master lots x multiplier;
   - ``proportional``: master lots x follower equity / master equity x multiplier;
   - ``fixed_fractional``: risk_fraction x follower equity / loss per lot, where the
     loss per lot is what one lot loses between the entry and the stop (see
     `loss_per_lot`); no stop -> not copied;
   - ``fixed_lot``: lots.

2. `normalize_volume` fits the raw volume to the follower's symbol: cap at
   ``max_lot``, round *down* to a multiple of ``lot_step``, and skip when the
   result is below ``min_lot``.

All arithmetic is `Decimal`; nothing here ever touches a float.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from copier.core.outcomes import Adjustment, AdjustmentReason, Skip, SkipReason
from copier.errors import InvalidInput
from schemas.messages import SymbolSpec
from schemas.subscriptions import (
    Allocation,
    FixedFractionalAllocation,
    FixedLotAllocation,
    MirrorAllocation,
    ProportionalAllocation,
)

__all__ = [
    "Sized",
    "SizingInput",
    "fmt_lots",
    "loss_per_lot",
    "normalize_volume",
    "raw_volume",
    "round_down",
    "size_order",
]

_ZERO = Decimal(0)
_FMT_QUANTUM = Decimal("1e-8")


@dataclass(frozen=True, slots=True)
class SizingInput:
    """Everything allocation needs to know about one master order."""

    master_volume: Decimal  # master lots of the order
    entry_price: Decimal  # master's open price (market) or entry price (pending)
    stop_price: Decimal | None  # the follower's losing exit: master SL (or TP when reversed)
    follower_equity: Decimal | None  # follower equity, if reported
    master_equity: Decimal | None  # master equity, if reported
    spec: SymbolSpec  # the follower's symbol properties


@dataclass(frozen=True, slots=True)
class Sized:
    """A volume that fits the symbol: a multiple of lot_step in [min_lot, max_lot]."""

    volume: Decimal  # lots to send
    adjustments: tuple[Adjustment, ...] = ()  # caps that reduced the volume


def round_down(volume: Decimal, step: Decimal) -> Decimal:
    """Round `volume` down to a multiple of `step`.

    Args:
        volume: non-negative lots.
        step: the symbol's lot_step (> 0).

    Returns:
        The largest multiple of `step` that is <= `volume`.

    Raises:
        InvalidInput: if `step` is not positive or `volume` is negative.
    """
    if step <= _ZERO:
        raise InvalidInput("lot_step", f"must be > 0, got {step}")
    if volume < _ZERO:
        raise InvalidInput("volume", f"must be >= 0, got {volume}")
    return (volume // step) * step


def loss_per_lot(spec: SymbolSpec, entry: Decimal, stop: Decimal) -> Decimal:
    """Account-currency loss of one lot moving from `entry` to `stop`.

    When the follower EA reported ``tick_value`` and ``tick_size`` for the symbol,
    the loss is ``distance / tick_size x tick_value`` — exact for any quote currency,
    because MT4's tick value is already in the account currency.

    Otherwise the contract-size formula ``distance x contract_size`` is used. It is
    only right when the symbol's quote currency is the account currency (EURUSD on
    a USD account); on other symbols it is off by the quote->account rate.

    Args:
        spec: the follower's symbol properties.
        entry: entry price.
        stop: stop price.

    Returns:
        The loss per lot (0 when entry equals stop).
    """
    distance = abs(entry - stop)
    if spec.tick_value is not None and spec.tick_size is not None:
        return distance / spec.tick_size * spec.tick_value
    return distance * spec.contract_size


def _fixed_fractional(alloc: FixedFractionalAllocation, inp: SizingInput) -> Decimal | Skip:
    if inp.stop_price is None or inp.stop_price <= _ZERO:
        return Skip(
            SkipReason.NO_STOP_LOSS,
            "fixed_fractional needs the master's stop loss to size the order; the order has none",
        )
    if inp.follower_equity is None or inp.follower_equity <= _ZERO:
        return Skip(SkipReason.EQUITY_UNKNOWN, "fixed_fractional needs the follower's equity")
    per_lot = loss_per_lot(inp.spec, inp.entry_price, inp.stop_price)
    if per_lot <= _ZERO:
        return Skip(
            SkipReason.ZERO_STOP_DISTANCE,
            f"stop {inp.stop_price} equals entry {inp.entry_price}: risk per lot is zero",
        )
    return alloc.risk_fraction * inp.follower_equity / per_lot


def raw_volume(allocation: Allocation, inp: SizingInput) -> Decimal | Skip:
    """The volume the allocation mode asks for, before fitting it to the symbol.

    Args:
        allocation: the subscription's allocation.
        inp: the master order and the follower's figures.

    Returns:
        Unrounded lots, or a `Skip` when the mode cannot size the order.
    """
    if isinstance(allocation, MirrorAllocation):
        return inp.master_volume * allocation.multiplier
    if isinstance(allocation, ProportionalAllocation):
        if inp.follower_equity is None or inp.follower_equity <= _ZERO:
            return Skip(SkipReason.EQUITY_UNKNOWN, "proportional needs the follower's equity")
        if inp.master_equity is None or inp.master_equity <= _ZERO:
            return Skip(SkipReason.EQUITY_UNKNOWN, "proportional needs the master's equity")
        return inp.master_volume * inp.follower_equity / inp.master_equity * allocation.multiplier
    if isinstance(allocation, FixedFractionalAllocation):
        return _fixed_fractional(allocation, inp)
    assert isinstance(allocation, FixedLotAllocation)
    return allocation.lots


def normalize_volume(volume: Decimal, spec: SymbolSpec) -> Sized | Skip:
    """Cap at max_lot, round down to lot_step, skip below min_lot.

    Capping comes first so the result is always a multiple of lot_step, even
    when a broker's max_lot is not one.

    Args:
        volume: raw lots (>= 0).
        spec: the follower's symbol properties.

    Returns:
        `Sized` whose volume is a multiple of lot_step within [min_lot, max_lot],
        or `Skip(BELOW_MIN_LOT)`.
    """
    adjustments: tuple[Adjustment, ...] = ()
    capped = volume
    if volume > spec.max_lot:
        capped = spec.max_lot
    rounded = round_down(capped, spec.lot_step)
    if capped != volume:
        adjustments = (Adjustment(AdjustmentReason.CAPPED_AT_MAX_LOT, volume, rounded),)
    if rounded < spec.min_lot or rounded <= _ZERO:
        return Skip(
            SkipReason.BELOW_MIN_LOT,
            f"{fmt_lots(volume)} lots round down to {fmt_lots(rounded)} with lot_step "
            f"{spec.lot_step}, below min_lot {spec.min_lot} of {spec.symbol}",
        )
    return Sized(rounded, adjustments)


def size_order(allocation: Allocation, inp: SizingInput) -> Sized | Skip:
    """Allocation, then fitting to the symbol: `raw_volume` then `normalize_volume`.

    Args:
        allocation: the subscription's allocation.
        inp: the master order and the follower's figures.

    Returns:
        The volume to send, or why nothing is sent.
    """
    raw = raw_volume(allocation, inp)
    if isinstance(raw, Skip):
        return raw
    return normalize_volume(raw, inp.spec)


def fmt_lots(value: Decimal) -> str:
    """A short human form of a Decimal for messages (at most 8 decimals, no exponent)."""
    with suppress(InvalidOperation):  # too many digits to quantize: print as is
        value = value.quantize(_FMT_QUANTUM)
    return f"{value.normalize():f}"
