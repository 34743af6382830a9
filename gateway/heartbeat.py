"""The heartbeat monitor (rule 3): one task per process, not one per session.

Deadlines live in one Redis sorted set shared by every node. The monitor sleeps
until the earliest deadline, then closes what has expired in one atomic script
(each session exactly once, whichever node gets there first). Heartbeats only
ever push deadlines later and new sessions start with the latest deadline, so
sleeping until the earliest stored deadline is exact: a session is closed at
most `tick` after `last heartbeat + timeout`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from gateway.clock import Clock
from gateway.errors import StoreUnavailable
from gateway.store.ports import SessionStore
from gateway.telemetry import Telemetry

__all__ = ["HeartbeatMonitor"]

_log = logging.getLogger("copygate.heartbeat")


class HeartbeatMonitor:
    """Closes sessions whose heartbeat is missing for longer than the timeout."""

    def __init__(
        self,
        sessions: SessionStore,
        telemetry: Telemetry,
        clock: Clock,
        *,
        idle_check_s: float,
        tick_ms: int = 5,
    ) -> None:
        self.sessions = sessions  #: where deadlines live
        self.telemetry = telemetry  #: close counters
        self.clock = clock  #: epoch-ms clock
        self.idle_check_s = idle_check_s  #: longest sleep when nothing is due
        self.tick_ms = tick_ms  #: slack after a deadline before closing
        self._task: asyncio.Task[None] | None = None  #: the running loop

    def start(self) -> None:
        """Run the monitor in the background."""
        self._task = asyncio.create_task(self.run(), name="heartbeat-monitor")

    async def stop(self) -> None:
        """Stop the background loop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run(self) -> None:
        """Sleep until the earliest deadline, close what expired, repeat."""
        while True:
            try:
                delay = await self.sweep()
            except StoreUnavailable as exc:
                _log.warning("heartbeat monitor: store unavailable (%s); retrying", exc)
                delay = 1.0
            await asyncio.sleep(delay)

    async def sweep(self) -> float:
        """Close expired sessions once; returns how long to sleep before the next sweep."""
        closed = await self.sessions.close_expired(now_ms=self.clock())
        for record in closed:
            self.telemetry.session_closed("heartbeat_timeout")
            _log.info("closed %s of %s: heartbeat timeout", record.session_id, record.account_id)
        if closed:
            return 0.0
        deadline = await self.sessions.next_deadline_ms()
        if deadline is None:
            return self.idle_check_s
        wait_ms = deadline - self.clock() + self.tick_ms
        return min(max(wait_ms, 0) / 1000, self.idle_check_s)
