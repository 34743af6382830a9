"""Builders shared by the simulator tests."""

from __future__ import annotations

import random
from decimal import Decimal

from gateway.client.sim import FaultInjector, SimAccount, Tick, TicketSource, standard_symbols

NOW = 1_763_800_000_000
D = Decimal


def tick(bid: str, ask: str | None = None, symbol: str = "EURUSD", at: int = NOW) -> Tick:
    """A EURUSD quote (ask = bid + 1.2 pips unless given)."""
    b = D(bid)
    return Tick(symbol, at, b, D(ask) if ask else b + D("0.00012"))


def account(
    *,
    balance: str = "10000",
    faults: FaultInjector | None = None,
    slippage_points: int = 0,
    seed: int = 1,
    first: Tick | None = None,
) -> SimAccount:
    """A USD account with the standard symbols, quoted at EURUSD 1.10000/1.10012."""
    acc = SimAccount(
        standard_symbols(),
        balance=D(balance),
        rng=random.Random(seed),
        tickets=TicketSource(1000),
        faults=faults,
        slippage_points=slippage_points,
    )
    acc.on_ticks([first or tick("1.10000")])
    return acc
