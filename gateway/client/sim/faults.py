"""MT4 trade errors: the codes the simulator uses, and seeded error injection."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["ERR", "ERROR_TEXT", "FaultInjector", "TradeError"]


class ERR:
    """MT4 error codes (``ERR_*`` in MQL4) used by the simulator."""

    TIMEOUT = 128  #: trade timeout (injected)
    INVALID_PRICE = 129
    INVALID_STOPS = 130
    INVALID_VOLUME = 131
    NOT_ENOUGH_MONEY = 134
    OFF_QUOTES = 136  #: injected
    REQUOTE = 138  #: injected, or slippage beyond the allowed points
    TRADE_CONTEXT_BUSY = 146  #: injected
    UNKNOWN_SYMBOL = 4106
    INVALID_TICKET = 4108


ERROR_TEXT = {
    ERR.TIMEOUT: "trade timeout",
    ERR.INVALID_PRICE: "invalid price",
    ERR.INVALID_STOPS: "invalid stops",
    ERR.INVALID_VOLUME: "invalid trade volume",
    ERR.NOT_ENOUGH_MONEY: "not enough money",
    ERR.OFF_QUOTES: "off quotes",
    ERR.REQUOTE: "requote",
    ERR.TRADE_CONTEXT_BUSY: "trade context is busy",
    ERR.UNKNOWN_SYMBOL: "unknown symbol",
    ERR.INVALID_TICKET: "invalid ticket",
}


class TradeError(Exception):
    """A trade operation failed with an MT4 error code."""

    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(message or ERROR_TEXT.get(code, f"error {code}"))
        self.code = code  #: MT4 error code
        self.message = message or ERROR_TEXT.get(code, f"error {code}")  #: text


@dataclass
class FaultInjector:
    """Fails trade operations at random with the given MT4 codes.

    `rates` maps an error code to its probability per operation; `operations`
    limits injection to some operation kinds (``open``, ``close``, ``modify``,
    ``place_pending``, ``cancel_pending``); empty = all. `script` forces codes for
    the next operations, in order (0 = no error), before the random rates apply.
    """

    rng: random.Random  #: the only source of randomness
    rates: dict[int, float] = field(default_factory=dict)  #: code -> probability
    operations: frozenset[str] = frozenset()  #: kinds subject to injection
    script: list[int] = field(default_factory=list)  #: forced outcomes, consumed first
    injected: dict[int, int] = field(default_factory=dict)  #: code -> times injected

    @classmethod
    def none(cls) -> FaultInjector:
        """Never fails."""
        return cls(random.Random(0))

    @classmethod
    def uniform(
        cls, rng: random.Random, rate: float, codes: Iterable[int], operations: Iterable[str] = ()
    ) -> FaultInjector:
        """`rate` in total, spread evenly over `codes`."""
        codes = list(codes)
        return cls(rng, {c: rate / len(codes) for c in codes}, frozenset(operations))

    def check(self, operation: str) -> None:
        """Raise the injected error for this operation, if any.

        Raises:
            TradeError: an injected MT4 error.
        """
        if self.script:
            code = self.script.pop(0)
            if code:
                self._fail(code)
            return
        if self.operations and operation not in self.operations:
            return
        roll = self.rng.random() if self.rates else 1.0
        for code, rate in self.rates.items():
            if roll < rate:
                self._fail(code)
            roll -= rate

    def _fail(self, code: int) -> None:
        self.injected[code] = self.injected.get(code, 0) + 1
        raise TradeError(code)
