"""Every Redis key name copygate uses, in one place.

Two layouts, chosen by `RedisKeys.partitions`:

* single Redis (``partitions=None``, the default): account-scoped keys carry the
  hash tag ``{account_id}``, the indexes and streams that span accounts are
  global (``cg:session-index``, ``cg:intents``, ...): one partition, number 0.
* Redis Cluster (``partitions=P``): accounts are spread over P partitions (the
  partition of the slot range the account id hashes to, `partition_of`). Every
  key of an account and every per-partition index and stream carries the
  partition's hash tag (``cg:{<tag>}:<account id>:account``,
  ``cg:{<tag>}:intents``), so a Lua script about one account touches one slot
  only, and the partitions' slots are spread evenly over the slot space (so over
  the primaries). A partition's tag is the first string ``p<n>-<i>`` whose slot
  lies in the n-th of P equal slot ranges.

All names start with the configurable prefix (default ``cg``). Methods about
something spanning accounts take the partition (0 on single Redis).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

__all__ = ["RedisKeys", "partition_tags"]


@functools.cache
def partition_tags(partitions: int) -> tuple[str, ...]:
    """The hash tag of each partition: its slot lies in the partition's slot range."""
    tags = []
    for n in range(partitions):
        low = n * REDIS_CLUSTER_HASH_SLOTS // partitions
        high = (n + 1) * REDIS_CLUSTER_HASH_SLOTS // partitions
        for i in itertools.count():
            tag = f"p{n}-{i}"
            if low <= key_slot(tag.encode()) < high:
                tags.append(tag)
                break
    return tuple(tags)


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """Key names under one prefix (tests use a random prefix per test)."""

    prefix: str = "cg"  #: namespace for every key
    #: partitions of the Redis Cluster layout; None = the single-Redis layout
    partitions: int | None = None
    #: Cluster layout only: build account keys in this partition whatever the
    #: account id (for the scripts' key templates; see `pinned`)
    pinned_partition: int | None = None

    @property
    def cluster(self) -> bool:
        """True for the Redis Cluster layout."""
        return self.partitions is not None

    def pinned(self, partition: int) -> RedisKeys:
        """These keys with every account placed in `partition` (key templates)."""
        if self.partitions is None:
            return self
        return RedisKeys(self.prefix, self.partitions, partition)

    @property
    def partition_count(self) -> int:
        """How many partitions the cross-account indexes and streams have (1 on single Redis)."""
        return self.partitions or 1

    def partition_of(self, account_id: str) -> int:
        """The partition of an account: the one of the slot range its id hashes to."""
        if self.partitions is None:
            return 0
        return key_slot(account_id.encode()) * self.partitions // REDIS_CLUSTER_HASH_SLOTS

    def account_scoped(self, account_id: str, name: str) -> str:
        """The key `name` of an account, in this layout (for the copier's own keys)."""
        return self._account_key(account_id, name)

    def partition_scoped(self, partition: int, name: str) -> str:
        """The key `name` of a partition, in this layout (for the copier's own keys)."""
        return self._partition_key(partition, name)

    def _account_key(self, account_id: str, name: str) -> str:
        if self.partitions is None:
            return f"{self.prefix}:{{{account_id}}}:{name}"
        partition = self.pinned_partition
        if partition is None:
            partition = self.partition_of(account_id)
        tag = partition_tags(self.partitions)[partition]
        return f"{self.prefix}:{{{tag}}}:{account_id}:{name}"

    def _partition_key(self, partition: int, name: str) -> str:
        if self.partitions is None:
            return f"{self.prefix}:{name}"
        return f"{self.prefix}:{{{partition_tags(self.partitions)[partition]}}}:{name}"

    # ---- per account (hash-tagged) -------------------------------------------------
    def account(self, account_id: str) -> str:
        """HASH: tenant_id, role, label, updated_ms; plus gen, active_sid, acked_seq.

        ``read_seq`` (the highest seq the delivery log handed to a transport, the
        ceiling of acknowledgements) is kept here too.
        """
        return self._account_key(account_id, "account")

    def account_seq(self, account_id: str) -> str:
        """STRING counter: last server->EA seq handed out (never reused)."""
        return self._account_key(account_id, "seq")

    def account_sessions(self, account_id: str) -> str:
        """ZSET: live session ids of the account, scored by creation ms."""
        return self._account_key(account_id, "sessions")

    def session(self, account_id: str, session_id: str) -> str:
        """HASH: one session record (see `records.SessionRecord`)."""
        return self._account_key(account_id, f"session:{session_id}")

    def delivery_log(self, account_id: str) -> str:
        """ZSET: numbered server->EA messages not yet acknowledged, scored by seq.

        Members are ``<binding>|<envelope json without seq>``; binding is ``*`` for
        durable messages and a session id for messages meant for one session only.
        """
        return self._account_key(account_id, "log")

    def delivery_ids(self, account_id: str) -> str:
        """HASH: envelope id -> log member, to drop duplicate enqueues."""
        return self._account_key(account_id, "log-ids")

    def held_messages(self, account_id: str) -> str:
        """LIST: durable messages waiting (unnumbered) for an authenticated session."""
        return self._account_key(account_id, "held")

    def held_intents(self, account_id: str) -> str:
        """LIST: OrderIntents (JSON) received while the session was pending."""
        return self._account_key(account_id, "held-intents")

    def ea_state(self, account_id: str) -> str:
        """HASH: last InitRequest and StatusHeartbeat payloads (JSON) and their times."""
        return self._account_key(account_id, "ea-state")

    def snapshot_parts(self, account_id: str) -> str:
        """HASH: the parts of a SyncSnapshot sent in parts, until the set is complete.

        Fields ``id``, ``parts``, ``started_ms``, ``have`` and ``p:<n>`` (part n's
        envelope JSON); ``done`` names the last snapshot handed to the copier. The
        hash expires a while after its last write (an incomplete set is dropped).
        """
        return self._account_key(account_id, "snapshot-parts")

    def account_keys(self, account_id: str) -> str:
        """HASH: key_id -> key record JSON."""
        return self._account_key(account_id, "keys")

    def key_fingerprints(self, account_id: str) -> str:
        """HASH: keyed fingerprint of a verified secret -> key_id (re-auth fast path)."""
        return self._account_key(account_id, "key-fingerprints")

    def account_events(self, account_id: str) -> str:
        """PUB/SUB channel: session and delivery notifications for the account."""
        return self._account_key(account_id, "events")

    # ---- per partition (one of each on single Redis) -----------------------------
    def session_index(self, partition: int = 0) -> str:
        """HASH: session_id -> account_id."""
        return self._partition_key(partition, "session-index")

    def heartbeat_deadlines(self, partition: int = 0) -> str:
        """ZSET: live session ids (as ``account_id session_id``) scored by deadline ms."""
        return self._partition_key(partition, "heartbeat-deadlines")

    def session_counts(self, partition: int = 0) -> str:
        """HASH: live sessions by state (``pending``, ``authenticated``), all nodes.

        Kept by the session scripts at every state change, so `/metrics` reads two
        numbers instead of walking the sessions.
        """
        return self._partition_key(partition, "session-counts")

    def closed_sessions(self, partition: int = 0) -> str:
        """ZSET: closed session ids scored by when their record expires (ms).

        Lets the heartbeat monitor drop `session_index` entries of expired records;
        without it the global index would grow by one field per session forever.
        """
        return self._partition_key(partition, "closed-sessions")

    def intent_stream(self, partition: int = 0) -> str:
        """STREAM: authenticated masters' OrderIntents, read by copier workers."""
        return self._partition_key(partition, "intents")

    def ea_inbox_stream(self, partition: int = 0) -> str:
        """STREAM: ExecutionReports and SyncSnapshots for the copier."""
        return self._partition_key(partition, "ea-events")

    # ---- global (never in a script together with account keys) -------------------
    def key_index(self) -> str:
        """HASH: key_id -> account_id."""
        return f"{self.prefix}:key-index"

    def keys_by_status(self, status: str) -> str:
        """ZSET: key ids with that status, scored by first_seen_ms."""
        return f"{self.prefix}:keys:{status}"

    def accounts(self) -> str:
        """SET: every configured account id."""
        return f"{self.prefix}:accounts"

    def admin_tokens(self) -> str:
        """HASH: sha256(token secret) -> admin token record JSON."""
        return f"{self.prefix}:admin-tokens"

    def rate_limit(self, bucket: str) -> str:
        """ZSET: the hit times of one rate-limit bucket in its sliding window."""
        return f"{self.prefix}:rlog:{bucket}"
