"""Prometheus series of the copier: copies by outcome and the copy latency split.

The pump reports every copy record it commits (`CopyMetrics.observe`): each
commit counts the record's new status, a first decision observes
``received_to_queued`` and a processed ExecutionReport observes
``queued_to_reported`` and ``received_to_reported`` (the same split the copy
records carry; the delivered point is in the records, see the copies endpoint).
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram

from copier.worker.state import CopyRecord

__all__ = ["LATENCY_BUCKETS_S", "CopyMetrics"]

#: Histogram buckets of the copy latency (seconds): 1 ms to 30 s.
LATENCY_BUCKETS_S = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


class CopyMetrics:
    """Copy outcomes and latencies, registered on a process's Prometheus registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.copies = Counter(
            "copygate_copies",
            "Copy record updates committed by this process, by the status they got",
            ["status"],
            registry=registry,
        )  #: copygate_copies_total{status}
        self.latency = Histogram(
            "copygate_copy_latency_seconds",
            "Copy latency by stage: received_to_queued, queued_to_reported, received_to_reported",
            ["stage"],
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )  #: copygate_copy_latency_seconds{stage}

    def observe(self, before: CopyRecord | None, after: CopyRecord) -> None:
        """Count one committed copy record and observe the stages it completed."""
        self.copies.labels(after.status).inc()
        if before is None and after.status == "queued":
            self._stage("received_to_queued", after.decided_ms - after.intent_received_ms)
        if after.reported_ms is not None and (before is None or before.reported_ms is None):
            if before is not None:
                self._stage("queued_to_reported", after.reported_ms - before.decided_ms)
            self._stage("received_to_reported", after.reported_ms - after.intent_received_ms)

    def observe_all(self, changes: Iterable[tuple[CopyRecord | None, CopyRecord]]) -> None:
        """`observe` every (before, after) pair."""
        for before, after in changes:
            self.observe(before, after)

    def _stage(self, stage: str, elapsed_ms: int) -> None:
        self.latency.labels(stage).observe(max(0, elapsed_ms) / 1000)
