"""Symbols, ticks and price feeds (pure: randomness and time are passed in).

* `RandomWalkFeed`: a seeded random walk of the mid price per symbol, quoted with
  the symbol's spread (in points).
* `CsvTickFeed`: replays ``time_ms,symbol,bid,ask`` rows; `at(now_ms)` returns the
  ticks whose time has come, relative to the first row.

A broker symbol may quote another feed symbol (`SymbolInfo.source`), so a
follower's ``EURUSD.m`` moves with the master's ``EURUSD``.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Protocol

from schemas.messages import SymbolSpec

__all__ = [
    "CsvTickFeed",
    "PriceFeed",
    "RandomWalkFeed",
    "SymbolInfo",
    "Tick",
    "standard_symbols",
]


@dataclass(frozen=True)
class Tick:
    """One quote."""

    symbol: str  #: feed symbol
    time_ms: int  #: epoch ms
    bid: Decimal  #: sell price
    ask: Decimal  #: buy price


@dataclass(frozen=True)
class SymbolInfo:
    """A broker symbol: contract, volume limits, spread and how profit converts."""

    name: str  #: broker name (``EURUSD.m``)
    digits: int  #: price digits
    contract_size: Decimal  #: units per lot
    start_price: Decimal  #: first mid price of a random walk
    spread_points: int = 10  #: ask - bid, in points
    lot_step: Decimal = Decimal("0.01")  #: volume step
    min_lot: Decimal = Decimal("0.01")  #: smallest volume
    max_lot: Decimal = Decimal("100")  #: largest volume
    volatility_points: float = 8.0  #: standard deviation of one random-walk step, in points
    source: str | None = None  #: feed symbol it quotes (default: its own name)
    base_is_account: bool = False  #: USDJPY on a USD account: profit converts by 1/price

    @property
    def point(self) -> Decimal:
        """Smallest price increment."""
        return Decimal(1).scaleb(-self.digits)

    @property
    def feed_symbol(self) -> str:
        """Which feed symbol quotes it."""
        return self.source or self.name

    def quantize(self, price: Decimal) -> Decimal:
        """`price` on this symbol's price grid."""
        return price.quantize(self.point, rounding=ROUND_HALF_EVEN)

    def to_account(self, amount: Decimal, price: Decimal) -> Decimal:
        """Convert an amount in quote currency to the (USD) account currency."""
        return amount / price if self.base_is_account else amount

    def renamed(self, name: str) -> SymbolInfo:
        """The same instrument under a broker-specific name (e.g. a suffix)."""
        return replace(self, name=name, source=self.feed_symbol)

    def spec(self, price: Decimal | None = None) -> SymbolSpec:
        """The SymbolSpec an EA reports in InitRequest (tick value at `price`)."""
        tick_value = self.to_account(self.contract_size * self.point, price or self.start_price)
        return SymbolSpec(
            symbol=self.name,
            digits=self.digits,
            point=self.point,
            contract_size=self.contract_size,
            lot_step=self.lot_step,
            min_lot=self.min_lot,
            max_lot=self.max_lot,
            tick_size=self.point,
            tick_value=Decimal(str(round(float(tick_value), 8))),
        )


def standard_symbols() -> dict[str, SymbolInfo]:
    """EURUSD, GBPUSD, USDJPY and XAUUSD with typical specs."""
    return {
        "EURUSD": SymbolInfo("EURUSD", 5, Decimal(100_000), Decimal("1.10000"), spread_points=12),
        "GBPUSD": SymbolInfo("GBPUSD", 5, Decimal(100_000), Decimal("1.27000"), spread_points=18),
        "USDJPY": SymbolInfo(
            "USDJPY", 3, Decimal(100_000), Decimal("150.000"), 15, base_is_account=True
        ),
        "XAUUSD": SymbolInfo(
            "XAUUSD", 2, Decimal(100), Decimal("2000.00"), 30, volatility_points=60.0
        ),
    }


class PriceFeed(Protocol):
    """Something that produces ticks as time passes."""

    def at(self, now_ms: int) -> list[Tick]:
        """Ticks up to `now_ms` not returned before (in time order)."""


class RandomWalkFeed:
    """Gaussian random walk of the mid price, one tick per symbol per call."""

    def __init__(self, symbols: Iterable[SymbolInfo], rng: random.Random) -> None:
        self.symbols = {s.feed_symbol: s for s in symbols if s.source is None}  #: walked symbols
        self.rng = rng  #: the only source of randomness
        self.mids = {name: float(s.start_price) for name, s in self.symbols.items()}  #: current

    def at(self, now_ms: int) -> list[Tick]:
        """One new quote per symbol."""
        ticks = []
        for name, info in self.symbols.items():
            point = float(info.point)
            mid = self.mids[name] + self.rng.gauss(0.0, info.volatility_points) * point
            mid = max(mid, 100 * point)
            self.mids[name] = mid
            ticks.append(quote(info, now_ms, mid))
        return ticks


def quote(info: SymbolInfo, now_ms: int, mid: float) -> Tick:
    """A tick with the symbol's spread around `mid`."""
    half = info.spread_points / 2
    bid = math.floor(mid / float(info.point) - half)
    return Tick(
        info.feed_symbol,
        now_ms,
        Decimal(bid).scaleb(-info.digits),
        Decimal(bid + info.spread_points).scaleb(-info.digits),
    )


class CsvTickFeed:
    """Replays recorded ticks; times are shifted so the first row plays at `start_ms`."""

    def __init__(self, rows: Sequence[Tick], start_ms: int) -> None:
        first = rows[0].time_ms if rows else 0
        self.rows = [
            Tick(t.symbol, t.time_ms - first + start_ms, t.bid, t.ask) for t in rows
        ]  #: shifted ticks, in file order
        self.position = 0  #: next row to play

    @classmethod
    def load(cls, path: Path, start_ms: int) -> CsvTickFeed:
        """Read ``time_ms,symbol,bid,ask`` rows (a header line is allowed)."""
        with path.open(newline="") as handle:
            rows = [
                Tick(r["symbol"], int(r["time_ms"]), Decimal(r["bid"]), Decimal(r["ask"]))
                for r in csv.DictReader(handle, fieldnames=["time_ms", "symbol", "bid", "ask"])
                if r["time_ms"] != "time_ms"
            ]
        return cls(rows, start_ms)

    def at(self, now_ms: int) -> list[Tick]:
        """Rows whose (shifted) time is at or before `now_ms`."""
        out = []
        while self.position < len(self.rows) and self.rows[self.position].time_ms <= now_ms:
            out.append(self.rows[self.position])
            self.position += 1
        return out

    @property
    def exhausted(self) -> bool:
        """Every row was played."""
        return self.position >= len(self.rows)
