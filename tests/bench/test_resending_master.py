"""The bench master (`bench/_resending_master.py`) keeps up with its own schedule.

Under overload thousands of intents wait for their Receipt; writing a new one
must not cost a pass over all of them (the master then became the bottleneck of
the run it measures: at 2,000 signals/s it wrote ~600/s once 20,000 waited).
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from _resending_master import ResendingMaster

#: Unconfirmed intents in the test: a pass over all of them per send is ~2e8 steps.
WAITING = 20_000


class RecordingConnection:
    """A WebSocket that keeps what was written and never answers."""

    def __init__(self) -> None:
        self.frames: list[str] = []

    async def send(self, frame: str) -> None:
        self.frames.append(frame)


def test_a_master_with_thousands_of_unconfirmed_intents_writes_each_new_one_at_once() -> None:
    master = ResendingMaster("http://127.0.0.1:1", "ws://127.0.0.1:1/ws", key="k")
    connection = RecordingConnection()
    master._ws = connection  # type: ignore[assignment]  # an open, initialised connection

    async def send_all() -> None:
        for n in range(WAITING):
            await master.send(f"i{n}", f"frame {n}")

    started = time.monotonic()
    asyncio.run(send_all())
    elapsed = time.monotonic() - started

    assert connection.frames == [f"frame {n}" for n in range(WAITING)]
    assert len(master.unconfirmed) == WAITING  # no Receipt came: all still kept
    assert elapsed < 5.0, f"{WAITING} sends took {elapsed:.1f} s"
