"""Copier worker settings, read once from ``COPYGATE_COPIER_*`` environment variables.

Kept apart from `gateway.settings.Settings` (the gateway's) so the copier's knobs
live with the copier; the Redis URL and key prefix still come from the gateway's
settings, so both halves always share one namespace.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["CopierSettings"]


class CopierSettings(BaseSettings):
    """Everything configurable about copier workers. Build one per process."""

    model_config = SettingsConfigDict(env_prefix="COPYGATE_COPIER_", extra="ignore")

    #: Run one worker inside `copygate serve` (turn off when only standalone
    #: `copygate copier` processes should copy).
    in_process: bool = True
    #: Masters with at least this many followers are fanned out in follower shards
    #: that any worker plans (`copier.worker.shards`); 0 = never (one worker per master).
    fan_out_shard_followers: int = Field(default=500, ge=0)
    #: Shard entries one read takes (fewer: shared by more workers; more: fewer rounds
    #: for a lone worker).
    fan_out_read: int = Field(default=2, ge=1, le=64)
    #: Intents (and other non-report entries) read per XREADGROUP call. One read is
    #: one unit of work (its intents folded per master, its locks held for it): 256
    #: keeps a master sending 2,000 signals/s copied (64 did not); masters with
    #: `fan_out_shard_followers` or more are only split here, so one read plans at
    #: most ~256 x 500 decisions (~6 s), inside `lock_ttl_ms`.
    batch: int = Field(default=256, ge=1, le=10_000)
    #: EA events (ExecutionReports, snapshots) read per XREADGROUP call. Larger than
    #: `batch`: at N followers every copied intent brings N reports. While a read of
    #: them comes back full, new intents are left unread (reports first).
    report_batch: int = Field(default=1024, ge=1, le=10_000)
    #: How long one XREADGROUP call blocks waiting for entries (ms).
    block_ms: int = Field(default=500, ge=1)
    #: A pending entry idle this long is claimed (XAUTOCLAIM) by another consumer (ms).
    claim_idle_ms: int = Field(default=5_000, ge=1)
    #: How often a worker looks for entries to claim (ms).
    claim_interval_ms: int = Field(default=1_000, ge=1)
    #: Claims of an entry after which a failing entry goes to the dead-letter stream.
    max_failures: int = Field(default=5, ge=1)
    #: Lifetime of a partition (account) lock; a dead holder blocks it this long (ms).
    lock_ttl_ms: int = Field(default=10_000, ge=100)
    #: How often the outbox is swept for due retries and orphaned entries (ms).
    sweep_interval_ms: int = Field(default=100, ge=1)
    #: How long an immediate outbox entry is left to the worker that wrote it (ms).
    outbox_grace_ms: int = Field(default=2_000, ge=1)
    #: Copy records kept per follower (oldest are trimmed).
    max_copies_per_follower: int = Field(default=1_000, ge=10)
    #: Delivery log enqueues in flight at once per worker.
    enqueue_concurrency: int = Field(default=32, ge=1)
    #: Consecutive rejected executions that open a follower's circuit breaker.
    breaker_threshold: int = Field(default=5, ge=1)
    #: How long an open circuit breaker blocks new opens (ms).
    breaker_cooldown_ms: int = Field(default=60_000, ge=1)
    #: Standalone `copygate copier` processes only: the cyclic garbage collector's
    #: generation-0 threshold (Python's default is 700). A worker allocates ~100
    #: short-lived objects per follower decision and keeps a large cache of decoded
    #: records, so default collections cost about a quarter of its CPU; a worker's
    #: data is acyclic (freed by reference counting), so collecting rarely is cheap
    #: in memory. 0 leaves the interpreter's setting alone. `copygate serve` (the
    #: gateway's process, copier included) uses ``COPYGATE_GC_GEN0_THRESHOLD``.
    standalone_gc_threshold: int = Field(default=50_000, ge=0)
    #: Redis Cluster: the stream partitions this process consumes, e.g. ``0-7,12``
    #: (unset: all; every partition must be consumed by some process). On a single
    #: Redis there is one partition, 0.
    partitions: str | None = None
    #: TEST HOOK: sleep this long after a read returned new entries, before
    #: processing them (lets a test SIGKILL a worker between read and ack). 0 = off.
    test_pause_after_read_ms: int = Field(default=0, ge=0)

    def partitions_of(self, count: int) -> list[int]:
        """The partitions to consume out of `count` (all of them unless `partitions` says).

        Raises:
            ValueError: `partitions` is malformed or names a partition >= `count`.
        """
        if not self.partitions or count == 1:
            return list(range(count))
        chosen: set[int] = set()
        for part in self.partitions.split(","):
            low, _, high = part.strip().partition("-")
            first, last = int(low), int(high or low)
            if not 0 <= first <= last < count:
                raise ValueError(
                    f"COPYGATE_COPIER_PARTITIONS: {part!r} is not within 0-{count - 1}"
                )
            chosen.update(range(first, last + 1))
        return sorted(chosen)
