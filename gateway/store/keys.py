"""Every Redis key name copygate uses, in one place.

Account-scoped keys carry the hash tag ``{account_id}`` so that the Lua scripts
that touch one account stay on one Redis Cluster slot. Global indexes are
untagged. All names start with the configurable prefix (default ``cg``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RedisKeys"]


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """Key names under one prefix (tests use a random prefix per test)."""

    prefix: str = "cg"  #: namespace for every key

    # ---- per account (hash-tagged) -------------------------------------------------
    def account(self, account_id: str) -> str:
        """HASH: tenant_id, role, label, updated_ms; plus gen, active_sid, acked_seq.

        ``read_seq`` (the highest seq the delivery log handed to a transport, the
        ceiling of acknowledgements) is kept here too.
        """
        return f"{self.prefix}:{{{account_id}}}:account"

    def account_seq(self, account_id: str) -> str:
        """STRING counter: last server->EA seq handed out (never reused)."""
        return f"{self.prefix}:{{{account_id}}}:seq"

    def account_sessions(self, account_id: str) -> str:
        """ZSET: live session ids of the account, scored by creation ms."""
        return f"{self.prefix}:{{{account_id}}}:sessions"

    def session(self, account_id: str, session_id: str) -> str:
        """HASH: one session record (see `records.SessionRecord`)."""
        return f"{self.prefix}:{{{account_id}}}:session:{session_id}"

    def delivery_log(self, account_id: str) -> str:
        """ZSET: numbered server->EA messages not yet acknowledged, scored by seq.

        Members are ``<binding>|<envelope json without seq>``; binding is ``*`` for
        durable messages and a session id for messages meant for one session only.
        """
        return f"{self.prefix}:{{{account_id}}}:log"

    def delivery_ids(self, account_id: str) -> str:
        """HASH: envelope id -> log member, to drop duplicate enqueues."""
        return f"{self.prefix}:{{{account_id}}}:log-ids"

    def held_messages(self, account_id: str) -> str:
        """LIST: durable messages waiting (unnumbered) for an authenticated session."""
        return f"{self.prefix}:{{{account_id}}}:held"

    def held_intents(self, account_id: str) -> str:
        """LIST: OrderIntents (JSON) received while the session was pending."""
        return f"{self.prefix}:{{{account_id}}}:held-intents"

    def ea_state(self, account_id: str) -> str:
        """HASH: last InitRequest and StatusHeartbeat payloads (JSON) and their times."""
        return f"{self.prefix}:{{{account_id}}}:ea-state"

    def snapshot_parts(self, account_id: str) -> str:
        """HASH: the parts of a SyncSnapshot sent in parts, until the set is complete.

        Fields ``id``, ``parts``, ``started_ms``, ``have`` and ``p:<n>`` (part n's
        envelope JSON); ``done`` names the last snapshot handed to the copier. The
        hash expires a while after its last write (an incomplete set is dropped).
        """
        return f"{self.prefix}:{{{account_id}}}:snapshot-parts"

    def account_keys(self, account_id: str) -> str:
        """HASH: key_id -> key record JSON."""
        return f"{self.prefix}:{{{account_id}}}:keys"

    def key_fingerprints(self, account_id: str) -> str:
        """HASH: keyed fingerprint of a verified secret -> key_id (re-auth fast path)."""
        return f"{self.prefix}:{{{account_id}}}:key-fingerprints"

    def account_events(self, account_id: str) -> str:
        """PUB/SUB channel: session and delivery notifications for the account."""
        return f"{self.prefix}:{{{account_id}}}:events"

    # ---- global ----------------------------------------------------------------
    def session_index(self) -> str:
        """HASH: session_id -> account_id."""
        return f"{self.prefix}:session-index"

    def heartbeat_deadlines(self) -> str:
        """ZSET: live session ids (as ``account_id session_id``) scored by deadline ms."""
        return f"{self.prefix}:heartbeat-deadlines"

    def session_counts(self) -> str:
        """HASH: live sessions by state (``pending``, ``authenticated``), all nodes.

        Kept by the session scripts at every state change, so `/metrics` reads two
        numbers instead of walking the sessions.
        """
        return f"{self.prefix}:session-counts"

    def closed_sessions(self) -> str:
        """ZSET: closed session ids scored by when their record expires (ms).

        Lets the heartbeat monitor drop `session_index` entries of expired records;
        without it the global index would grow by one field per session forever.
        """
        return f"{self.prefix}:closed-sessions"

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

    def intent_stream(self) -> str:
        """STREAM: authenticated masters' OrderIntents, read by copier workers."""
        return f"{self.prefix}:intents"

    def ea_inbox_stream(self) -> str:
        """STREAM: ExecutionReports and SyncSnapshots for the copier."""
        return f"{self.prefix}:ea-events"
