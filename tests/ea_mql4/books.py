"""A simulated broker's book written before a terminal starts (``MQL_SIM_BOOK``)."""

from __future__ import annotations

from pathlib import Path

from terminal_harness import OP_BUY, OP_BUYLIMIT, OP_SELL, OP_SELLLIMIT

__all__ = ["FIRST_SEEDED_TICKET", "seed_book"]

FIRST_SEEDED_TICKET = 700_000

#: (type, open price) in turn: two positions, then two pending orders far from the
#: quotes of the shim's symbols (1.1000/1.1001), so none of them fills.
_KINDS = ((OP_BUY, 1.1), (OP_SELL, 1.1), (OP_BUYLIMIT, 0.9), (OP_SELLLIMIT, 1.3))


def seed_book(path: Path, count: int, *, symbols: int = 1000, magic: int = 0) -> Path:
    """A book of `count` open orders (half positions, half pending) spread over the
    shim's extra symbols (``MQL_SIM_EXTRA_SYMBOLS``); tickets start at
    `FIRST_SEEDED_TICKET`; all with `magic`. Columns as the shim's save_order writes."""
    lines = ["next\t900000", "balance\t100000"]
    for i in range(count):
        kind, price = _KINDS[i % len(_KINDS)]
        symbol = f"SYM{10000 + i % symbols}"
        row = ["open", FIRST_SEEDED_TICKET + i, symbol, kind, 0.01, price, 0, 0, 0, magic]
        row += [1_700_000_000, 0, 0, f"seeded order {i}"]
        lines.append("\t".join(str(x) for x in row))
    path.write_text("\n".join(lines) + "\n")
    return path
