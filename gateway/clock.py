"""Wall-clock time in epoch milliseconds, injectable so tests can drive it."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Clock", "system_clock_ms"]

#: Returns the current time in epoch milliseconds.
Clock = Callable[[], int]


def system_clock_ms() -> int:
    """The system's wall clock in epoch milliseconds."""
    return time.time_ns() // 1_000_000
