"""The gateway's view of the copier backlog: admission of intents, and trimming.

`BacklogMonitor` keeps, per partition, the intent stream's backlog as last
measured (`copier.backlog.read_stream_backlog`: unread + pending, oldest age),
refreshed in the background every `refresh_ms`. `admit` decides from that cached
value (`gateway.admission.decide_admission`), so admission costs no Redis round
trip per intent; the bound is exceeded by at most what arrives in one refresh.
A refusal is counted (``copygate_intents_refused_total{reason}``) and logged.

Every `trim_interval_ms` the same loop trims what the copier finished from the
intent and EA event streams (`copier.backlog.trim_finished`): appends no longer
trim by length, which could drop entries the copier had not read yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, Counter, Gauge
from redis import exceptions as rex

from copier.backlog import read_stream_backlog, trim_finished
from gateway.admission import Admission, AdmissionLimits, IntentBacklog, decide_admission
from gateway.clock import Clock
from gateway.errors import StoreError
from gateway.store.keys import RedisKeys

__all__ = ["BacklogMonitor"]

_log = logging.getLogger("copygate.backlog")


class BacklogMonitor:
    """Cached intent backlog per partition, admission from it, and stream trimming."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: RedisKeys,
        limits: AdmissionLimits,
        clock: Clock,
        *,
        refresh_ms: int = 200,
        trim_interval_ms: int = 5_000,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._redis = redis  #: the store's client
        self._keys = keys  #: stream names
        self.limits = limits  #: the admission bounds
        self._clock = clock  #: epoch-ms clock (the streams' ids are on this scale)
        self._refresh_s = refresh_ms / 1000  #: between backlog reads
        self._trim_interval_s = trim_interval_ms / 1000  #: between trims
        #: partition -> intent backlog as last measured (absent: never measured)
        self.backlogs: dict[int, IntentBacklog] = {}
        self.refused = 0  #: intents refused by this process
        self._task: asyncio.Task[None] | None = None
        self._stopping = False  #: set by `stop`; ends the loop
        registry = registry or CollectorRegistry()
        self._refused = Counter(
            "copygate_intents_refused",
            "OrderIntents refused because the copier backlog is over its bound, by reason",
            ["reason"],
            registry=registry,
        )
        waiting = Gauge(
            "copygate_intent_backlog_waiting",
            "Intents waiting for the copier (unread + pending), as admission last saw them",
            registry=registry,
        )
        waiting.set_function(lambda: sum(b.waiting for b in self.backlogs.values()))
        oldest = Gauge(
            "copygate_intent_backlog_oldest_seconds",
            "Age of the oldest intent waiting for the copier, as admission last saw it",
            registry=registry,
        )
        oldest.set_function(self._oldest_s)

    def _oldest_s(self) -> float:
        ages = [b.oldest_ms for b in self.backlogs.values() if b.oldest_ms is not None]
        return max(ages) / 1000 if ages else 0.0

    # ---- admission --------------------------------------------------------------
    def admit(self, account_id: str, action: str | None) -> Admission:
        """Admit or refuse an OrderIntent of `account_id` (no I/O: the cached backlog)."""
        partition = self._keys.partition_of(account_id)
        verdict = decide_admission(action, self.backlogs.get(partition), self.limits)
        if not verdict.admitted and verdict.reason is not None:
            self.refused += 1
            self._refused.labels(verdict.reason.value).inc()
            backlog = self.backlogs[partition]
            _log.warning(
                "OrderIntent (%s) of %s refused: %s (%d waiting, oldest %s ms); retry in %d ms",
                action,
                account_id,
                verdict.reason.value,
                backlog.waiting,
                backlog.oldest_ms,
                verdict.retry_after_ms,
            )
        return verdict

    # ---- background loop --------------------------------------------------------
    def start(self) -> None:
        """Run the refresh (and trim) loop in the background."""
        self._stopping = False
        self._task = asyncio.create_task(self.run(), name="backlog-monitor")

    async def stop(self) -> None:
        """Stop the background loop."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run(self) -> None:
        """Refresh every `refresh_ms`, trim every `trim_interval_ms`; store errors wait."""
        next_trim = time.monotonic() + self._trim_interval_s
        # a cancelled Redis call can surface as a RedisError, which the loop below
        # swallows: the flag ends the loop even when the cancellation was consumed
        while not self._stopping:
            try:
                await self.refresh()
                if time.monotonic() >= next_trim:
                    next_trim = time.monotonic() + self._trim_interval_s
                    await self.trim()
            except (StoreError, rex.RedisError, OSError) as exc:
                _log.warning("backlog monitor: store error (%s); retrying", exc)
            await asyncio.sleep(self._refresh_s)

    async def refresh(self) -> None:
        """Measure every partition's intent backlog now."""
        now = self._clock()
        for n in range(self._keys.partition_count):
            measured = await read_stream_backlog(self._redis, self._keys.intent_stream(n), now)
            self.backlogs[n] = IntentBacklog(measured.waiting, measured.oldest_ms)

    async def trim(self) -> int:
        """Trim what the copier finished from the intent and EA event streams."""
        trimmed = 0
        for n in range(self._keys.partition_count):
            trimmed += await trim_finished(self._redis, self._keys.intent_stream(n))
            trimmed += await trim_finished(self._redis, self._keys.ea_inbox_stream(n))
        return trimmed
