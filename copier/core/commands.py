"""Command ids and the master -> follower translation of symbol, side and stops.

``command_id`` is a pure function of (master account, master intent id,
follower account), so processing the same intent twice can never produce two
different commands: a store that keeps command ids unique drops the second.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

from schemas.codes import OrderType, Side
from schemas.subscriptions import SubscriptionSettings

__all__ = [
    "COMMAND_ID_PREFIX",
    "derive_command_id",
    "follower_order_type",
    "follower_side",
    "follower_stops",
    "follower_symbol",
    "losing_stop",
    "retry_command_id",
]

#: Every derived command id starts with this.
COMMAND_ID_PREFIX = "cmd-"

_SEPARATOR = "\x1f"  # ASCII unit separator: cannot occur in account ids


def derive_command_id(master_account_id: str, intent_id: str, follower_account_id: str) -> str:
    """Deterministic command id of one intent copied to one follower.

    Args:
        master_account_id: the master account.
        intent_id: id of the master's OrderIntent envelope (or a synthetic id).
        follower_account_id: the follower account.

    Returns:
        ``cmd-`` followed by 32 hex digits of SHA-256 over the three parts.
    """
    material = _SEPARATOR.join((master_account_id, intent_id, follower_account_id))
    digest = hashlib.sha256(material.encode("utf-8")).hexdigest()
    return f"{COMMAND_ID_PREFIX}{digest[:32]}"


def retry_command_id(command_id: str, attempt: int) -> str:
    """Id of the `attempt`-th retry (1, 2, ...) of a command; attempt 0 is the original.

    Retries are new commands (the EA may have recorded the rejected id as done),
    but their ids are still derived, so re-deciding a retry is idempotent too.
    """
    base = command_id.split(".r", 1)[0]
    return base if attempt <= 0 else f"{base}.r{attempt}"


def follower_symbol(settings: SubscriptionSettings, master_symbol: str) -> str:
    """The follower's symbol: `symbol_map` entry, else the same name."""
    return settings.symbol_map.get(master_symbol, master_symbol)


def follower_side(settings: SubscriptionSettings, side: Side) -> Side:
    """The follower's side: flipped for `reverse` subscriptions."""
    return side.opposite if settings.reverse else side


def follower_order_type(settings: SubscriptionSettings, order_type: OrderType) -> OrderType:
    """The follower's order type: for `reverse`, limit <-> stop.

    A buy limit below the market reversed is a sell *stop* below the market (a
    sell limit there would be invalid), and vice versa.
    """
    if not settings.reverse or order_type is OrderType.MARKET:
        return order_type
    return OrderType.STOP if order_type is OrderType.LIMIT else OrderType.LIMIT


def follower_stops(
    settings: SubscriptionSettings, sl: Decimal | None, tp: Decimal | None
) -> tuple[Decimal | None, Decimal | None]:
    """The follower's (sl, tp): none when `copy_sl_tp` is off, swapped for `reverse`."""
    if not settings.copy_sl_tp:
        return None, None
    return (tp, sl) if settings.reverse else (sl, tp)


def losing_stop(
    settings: SubscriptionSettings, sl: Decimal | None, tp: Decimal | None
) -> Decimal | None:
    """The master price at which the *follower* loses: SL, or TP when reversed.

    Used by fixed_fractional sizing, also when `copy_sl_tp` is off (then the
    follower's order carries no stop, so the loss is not actually bounded).
    MT4 writes 0 for "no stop"; that is returned as None.
    """
    stop = tp if settings.reverse else sl
    if stop is None or stop <= 0:
        return None
    return stop
