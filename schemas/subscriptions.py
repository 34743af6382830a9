"""Subscription settings of a follower to a master (wire contract v1, "Subscriptions").

The body of ``PUT /admin/v1/accounts/{follower_id}/subscriptions/{master_id}``::

    {"allocation": {"mode": "mirror", "multiplier": 1.0},
     "symbol_map": {"EURUSD": "EURUSD.m"},
     "reverse": false, "copy_sl_tp": true, "copy_pending": true,
     "max_signal_age_ms": 30000, "status": "active",
     "risk": {"max_drawdown_pct": null, "max_open_positions": null,
              "max_lots_per_symbol": null, "max_total_lots": null,
              "max_orders_per_minute": null}}

Every field has a default, so ``{}`` is a valid body (mirror x1, everything copied,
no risk caps). Unknown fields are ignored, like every other REST body, with one
exception: a non-null field that belongs to *another* allocation mode (``lots`` on a
``mirror`` allocation, say) is rejected, because silently ignoring it would size
orders differently from what the operator wrote.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.types import AccountId, EpochMs, PositiveDecimal, Symbol

__all__ = [
    "MAX_LOTS",
    "MAX_LOT_CAP",
    "MAX_MULTIPLIER",
    "MAX_ORDER_COUNT",
    "MAX_RISK_FRACTION",
    "MAX_SIGNAL_AGE_MS",
    "MAX_SYMBOL_MAP",
    "SUBSCRIPTION_BOUNDS",
    "Allocation",
    "AllocationMode",
    "FixedFractionalAllocation",
    "FixedLotAllocation",
    "MirrorAllocation",
    "ProportionalAllocation",
    "RiskSettings",
    "SubscriptionList",
    "SubscriptionSettings",
    "SubscriptionStatus",
    "SubscriptionView",
]

#: Upper bound of `multiplier`; anything larger is almost certainly a typo.
MAX_MULTIPLIER = Decimal(1000)
#: Upper bound of `fixed_lot` lots: MT4's usual largest max_lot per order.
MAX_LOTS = Decimal(100)
#: Upper bound of `risk_fraction`: half the follower's equity at risk on one trade.
MAX_RISK_FRACTION = Decimal("0.5")
#: Upper bound of the lot caps (`max_lots_per_symbol`, `max_total_lots`).
MAX_LOT_CAP = Decimal(10_000)
#: Upper bound of the count caps (`max_open_positions`, `max_orders_per_minute`).
MAX_ORDER_COUNT = 10_000
#: Upper bound of `max_signal_age_ms` (one day).
MAX_SIGNAL_AGE_MS = 86_400_000
#: Most entries of `symbol_map`.
MAX_SYMBOL_MAP = 2_000

#: Every bounded number of the settings: field name -> (smallest, largest) accepted.
#: Decimals are exclusive of 0 at the bottom (the smallest listed is a sample value);
#: docs/copier.md lists the same table.
SUBSCRIPTION_BOUNDS: dict[str, tuple[Any, Any]] = {
    "lots": (Decimal("0.01"), MAX_LOTS),
    "multiplier": (Decimal("0.01"), MAX_MULTIPLIER),
    "risk_fraction": (Decimal("0.001"), MAX_RISK_FRACTION),
    "max_drawdown_pct": (Decimal("0.1"), Decimal(100)),
    "max_open_positions": (0, MAX_ORDER_COUNT),
    "max_lots_per_symbol": (Decimal("0.01"), MAX_LOT_CAP),
    "max_total_lots": (Decimal("0.01"), MAX_LOT_CAP),
    "max_orders_per_minute": (0, MAX_ORDER_COUNT),
    "max_signal_age_ms": (1, MAX_SIGNAL_AGE_MS),
    "pending_fill_grace_ms": (0, MAX_SIGNAL_AGE_MS),
    "symbol_map": (0, MAX_SYMBOL_MAP),
}


class SubscriptionStatus(StrEnum):
    """Whether a subscription copies: everything, only exits, or nothing."""

    ACTIVE = "active"
    CLOSE_ONLY = "close_only"
    PAUSED = "paused"


class AllocationMode(StrEnum):
    """How the follower's volume is derived from the master's order."""

    MIRROR = "mirror"
    PROPORTIONAL = "proportional"
    FIXED_FRACTIONAL = "fixed_fractional"
    FIXED_LOT = "fixed_lot"


class _SettingsModel(BaseModel):
    """Base of the settings models: unknown fields ignored, values frozen."""

    model_config = ConfigDict(extra="ignore", frozen=True)


#: Allocation fields that belong to one mode or another.
_MODE_FIELDS = ("multiplier", "risk_fraction", "lots")


class _AllocationBase(_SettingsModel):
    """Rejects non-null fields that only another mode uses."""

    #: Fields of `_MODE_FIELDS` this mode owns.
    _own_fields: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _reject_foreign_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in _MODE_FIELDS:
                if name not in cls._own_fields and data.get(name) is not None:
                    mode = data.get("mode")
                    raise ValueError(
                        f"{name} is not used by allocation mode {mode!s}; "
                        f"remove it or set mode accordingly"
                    )
        return data


_Multiplier = Annotated[PositiveDecimal, Field(le=MAX_MULTIPLIER)]


class MirrorAllocation(_AllocationBase):
    """Follower lots = master lots x `multiplier`."""

    _own_fields: ClassVar[frozenset[str]] = frozenset({"multiplier"})

    mode: Literal["mirror"] = "mirror"
    multiplier: _Multiplier = Decimal(1)


class ProportionalAllocation(_AllocationBase):
    """Follower lots = master lots x follower equity / master equity x `multiplier`."""

    _own_fields: ClassVar[frozenset[str]] = frozenset({"multiplier"})

    mode: Literal["proportional"]
    multiplier: _Multiplier = Decimal(1)


class FixedFractionalAllocation(_AllocationBase):
    """Size so that `risk_fraction` of follower equity is lost if the master's SL is hit."""

    _own_fields: ClassVar[frozenset[str]] = frozenset({"risk_fraction"})

    mode: Literal["fixed_fractional"]
    #: Fraction of equity at risk per trade: 0.01 = 1 %. At most 0.5 (50 %).
    risk_fraction: Annotated[PositiveDecimal, Field(le=MAX_RISK_FRACTION)]


