"""`ReplicaWait`: when to end a pipeline of store scripts with ``WAIT``, and what it said.

``WAIT <replicas> <timeout>`` holds the pipeline's replies until that many replicas
hold its writes (see docs/redis-layout.md, "What a failover can lose"). When the
replicas fall short (none left after a failover, one stalled), every further
``WAIT`` would block for the whole timeout, and a gateway whose every store call
takes the timeout misses heartbeats. So after a ``WAIT`` that fell short the next
ones are skipped for `ReplicaWait.retry_s`, then tried again: a lost replica costs
one timeout per `retry_s`, and the replies meanwhile are not protected (as they
are not after a timed-out ``WAIT`` either). Pure: the caller passes the time.
"""

from __future__ import annotations

import logging

__all__ = ["ReplicaWait"]

logger = logging.getLogger("copygate.store.scripts")


class ReplicaWait:
    """``WAIT replicas timeout_ms`` after each pipeline, paused while replicas are short."""

    def __init__(self, replicas: int, timeout_ms: int, retry_s: float = 1.0) -> None:
        self.replicas = replicas  #: replicas that must confirm the pipeline's writes
        self.timeout_ms = timeout_ms  #: longest wait; on timeout the replies are released
        self.retry_s = retry_s  #: how long WAIT is skipped after it fell short
        self._skip_until = float("-inf")  #: monotonic time before which WAIT is skipped
        self._short = False  #: the last WAIT fell short

    def due(self, now: float) -> bool:
        """True when the next pipeline should end with ``WAIT``."""
        return now >= self._skip_until

    def observe(self, confirmed: object, now: float) -> None:
        """Take the reply of a ``WAIT`` (replicas that confirmed, or an error)."""
        if isinstance(confirmed, int) and confirmed >= self.replicas:
            if self._short:
                logger.info("WAIT %d: replicas confirm again", self.replicas)
            self._short = False
            return
        self._skip_until = now + self.retry_s
        if not self._short:
            logger.warning(
                "WAIT %d: only %r replica(s) confirmed within %d ms; replies released "
                "anyway, WAIT retried every %.1f s until replicas confirm again",
                self.replicas,
                confirmed,
                self.timeout_ms,
                self.retry_s,
            )
        self._short = True
