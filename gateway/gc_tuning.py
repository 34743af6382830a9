"""The cyclic garbage collector of a long-running copygate process.

Python collects generation 0 every 700 net allocations and, every ten of those,
generation 1; each collection walks the young objects, and the older ones every
so often. A gateway holding 10,000 WebSocket sessions allocates a few hundred
short-lived objects per message (frames, envelopes, futures), almost all freed
by reference counting, so with the default threshold collections are a large
share of its CPU (measured: 34 % of a core for 10,000 heartbeating sessions, 22.5 %
with a generation-0 threshold of 50,000; see docs/benchmarks.md). The few cycles
(exceptions with tracebacks, finished tasks) are still collected, just later.
"""

from __future__ import annotations

import gc

__all__ = ["tune_gc"]


def tune_gc(gen0_threshold: int) -> None:
    """Freeze what is alive now and collect generation 0 every `gen0_threshold` allocations.

    Frozen objects (modules, the app, settings: alive for the whole process) are
    never walked again. ``0`` leaves the interpreter's settings alone.
    """
    if gen0_threshold:
        gc.freeze()
        _gen0, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(gen0_threshold, gen1, gen2)
