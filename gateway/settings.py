"""Process settings, read once from `COPYGATE_*` environment variables and passed down."""

from __future__ import annotations

import secrets
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.admission import AdmissionLimits

__all__ = ["Settings", "parse_host_ports"]


def parse_host_ports(text: str) -> list[tuple[str, int]]:
    """``"h1:26379, h2:26379"`` -> ``[("h1", 26379), ("h2", 26379)]``.

    Raises:
        ValueError: an item is not ``host:port`` with a port in 1..65535.
    """
    out: list[tuple[str, int]] = []
    for item in text.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"expected host:port, got {item.strip()!r}")
        out.append((host, int(port)))
    return out


class Settings(BaseSettings):
    """Everything configurable. Build one in `main`/`create_app`; never a global."""

    model_config = SettingsConfigDict(env_prefix="COPYGATE_", extra="ignore")

    #: Redis URL; unset (and no sentinels) means the embedded in-process store
    #: (single process, not durable). With sentinels it only gives password and db.
    redis_url: str | None = None
    #: Sentinels as ``host:port,host:port,...``: connect to the primary they name
    #: (`redis_sentinel_master`) and follow it across failovers.
    redis_sentinels: str | None = None
    #: The master name the sentinels monitor (``sentinel monitor <name> ...``).
    redis_sentinel_master: str = "mymaster"
    #: Redis Cluster: `redis_url` names any node (its password and TLS apply to
    #: all); every process uses redis-py's cluster client and the partitioned key
    #: layout (docs/redis-layout.md, "Redis Cluster").
    redis_cluster: bool = False
    #: Redis Cluster only: partitions of the cross-account indexes and streams
    #: (their slots spread evenly over the slot space). Every process of one
    #: deployment must use the same number, and it must not change while data exists.
    redis_partitions: int = Field(default=16, ge=1, le=1024)
    #: Replicas that must hold the writes of each pipeline of store scripts before
    #: its replies are used (``WAIT n``), so before a transport sends a message it
    #: read; 0 never waits. See docs/redis-layout.md, "What a failover can lose".
    redis_wait_replicas: int = Field(default=0, ge=0)
    #: How long one ``WAIT`` blocks at most (ms); on timeout the message is sent anyway.
    redis_wait_timeout_ms: int = Field(default=200, ge=1)
    #: Bootstrap bearer token with the `backoffice` role.
    admin_token: SecretStr | None = None
    #: Heartbeat interval announced to EAs (seconds).
    heartbeat_interval_s: float = Field(default=5.0, gt=0)
    #: A session whose last heartbeat is older than this is closed (seconds).
    heartbeat_timeout_s: float = Field(default=15.0, gt=0)
    #: Server-side secret for the re-authentication fingerprints. Must be the same on
    #: every node and across restarts for the fast path to survive a restart; when
    #: unset a random one is used per process (the fast path then only helps within
    #: one process lifetime). Never stored in Redis.
    auth_pepper: SecretStr | None = None
    #: Namespace prefix of every Redis key.
    key_prefix: str = "cg"
    #: Identifies this gateway process in logs and telemetry.
    node_id: str = Field(default_factory=lambda: f"node-{secrets.token_hex(3)}")

    # ---- limits ---------------------------------------------------------------
    max_pending_sessions_per_account: int = Field(default=3, ge=1)
    max_pending_keys_per_account: int = Field(default=3, ge=1)
    #: Session creations allowed per client address per window.
    session_create_limit: int = Field(default=300, ge=1)
    session_create_window_s: int = Field(default=10, ge=1)
    #: Largest WebSocket frame / poll body accepted (bytes).
    max_frame_bytes: int = Field(default=64 * 1024, ge=1024)
    #: Numbered + held messages kept per account before enqueues are refused.
    max_log_entries_per_account: int = Field(default=5000, ge=10)
    #: How long closed sessions are remembered (so their tokens get 410, not 401).
    closed_session_ttl_s: int = Field(default=24 * 3600, ge=60)
    #: How long the parts of a SyncSnapshot sent in parts are kept after the last
    #: one arrived; an incomplete set is then dropped (the copier never sees it).
    snapshot_parts_ttl_s: int = Field(default=300, ge=1)

    # ---- copier backlog: admission of OrderIntents (gateway.admission) ------------
    #: Intents waiting for the copier in a partition (unread + pending) at which new
    #: opens, pending orders and modifies are refused (retryable; 0: no bound).
    intent_backlog_max_waiting: int = Field(default=10_000, ge=0)
    #: The hard bound: waiting intents at which closes and pending-order cancels are
    #: refused too (0: no bound).
    intent_backlog_max_waiting_exits: int = Field(default=50_000, ge=0)
    #: Age of the oldest waiting intent (ms) at which new opens, pending orders and
    #: modifies are refused (0: no bound). Below the default `max_signal_age_ms`
    #: (30 s): an open admitted behind an older backlog would mostly expire unplanned.
    intent_backlog_max_age_ms: int = Field(default=20_000, ge=0)
    #: What a refusal tells the EA to wait before sending again (ms).
    intent_backlog_retry_after_ms: int = Field(default=1_000, ge=1)
    #: How often the gateway re-reads the backlog admission decides from (ms).
    intent_backlog_refresh_ms: int = Field(default=200, ge=10)
    #: How often the entries the copier finished are trimmed from its streams (ms).
    stream_trim_interval_ms: int = Field(default=5_000, ge=100)

    # ---- argon2id (OWASP: m=19 MiB, t=2, p=1) --------------------------------
    argon2_memory_kib: int = Field(default=19 * 1024, ge=8)
    argon2_time_cost: int = Field(default=2, ge=1)
    argon2_parallelism: int = Field(default=1, ge=1)
    #: Threads that run argon2 off the event loop.
    argon2_threads: int = Field(default=2, ge=1)

    # ---- telemetry ------------------------------------------------------------
    #: Span/metric exporter: none, console, or otlp (OTEL_EXPORTER_OTLP_* apply).
    otel_exporter: Literal["none", "console", "otlp"] = "none"
    #: Log level of the `copygate` loggers.
    log_level: str = "INFO"

    # ---- process ----------------------------------------------------------------
    #: `copygate serve` only: the garbage collector's generation-0 threshold
    #: (Python's default is 700); startup objects are frozen. 0 leaves the
    #: interpreter alone. See `gateway.gc_tuning`.
    gc_gen0_threshold: int = Field(default=50_000, ge=0)

    @field_validator("redis_url")
    @classmethod
    def _url_is_a_redis_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme = value.partition("://")[0].lower()
        if "cluster" in scheme:
            raise ValueError(
                f"{scheme}:// asks for Redis Cluster: give any node's redis:// (or rediss://) "
                "URL and set COPYGATE_REDIS_CLUSTER=true"
            )
        if scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"expected a redis://, rediss:// or unix:// URL, got {scheme}://")
        return value

    @field_validator("redis_sentinels")
    @classmethod
    def _sentinels_are_host_port_pairs(cls, value: str | None) -> str | None:
        if value is not None and value.strip():
            parse_host_ports(value)
            return value
        return None

    @model_validator(mode="after")
    def _cluster_excludes_sentinel_and_wait(self) -> Settings:
        if self.redis_cluster:
            if self.redis_url is None:
                raise ValueError("COPYGATE_REDIS_CLUSTER needs COPYGATE_REDIS_URL (any node)")
            if self.redis_sentinels:
                raise ValueError(
                    "COPYGATE_REDIS_CLUSTER and COPYGATE_REDIS_SENTINELS exclude each other"
                )
            if self.redis_wait_replicas:
                raise ValueError(
                    "COPYGATE_REDIS_WAIT_REPLICAS is not supported on Redis Cluster "
                    "(WAIT is per node, a pipeline spans nodes)"
                )
        return self

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """The sentinels as (host, port) pairs; empty when none are set."""
        return parse_host_ports(self.redis_sentinels) if self.redis_sentinels else []

    @property
    def shared_store(self) -> bool:
        """True when a real Redis is configured (by URL or by sentinels)."""
        return self.redis_url is not None or bool(self.redis_sentinels)

    @property
    def admission_limits(self) -> AdmissionLimits:
        """The intent backlog bounds (`gateway.admission`)."""
        return AdmissionLimits(
            max_waiting=self.intent_backlog_max_waiting,
            max_waiting_exits=self.intent_backlog_max_waiting_exits,
            max_age_ms=self.intent_backlog_max_age_ms,
            retry_after_ms=self.intent_backlog_retry_after_ms,
        )

    @property
    def heartbeat_timeout_ms(self) -> int:
        """The timeout in integer milliseconds."""
        return int(self.heartbeat_timeout_s * 1000)
