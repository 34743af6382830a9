"""Every Redis key name the copier uses, in one place.

The copier keeps its keys out of `gateway/store/keys.py` (which the gateway team
owns) but under the **same prefix** and the same hash-tag convention: keys about
one account carry ``{account_id}`` so that a follower's state, outbox and copy
records share one Redis Cluster slot. Global keys (stream bookkeeping, the
outbox index, dead letters, the global audit stream) are untagged; like the
gateway's scripts, the copier therefore needs one Redis instance (or Sentinel),
not Redis Cluster.

Build it from the gateway's `RedisKeys` so both always agree on the prefix::

    ckeys = CopierKeys.of(store.keys)
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.store.keys import RedisKeys

__all__ = ["CONSUMER_GROUP", "CopierKeys"]

#: Consumer group of the copier workers on the intent and EA event streams.
CONSUMER_GROUP = "copiers"


@dataclass(frozen=True, slots=True)
class CopierKeys:
    """Copier key names under one prefix (the gateway's `RedisKeys.prefix`)."""

    prefix: str = "cg"  #: namespace for every key (same as the gateway's)

    @classmethod
    def of(cls, keys: RedisKeys) -> CopierKeys:
        """The copier keys under the gateway's prefix."""
        return cls(prefix=keys.prefix)

    def _tagged(self, account_id: str, name: str) -> str:
        return f"{self.prefix}:{{{account_id}}}:{name}"

    # ---- per account (hash-tagged) ---------------------------------------------
    def follower_state(self, account_id: str) -> str:
        """HASH: a follower's copier state, written only by the CAS commit script.

        Fields: ``v`` (version, +1 per commit), ``links`` (LinkBook JSON),
        ``breaker`` (CircuitBreaker JSON), ``peak`` (equity high-water mark),
        ``recent:<master>`` (recent order times JSON), ``parked:<master>:<root>``
        (intents waiting for a link, JSON list).
        """
        return self._tagged(account_id, "copier")

    def outbox(self, account_id: str) -> str:
        """HASH: envelope id -> ``<due ms>|<envelope JSON>`` not yet handed to the delivery log."""
        return self._tagged(account_id, "copier-outbox")

    def copies(self, account_id: str) -> str:
        """HASH: base command id -> copy record JSON (one per master intent)."""
        return self._tagged(account_id, "copies")

    def copies_index(self, account_id: str) -> str:
        """ZSET: base command ids scored by the intent's receive time (newest last)."""
        return self._tagged(account_id, "copies-index")

    def queued_times(self, account_id: str) -> str:
        """HASH: envelope id -> ms when the copier first enqueued it into the delivery log."""
        return self._tagged(account_id, "copy-queued")

    def delivered_times(self, account_id: str) -> str:
        """HASH: envelope id -> ms when a transport was first handed it (delivery hook)."""
        return self._tagged(account_id, "copy-delivered")

    def subscriptions(self, account_id: str) -> str:
        """HASH: a follower's subscriptions, master id -> SubscriptionView JSON."""
        return self._tagged(account_id, "subscriptions")

    def followers(self, account_id: str) -> str:
        """HASH: a master's followers, follower id -> SubscriptionView JSON (same data)."""
        return self._tagged(account_id, "followers")

    def master_book(self, account_id: str) -> str:
        """STRING: a master's positions and orders as the copier knows them (JSON)."""
        return self._tagged(account_id, "copier-master")

    def partition_lock(self, account_id: str) -> str:
        """STRING: lock token of the worker processing this account's stream entries."""
        return self._tagged(account_id, "copier-lock")

    def audit(self, account_id: str) -> str:
        """STREAM: subscription changes that involve this account."""
        return self._tagged(account_id, "audit")

    # ---- global ----------------------------------------------------------------
    def marks(self, stream: str) -> str:
        """HASH: account id -> last stream entry id fully processed for it."""
        return f"{self.prefix}:copier:marks:{stream}"

    def failures(self) -> str:
        """HASH: ``<stream> <entry id>`` -> failed processing attempts."""
        return f"{self.prefix}:copier:failures"

    def outbox_index(self) -> str:
        """ZSET: account ids with outbox entries, scored by the earliest due ms."""
        return f"{self.prefix}:copier:outbox"

    def dead_letters(self) -> str:
        """STREAM: entries that kept failing, with the error (see the dead-letters endpoint)."""
        return f"{self.prefix}:copier:dead-letters"

    def global_audit(self) -> str:
        """STREAM: every subscription change."""
        return f"{self.prefix}:audit"

    def fan_out_stream(self) -> str:
        """Stream of one master's intents split into follower shards (`copier.worker.shards`)."""
        return f"{self.prefix}:copier:fan-out"

    def fan_out_last(self) -> str:
        """Hash: ``<master>#<shard>`` -> id of the last fan-out entry written for that shard."""
        return f"{self.prefix}:copier:fan-out-last"
