"""Prometheus series of the copier: copies by outcome and the copy latency split.

The pump reports every copy record it commits (`CopyMetrics.observe`): each
commit counts the record's new status. A processed ExecutionReport also makes
the record *awaiting* its split: on its next outbox sweep the pump reads the
copy's queued and delivered times (one pipeline for every report since the last
sweep) and `observe_split` observes the same four stages the copy records carry
(see the copies endpoint): ``received_to_queued``, ``queued_to_delivered``,
``delivered_to_reported`` and ``total``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

from copier.worker.state import CopyRecord

__all__ = ["LATENCY_BUCKETS_S", "MAX_AWAITING", "AwaitingSplit", "CopyMetrics"]

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
#: Reported copies kept for their split between two sweeps (the oldest go first).
MAX_AWAITING = 10_000


@dataclass(frozen=True, slots=True)
class AwaitingSplit:
    """A reported copy whose queued and delivered times are still to be read."""

    follower_id: str  #: the follower account
    command_id: str  #: the copy's base command id (key of the times hashes)
    received_ms: int  #: when the gateway received the master's intent
    reported_ms: int  #: when the follower's report was processed


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
            "Copy latency by stage: received_to_queued, queued_to_delivered, "
            "delivered_to_reported, total",
            ["stage"],
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )  #: copygate_copy_latency_seconds{stage}
        self.awaiting: deque[AwaitingSplit] = deque(maxlen=MAX_AWAITING)  #: for the next sweep

    def observe(self, follower_id: str, before: CopyRecord | None, after: CopyRecord) -> None:
        """Count one committed copy record; a first report makes it await its split."""
        self.copies.labels(after.status).inc()
        if after.reported_ms is not None and before is not None and before.reported_ms is None:
            self.awaiting.append(
                AwaitingSplit(
                    follower_id, after.command_id, after.intent_received_ms, after.reported_ms
                )
            )

    def take_awaiting(self) -> list[AwaitingSplit]:
        """Every copy awaiting its split, oldest first (and forget them)."""
        taken = list(self.awaiting)
        self.awaiting.clear()
        return taken

    def observe_split(
        self, copies: Sequence[AwaitingSplit], times: Sequence[tuple[int | None, int | None]]
    ) -> None:
        """Observe the stages of `copies` given their (queued, delivered) times."""
        for copy, (queued, delivered) in zip(copies, times, strict=True):
            self._stage("total", copy.reported_ms - copy.received_ms)
            if queued is not None:
                self._stage("received_to_queued", queued - copy.received_ms)
            if queued is not None and delivered is not None:
                self._stage("queued_to_delivered", delivered - queued)
            if delivered is not None:
                self._stage("delivered_to_reported", copy.reported_ms - delivered)

    def _stage(self, stage: str, elapsed_ms: int) -> None:
        self.latency.labels(stage).observe(max(0, elapsed_ms) / 1000)
