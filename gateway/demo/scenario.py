"""The demo's cast: three masters, twelve followers, their subscriptions (pure data).

Followers cover every allocation mode, reverse copying, a symbol map, risk
guards (open positions, total lots, drawdown) and injected MT4 errors, over both
transports. `build_terminals` turns the cast into `SimTerminal`s, seeded.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from gateway.client.sim import (
    ERR,
    FaultInjector,
    RandomPolicy,
    ScriptedPolicy,
    ScriptStep,
    SimAccount,
    SimTerminal,
    SymbolInfo,
    TicketSource,
)
from schemas.codes import Action, OrderType, Role, Side

__all__ = ["FollowerSpec", "MasterSpec", "build_terminal", "cast", "m3_script"]

Transport = Literal["websocket", "poll"]
TENANT = "demo"


@dataclass(frozen=True)
class MasterSpec:
    """A simulated master."""

    account_id: str  #: account id
    symbols: tuple[str, ...]  #: what it trades
    balance: Decimal  #: starting balance
    transport: Transport = "websocket"  #: how its EA talks
    scripted: bool = False  #: plays `m3_script` before trading at random


@dataclass(frozen=True)
class FollowerSpec:
    """A simulated follower and its subscriptions (master id -> settings body)."""

    account_id: str  #: account id
    label: str  #: what it shows off
    subscriptions: dict[str, dict[str, Any]]  #: master -> PUT body
    balance: Decimal = Decimal(10_000)  #: starting balance
    transport: Transport = "websocket"  #: how its EA talks
    symbol_names: dict[str, str] = field(default_factory=dict)  #: feed symbol -> broker name
    faults: dict[int, float] = field(default_factory=dict)  #: MT4 code -> rate on opens


def _mirror(multiplier: str = "1", **extra: Any) -> dict[str, Any]:
    return {"allocation": {"mode": "mirror", "multiplier": float(multiplier)}, **extra}


def cast() -> tuple[list[MasterSpec], list[FollowerSpec]]:
    """The demo's accounts."""
    masters = [
        MasterSpec("demo-m1", ("EURUSD", "GBPUSD"), Decimal(20_000)),
        MasterSpec("demo-m2", ("USDJPY", "XAUUSD"), Decimal(50_000), transport="poll"),
        MasterSpec("demo-m3", ("EURUSD",), Decimal(20_000), scripted=True),
    ]
    busy = {ERR.REQUOTE: 0.08, ERR.OFF_QUOTES: 0.06, ERR.TRADE_CONTEXT_BUSY: 0.06}
    followers = [
        FollowerSpec("demo-f01", "mirror x1", {"demo-m1": _mirror()}),
        FollowerSpec(
            "demo-f02", "mirror x0.5 (poll)", {"demo-m1": _mirror("0.5")}, transport="poll"
        ),
        FollowerSpec(
            "demo-f03",
            "proportional x1",
            {"demo-m1": {"allocation": {"mode": "proportional", "multiplier": 1}}},
            balance=Decimal(5_000),
        ),
        FollowerSpec(
            "demo-f04",
            "fixed lot 0.05, requotes",
            {"demo-m1": {"allocation": {"mode": "fixed_lot", "lots": 0.05}}},
            faults=busy,
        ),
        FollowerSpec(
            "demo-f05",
            "fixed fractional 0.5% (poll)",
            {"demo-m1": {"allocation": {"mode": "fixed_fractional", "risk_fraction": 0.005}}},
            transport="poll",
        ),
        FollowerSpec(
            "demo-f06",
            "reverse, no pendings",
            {"demo-m2": _mirror(reverse=True, copy_pending=False)},
            balance=Decimal(50_000),
        ),
        FollowerSpec(
            "demo-f07",
            "proportional x0.5",
            {"demo-m2": {"allocation": {"mode": "proportional", "multiplier": 0.5}}},
            balance=Decimal(20_000),
        ),
        FollowerSpec(
            "demo-f08",
            "max 1 open position (poll)",
            {"demo-m2": _mirror(risk={"max_open_positions": 1})},
            balance=Decimal(50_000),
            transport="poll",
        ),
        FollowerSpec(
            "demo-f09",
            "symbol map EURUSD.m",
            {"demo-m3": _mirror(symbol_map={"EURUSD": "EURUSD.m"})},
            symbol_names={"EURUSD": "EURUSD.m"},
        ),
        FollowerSpec(
            "demo-f10",
            "mirror x2, max 1 lot, drawdown 3%",
            {"demo-m3": _mirror("2", risk={"max_total_lots": 1.0, "max_drawdown_pct": 3})},
        ),
        FollowerSpec(
            "demo-f11",
            "two masters",
            {
                "demo-m1": _mirror("0.2"),
                "demo-m3": {"allocation": {"mode": "fixed_lot", "lots": 0.1}},
            },
        ),
        FollowerSpec(
            "demo-f12",
            "trade timeouts (poll)",
            {"demo-m3": _mirror()},
            transport="poll",
            faults={ERR.TIMEOUT: 0.25},
        ),
    ]
    return masters, followers


