"""A settable epoch-ms clock for tests (a fake of `gateway.clock.Clock`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SettableClock"]


@dataclass
class SettableClock:
    """Returns `now`; a test moves time by setting it."""

    now: int = 1_000_000

    def __call__(self) -> int:
        return self.now
