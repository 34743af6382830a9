"""Command ids and the master -> follower translation of symbol, side and stops.

``command_id`` is a pure function of (master account, master intent id,
follower account), so processing the same intent twice can never produce two
different commands: a store that keeps command ids unique drops the second.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from functools import lru_cache

from annotated_types import MaxLen

from schemas.codes import Action, OrderType, Side
from schemas.messages import OrderCommandPayload
from schemas.subscriptions import SubscriptionSettings

__all__ = [
    "COMMAND_ID_PREFIX",
    "derive_command_id",
    "follower_order_type",
    "follower_side",
    "follower_stops",
    "follower_symbol",
    "losing_stop",
    "order_command",
    "retry_command_id",
    "with_command_id",
]

#: Every derived command id starts with this.
COMMAND_ID_PREFIX = "cmd-"

_SEPARATOR = "\x1f"  # ASCII unit separator: cannot occur in account ids


@lru_cache(maxsize=8192)
def derive_command_id(master_account_id: str, intent_id: str, follower_account_id: str) -> str:
    """Deterministic command id of one intent copied to one follower.

    Args:
        master_account_id: the master account.
        intent_id: id of the master's OrderIntent envelope (or a synthetic id).
        follower_account_id: the follower account.

    Returns:
        ``cmd-`` followed by 32 hex digits of SHA-256 over the three parts.

    Memoised: one fan-out asks for the same id several times (pure, so safe).
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


#: `command_id` of a command shape; replaced by the real id in `order_command`.
_SHAPE_ID = "cmd-shape"

#: Longest command id the wire accepts (`OrderCommandPayload.command_id`).
_MAX_COMMAND_ID = next(
    m.max_length
    for m in OrderCommandPayload.model_fields["command_id"].metadata
    if isinstance(m, MaxLen)
)


@lru_cache(maxsize=1024)
def _shape(
    action: Action,
    symbol: str,
    side: Side,
    order_type: OrderType,
    volume: Decimal,
    master_ticket: int,
    ticket: int | None,
    price: Decimal | None,
    sl: Decimal | None,
    tp: Decimal | None,
    expires_at: int | None,
    master_account_id: str | None,
) -> OrderCommandPayload:
    return OrderCommandPayload(
        command_id=_SHAPE_ID,
        action=action,
        symbol=symbol,
        side=side,
        order_type=order_type,
        volume=volume,
        master_ticket=master_ticket,
        ticket=ticket,
        price=price,
        sl=sl,
        tp=tp,
        expires_at=expires_at,
        master_account_id=master_account_id,
    )


def order_command(
    command_id: str,
    *,
    action: Action,
    symbol: str,
    side: Side,
    order_type: OrderType,
    volume: Decimal,
    master_ticket: int,
    ticket: int | None = None,
    price: Decimal | None = None,
    sl: Decimal | None = None,
    tp: Decimal | None = None,
    expires_at: int | None = None,
    master_account_id: str | None = None,
) -> OrderCommandPayload:
    """A validated `OrderCommandPayload`, equal to constructing it directly.

    The followers of one intent mostly get commands that differ only by their id.
    Everything but the id is validated once per distinct set of values (the
    *shape*, memoised); each command is that shape with its own id, which is
    checked against the same length limit the model enforces. (Numerically equal
    Decimals share a shape, e.g. ``0.1`` and ``0.10``: the same JSON number.)

    Raises:
        ValueError: the id is empty or too long, or a field is invalid
            (`pydantic.ValidationError`).
    """
    if not 0 < len(command_id) <= _MAX_COMMAND_ID:
        raise ValueError(f"command_id must have 1 to {_MAX_COMMAND_ID} characters")
    shape = _shape(
        action,
        symbol,
        side,
        order_type,
        volume,
        master_ticket,
        ticket,
        price,
        sl,
        tp,
        expires_at,
        master_account_id,
    )
    return _with_id(shape, command_id)


def with_command_id(command: OrderCommandPayload, command_id: str) -> OrderCommandPayload:
    """`command` with another id (equal to validating it with that id).

    Raises:
        ValueError: the id is empty or too long.
    """
    if not 0 < len(command_id) <= _MAX_COMMAND_ID:
        raise ValueError(f"command_id must have 1 to {_MAX_COMMAND_ID} characters")
    return _with_id(command, command_id)


def _with_id(shape: OrderCommandPayload, command_id: str) -> OrderCommandPayload:
    """`shape` with another id: what ``model_copy(update=...)`` does, at half its cost.

    The shape was validated with an id, so its set of explicitly given fields
    already names ``command_id``; a frozen model can share it.
    """
    command = OrderCommandPayload.__new__(OrderCommandPayload)
    _set(command, "__dict__", {**shape.__dict__, "command_id": command_id})
    _set(command, "__pydantic_fields_set__", shape.__pydantic_fields_set__)
    _set(command, "__pydantic_extra__", shape.__pydantic_extra__)
    _set(command, "__pydantic_private__", shape.__pydantic_private__)
    return command


_set = object.__setattr__  # bypasses the frozen model's guard (the instance is new)