class FixedLotAllocation(_AllocationBase):
    """Always the same number of lots."""

    _own_fields: ClassVar[frozenset[str]] = frozenset({"lots"})

    mode: Literal["fixed_lot"]
    #: Lots of every copied order (then rounded down to the symbol's lot_step); <= 100.
    lots: Annotated[PositiveDecimal, Field(le=MAX_LOTS)]


#: One of the four allocation modes, chosen by `mode`.
Allocation = Annotated[
    MirrorAllocation | ProportionalAllocation | FixedFractionalAllocation | FixedLotAllocation,
    Field(discriminator="mode"),
]


class RiskSettings(_SettingsModel):
    """Risk guards of a subscription; `null` disables a guard."""

    #: Drawdown from the follower's equity peak, in percent (20 = 20 %), that switches
    #: the subscription to `close_only`.
    max_drawdown_pct: Annotated[PositiveDecimal, Field(le=100)] | None = None
    #: Most copied positions and pending orders open at once under this subscription.
    max_open_positions: Annotated[int, Field(ge=0, le=MAX_ORDER_COUNT)] | None = None
    #: Most copied lots on one follower symbol under this subscription.
    max_lots_per_symbol: Annotated[PositiveDecimal, Field(le=MAX_LOT_CAP)] | None = None
    #: Most copied lots in total under this subscription.
    max_total_lots: Annotated[PositiveDecimal, Field(le=MAX_LOT_CAP)] | None = None
    #: Most new orders (opens and pending placements) in any sliding 60 s window.
    max_orders_per_minute: Annotated[int, Field(ge=0, le=MAX_ORDER_COUNT)] | None = None


class SubscriptionSettings(_SettingsModel):
    """`PUT /admin/v1/accounts/{follower_id}/subscriptions/{master_id}`."""

    allocation: Allocation = Field(default_factory=MirrorAllocation)
    #: Master symbol -> follower symbol; unmapped symbols are copied under the same name.
    symbol_map: dict[Symbol, Symbol] = Field(default_factory=dict, max_length=MAX_SYMBOL_MAP)
    #: Copy buy as sell (and limit as stop), with SL and TP swapped.
    reverse: bool = False
    #: Send the master's SL/TP with opens, and copy SL/TP modifications.
    copy_sl_tp: bool = True
    #: Copy pending (limit/stop) orders; if false, only market positions are copied.
    copy_pending: bool = True
    #: An open older than this (since the server received it) is not sent; null = no limit.
    max_signal_age_ms: Annotated[int, Field(ge=1, le=MAX_SIGNAL_AGE_MS)] | None = 30_000
    #: After the master's pending order filled, how long the follower's pending copy may
    #: stay unfilled before it is cancelled and opened at market; null = never convert.
    pending_fill_grace_ms: Annotated[int, Field(ge=0, le=MAX_SIGNAL_AGE_MS)] | None = 3_000
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE
    risk: RiskSettings = Field(default_factory=RiskSettings)


class SubscriptionView(SubscriptionSettings):
    """A stored subscription (answer of GET/PUT)."""

    follower_id: AccountId
    master_id: AccountId
    updated_ms: EpochMs | None = None


class SubscriptionList(_SettingsModel):
    """`GET /admin/v1/accounts/{follower_id}/subscriptions`."""

    subscriptions: list[SubscriptionView]