def m3_script() -> list[ScriptStep]:
    """demo-m3's first eight seconds: every kind of intent once."""
    buy, sell = Side.BUY, Side.SELL
    return [
        ScriptStep(
            1000, Action.OPEN, 0, side=buy, volume=Decimal("0.5"), sl_points=150, tp_points=300
        ),
        ScriptStep(
            2000,
            Action.PLACE_PENDING,
            1,
            side=sell,
            volume=Decimal("0.3"),
            order_type=OrderType.LIMIT,
            offset_points=40,
            sl_points=150,
            tp_points=200,
        ),
        ScriptStep(3000, Action.MODIFY, 0, sl_points=120, tp_points=260),
        ScriptStep(4000, Action.CLOSE, 0, volume=Decimal("0.2")),
        ScriptStep(
            5000, Action.OPEN, 2, side=sell, volume=Decimal("0.4"), sl_points=200, tp_points=200
        ),
        ScriptStep(6000, Action.CANCEL_PENDING, 1),
        ScriptStep(7000, Action.CLOSE, 2),
        ScriptStep(
            8000, Action.OPEN, 3, side=buy, volume=Decimal("0.3"), sl_points=200, tp_points=400
        ),
    ]


def build_terminal(
    spec: MasterSpec | FollowerSpec,
    symbols: dict[str, SymbolInfo],
    tickets: TicketSource,
    seed: int,
    start_ms: int,
) -> SimTerminal:
    """A seeded terminal for one cast member."""
    rng = random.Random(f"{seed}:{spec.account_id}")
    if isinstance(spec, MasterSpec):
        account = SimAccount(
            {s: symbols[s] for s in spec.symbols}, balance=spec.balance, rng=rng, tickets=tickets
        )
        policy = RandomPolicy(random.Random(f"{seed}:{spec.account_id}:policy"), spec.symbols)
        if spec.scripted:
            return SimTerminal(
                spec.account_id,
                account,
                role=Role.MASTER,
                policy=ScriptedPolicy(m3_script(), start_ms, then=policy),
            )
        return SimTerminal(spec.account_id, account, role=Role.MASTER, policy=policy)
    broker = {}
    for feed_name, info in symbols.items():
        name = spec.symbol_names.get(feed_name, feed_name)
        broker[name] = info if name == feed_name else info.renamed(name)
    faults = FaultInjector(
        random.Random(f"{seed}:{spec.account_id}:faults"), dict(spec.faults), frozenset({"open"})
    )
    account = SimAccount(
        broker, balance=spec.balance, rng=rng, tickets=tickets, faults=faults, slippage_points=3
    )
    return SimTerminal(spec.account_id, account, role=Role.FOLLOWER)
