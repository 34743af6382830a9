"""Samples the gateway's view of the copier backlog while a benchmark runs.

Two sources, both what an operator sees: `/metrics` (`copygate_intent_backlog_waiting`,
the admission monitor's cached value, and `copygate_intents_refused_total`) and the
admin API `GET /admin/v1/copier/backlog` (the intent stream's `waiting`, measured
on request).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

import httpx

__all__ = ["BacklogWatch", "metric_value"]


def metric_value(text: str, name: str) -> float | None:
    """The sum of every series of `name` in a Prometheus text exposition (None: absent)."""
    values = re.findall(rf"^{re.escape(name)}(?:\{{[^}}]*\}})? (\S+)$", text, re.MULTILINE)
    return sum(float(v) for v in values) if values else None


class BacklogWatch:
    """Samples the backlog every `period_s` between `start` and `stop`."""

    def __init__(self, base_url: str, admin_token: str, period_s: float = 0.5) -> None:
        self.base_url = base_url  #: gateway base URL
        self.admin_token = admin_token  #: bearer of the admin API
        self.period_s = period_s  #: between samples
        self.metric: list[float] = []  #: copygate_intent_backlog_waiting samples
        self.admin: list[int] = []  #: admin API intents.waiting samples
        self.admin_events: list[int] = []  #: admin API ea_events.waiting (reports) samples
        self._task: asyncio.Task[None] | None = None  #: the sampling loop

    async def refused_total(self) -> float:
        """`copygate_intents_refused_total`, all reasons (0 when not exposed yet)."""
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as http:
            text = (await http.get("/metrics")).text
        return metric_value(text, "copygate_intents_refused_total") or 0.0

    def start(self) -> None:
        self.metric, self.admin, self.admin_events = [], [], []
        self._task = asyncio.create_task(self._sample())

    async def stop(self) -> dict[str, Any]:
        """Max and last samples of both sources."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return {
            "samples": len(self.metric),
            "metric_waiting_max": max(self.metric, default=None),
            "admin_waiting_max": max(self.admin, default=None),
            "admin_waiting_last": self.admin[-1] if self.admin else None,
            "admin_ea_events_waiting_max": max(self.admin_events, default=None),
        }

    async def _sample(self) -> None:
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as http:
            while True:
                with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
                    text = (await http.get("/metrics")).text
                    waiting = metric_value(text, "copygate_intent_backlog_waiting")
                    if waiting is not None:
                        self.metric.append(waiting)
                    answer = await http.get("/admin/v1/copier/backlog", headers=headers)
                    backlog = answer.json()
                    self.admin.append(int(backlog["intents"]["waiting"]))
                    self.admin_events.append(int(backlog["ea_events"]["waiting"]))
                await asyncio.sleep(self.period_s)
