"""Every Redis key name the copier uses, in one place.

The copier keeps its keys out of `gateway/store/keys.py` (which the gateway team
owns) but under the **same prefix** and the same layout (`RedisKeys.partitions`):
keys about one account carry the account's hash tag (``{account_id}`` on a
single Redis, the account's partition tag on Redis Cluster) so that a follower's
state, outbox and copy records share one slot. Stream bookkeeping follows the
stream: a stream's marks and failure counts (and, per partition, the outbox
index) carry the stream's partition tag on a cluster, so they share the slot of
the stream and of the accounts whose entries it holds. The fan-out stream and its
last-ids hash are per partition too (a master's shard entries go to its
partition's), and a shard partition's lock is in its master's partition. Dead letters and the
global audit stream stay global (never written in a script with account keys).

Build it from the gateway's `RedisKeys` so both always agree on the prefix::

    ckeys = CopierKeys.of(store.keys)
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.crc import key_slot

from gateway.store.keys import RedisKeys

__all__ = ["CONSUMER_GROUP", "FAN_OUT_SEPARATOR", "CopierKeys"]

#: Consumer group of the copier workers on the intent and EA event streams.
CONSUMER_GROUP = "copiers"

#: Between master and shard in a fan-out shard partition ``<master>#<shard>``
#: (never part of an account id; see `copier.worker.shards`).
FAN_OUT_SEPARATOR = "#"


@dataclass(frozen=True, slots=True)
class CopierKeys:
    """Copier key names under one prefix (the gateway's `RedisKeys.prefix`)."""

    prefix: str = "cg"  #: namespace for every key (same as the gateway's)
    #: the gateway's layout (partitions on Redis Cluster); built from the prefix if None
    layout: RedisKeys | None = None

    @classmethod
    def of(cls, keys: RedisKeys) -> CopierKeys:
        """The copier keys under the gateway's prefix and layout."""
        return cls(prefix=keys.prefix, layout=keys if keys.cluster else None)

    @property
    def cluster(self) -> bool:
        """True for the Redis Cluster layout."""
        return self.layout is not None

    def pinned(self, partition: int) -> CopierKeys:
        """These keys with every account placed in `partition` (key templates)."""
        if self.layout is None:
            return self
        return CopierKeys(self.prefix, self.layout.pinned(partition))

    def partition_of(self, account_id: str) -> int:
        """The partition of an account (0 on a single Redis).

        A fan-out shard partition ``<master>#<shard>`` is in its master's partition.
        """
        if self.layout is None:
            return 0
        master, separator, _ = account_id.rpartition(FAN_OUT_SEPARATOR)
        return self.layout.partition_of(master if separator else account_id)

    def split_by_slot(
        self, account_id: str, ops: list[list[str]]
    ) -> tuple[list[list[str]], list[list[str]]]:
        """Redis commands (key second) split into (in the account's slot, the others).

        On a single Redis every command is in the account's "slot".
        """
        if self.layout is None:
            return ops, []
        home = key_slot(self.follower_state(account_id).encode())
        local = [op for op in ops if key_slot(op[1].encode()) == home]
        return local, [op for op in ops if key_slot(op[1].encode()) != home]

    def _tagged(self, account_id: str, name: str) -> str:
        if self.layout is None:
            return f"{self.prefix}:{{{account_id}}}:{name}"
        return self.layout.account_scoped(account_id, name)

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
        """STRING: lock token of the worker processing this account's stream entries.

        On a cluster, the lock of a fan-out shard partition ``<master>#<shard>`` is in
        its master's partition, the slot of the fan-out stream its entries are on.
        """
        if self.layout is not None and self.layout.pinned_partition is None:
            home = self.layout.pinned(self.partition_of(account_id))
            return home.account_scoped(account_id, "copier-lock")
        return self._tagged(account_id, "copier-lock")

    def audit(self, account_id: str) -> str:
        """STREAM: subscription changes that involve this account."""
        return self._tagged(account_id, "audit")

    # ---- per stream / per partition ------------------------------------------
    def marks(self, stream: str) -> str:
        """HASH: account id -> last stream entry id fully processed for it.

        On a cluster the stream's name carries its partition tag, so this key (whose
        first ``{...}`` is that tag) lies in the stream's slot.
        """
        return f"{self.prefix}:copier:marks:{stream}"

    def failures(self, stream: str) -> str:
        """HASH: ``<stream> <entry id>`` -> failed processing attempts.

        One hash on a single Redis; one per stream (in its slot) on a cluster.
        """
        if self.layout is None:
            return f"{self.prefix}:copier:failures"
        return f"{self.prefix}:copier:failures:{stream}"

    def outbox_index(self, partition: int = 0) -> str:
        """ZSET: account ids with outbox entries, scored by the earliest due ms (per partition)."""
        if self.layout is None:
            return f"{self.prefix}:copier:outbox"
        return self.layout.partition_scoped(partition, "copier:outbox")

    # ---- global ----------------------------------------------------------------
    def dead_letters(self) -> str:
        """STREAM: entries that kept failing, with the error (see the dead-letters endpoint)."""
        return f"{self.prefix}:copier:dead-letters"

    def global_audit(self) -> str:
        """STREAM: every subscription change."""
        return f"{self.prefix}:audit"

    def fan_out_stream(self, partition: int = 0) -> str:
        """STREAM: masters' intents split into follower shards (`copier.worker.shards`).

        One on a single Redis; on a cluster one per partition, for the masters of that
        partition (in its slot, with the masters' streams and the shards' locks).
        """
        if self.layout is None:
            return f"{self.prefix}:copier:fan-out"
        return self.layout.partition_scoped(partition, "copier:fan-out")

    def fan_out_last(self, partition: int = 0) -> str:
        """HASH: ``<master>#<shard>`` -> id of the last fan-out entry written for that shard.

        In the slot of the fan-out stream of the same partition.
        """
        if self.layout is None:
            return f"{self.prefix}:copier:fan-out-last"
        return self.layout.partition_scoped(partition, "copier:fan-out-last")
