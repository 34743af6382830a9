"""The Lua scripts of the Redis stores, loaded from ``gateway/store/lua``.

Every script is sent as ``_lib.lua`` (shared helpers) followed by the script's own
file, and runs as EVALSHA in a per-tick pipeline (`Scripts`); a NOSCRIPT reply
loads the script and runs the call again. The scripts run unchanged on Redis 7 and
on fakeredis (lupa).

Key names are never spelled in Lua. `ARGV[1]` of every call carries the templates
of the keys in `keys.RedisKeys`, one per line, with byte 0x01 standing for the
account id and 0x02 for the session id; the helper ``k(T.<name>, account, sid)``
fills them in. That keeps `keys.py` the single source of key names even for keys
a script discovers while running (other sessions of the account).
``KEYS[1]`` is the account hash when a script is about one known account (its hash
tag routes the call).

On Redis Cluster (`RedisKeys.partitions`) every call names its partition: the
templates are those of the partition (`keys.RedisKeys.pinned`), so every key a
script builds carries the partition's hash tag and lies in the slot of
``KEYS[1]``, which every call declares (Redis Cluster refuses a script that
touches a key of another slot, so a mistake fails loudly instead of writing
elsewhere). Calls about many accounts are split by partition by their callers.
On a single Redis there is one partition and one set of templates.

With a `ReplicaWait`, every pipeline ends with ``WAIT <replicas> <timeout>``: no
caller hears its reply (so no transport sends a message it read) before that many
replicas hold every write of the pipeline, and with them everything written before
(see docs/redis-layout.md, "Failover"); `ReplicaWait` pauses it while replicas
fall short.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

from gateway.store.keys import RedisKeys
from gateway.store.replica_wait import ReplicaWait

__all__ = [
    "MAX_BATCH",
    "MAX_PIPELINES_IN_FLIGHT",
    "SCRIPT_NAMES",
    "ScriptArg",
    "Scripts",
    "evalsha_pipeline",
    "key_templates",
    "script_source",
]

#: Scripts in ``gateway/store/lua`` (file name without ``.lua``).
SCRIPT_NAMES: tuple[str, ...] = (
    "ack",
    "close_expired",
    "close_many",
    "close_session",
    "create_session",
    "enqueue",
    "enqueue_many",
    "get_session",
    "get_session_account",
    "heartbeat",
    "hold_intent",
    "log_for_session",
    "mark_handed",
    "promote",
    "publish_snapshot",
    "publish_stream",
    "rate_hit",
    "read",
    "record_init",
    "remember_ack",
    "snapshot_part",
    "touch",
)

#: What a script argument may be.
ScriptArg = str | bytes | int

#: The netstring reader every script may use (`blob`, `pos`, `nxt()`); the copier's
#: scripts start with it too.
NETSTRINGS_LUA = (
    resources.files("gateway.store").joinpath("lua", "_netstrings.lua").read_text(encoding="utf-8")
)

_ACCOUNT = "\x01"
_SESSION = "\x02"


@functools.cache
def script_source(name: str) -> str:
    """The full source of one script: the shared helpers, then the script."""
    lua = resources.files("gateway.store").joinpath("lua")
    lib = lua.joinpath("_lib.lua").read_text(encoding="utf-8")
    body = lua.joinpath(f"{name}.lua").read_text(encoding="utf-8")
    return f"{lib}\n{NETSTRINGS_LUA}\n{body}"


def key_templates(keys: RedisKeys, partition: int = 0) -> bytes:
    """`ARGV[1]` of every script: key templates in the order ``_lib.lua`` reads them.

    On Redis Cluster, those of `partition`; the session index is then ``-`` (it lives
    in the session id's partition, so the callers keep it).
    """
    a, s = _ACCOUNT, _SESSION
    index = keys.session_index() if not keys.cluster else "-"
    keys = keys.pinned(partition)
    templates = (
        keys.account(a),
        keys.account_seq(a),
        keys.account_sessions(a),
        keys.session(a, s),
        keys.delivery_log(a),
        keys.delivery_ids(a),
        keys.held_messages(a),
        keys.held_intents(a),
        keys.account_events(a),
        index,
        keys.heartbeat_deadlines(partition),
        keys.closed_sessions(partition),
        keys.intent_stream(partition),
        keys.ea_inbox_stream(partition),
        keys.ea_state(a),
        keys.session_counts(partition),
    )
    return "\n".join(templates).encode()


class Scripts:
    """The registered scripts of one client and one key namespace.

    Calls are pipelined (auto-pipelining): calls issued while the loop is busy join one
    batch, sent to Redis as one pipeline (one connection, one write, one read of all
    the replies) on the next loop iteration. While `MAX_PIPELINES_IN_FLIGHT` pipelines
    are out, new calls wait for one of them to come back and then go together. A lone
    call on a quiet process so waits one loop iteration, nothing more; under load
    (thousands of heartbeats a second, a reconnect storm, a fan-out) the batches grow
    with the load, and one write and one read replace a pooled round trip per call,
    whose client-side cost (and loopback syscalls) dwarf the script's own work in
    Redis. Each caller still gets its own reply or its own exception, and calls are
    sent in the order in which they were issued.
    """

    def __init__(
        self, redis: aioredis.Redis, keys: RedisKeys, wait: ReplicaWait | None = None
    ) -> None:
        self._redis = redis  #: the client whose pool runs the pipelines
        self._wait = wait  #: replication to wait for after each pipeline, if any
        #: ARGV[1] of every call, by partition
        self._templates = [key_templates(keys, n) for n in range(keys.partition_count)]
        #: script name -> (sha1, source)
        self._scripts: dict[str, tuple[str, str]] = {
            name: (hashlib.sha1(script_source(name).encode()).hexdigest(), script_source(name))
            for name in SCRIPT_NAMES
        }
        #: sha1 -> source, for NOSCRIPT replies
        self._sources = {sha: source for sha, source in self._scripts.values()}
        self._pending: list[_Call] = []  #: calls waiting for the next flush
        self._flush_scheduled = False  #: a flush is due on the next loop iteration
        self._in_flight: set[asyncio.Task[None]] = set()  #: pipelines being run

    async def run(
        self, name: str, keys: Sequence[str], *args: ScriptArg, partition: int = 0
    ) -> Any:
        """Run a script; `args` become ``ARGV[2:]``; on Redis Cluster in `partition`.

        Redis errors propagate; the stores translate them (see `redis_errors`).
        """
        sha, _ = self._scripts[name]
        loop = asyncio.get_running_loop()
        command = (sha, len(keys), *keys, self._templates[partition], *args)
        call = _Call(command, loop.create_future())
        self._pending.append(call)
        self._schedule_flush()
        return await call.reply

    async def run_in_order(
        self,
        name: str,
        keys: Sequence[str],
        arg_lists: Sequence[Sequence[ScriptArg]],
        *,
        partition: int = 0,
    ) -> list[Any]:
        """Run a script once per item of `arg_lists`, in that order, in one pipeline.

        `run` batches the calls of a loop iteration but may send them on several
        connections at once; these calls are one pipeline on one connection, so they
        execute in order (what one account's consecutive appends need). Replies come
        back in order, an error reply as the exception in its place.
        """
        sha, _ = self._scripts[name]
        head: tuple[ScriptArg, ...] = (sha, len(keys), *keys, self._templates[partition])
        return await evalsha_pipeline(
            self._redis,
            [(*head, *args) for args in arg_lists],
            self._sources.__getitem__,
            wait=self._wait,
        )

    def _schedule_flush(self) -> None:
        """Flush on the next loop iteration, unless one is due or the pipes are full."""
        if self._flush_scheduled or not self._pending:
            return
        if len(self._in_flight) >= MAX_PIPELINES_IN_FLIGHT:
            return  # `_sent` schedules it when a pipeline comes back
        self._flush_scheduled = True
        asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """Send every pending call as pipelines of at most `MAX_BATCH` calls."""
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), MAX_BATCH):
            task = asyncio.ensure_future(self._send(pending[start : start + MAX_BATCH]))
            self._in_flight.add(task)
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._schedule_flush()

    async def _send(self, batch: list[_Call]) -> None:
        try:
            replies = await evalsha_pipeline(
                self._redis,
                [call.command for call in batch],
                self._sources.__getitem__,
                wait=self._wait,
            )
            for call, reply in zip(batch, replies, strict=True):
                _settle(call, reply)
        except BaseException as exc:  # the connection failed: every caller hears it
            for call in batch:
                if not call.reply.done():
                    call.reply.set_exception(exc)
            if not isinstance(exc, Exception):
                raise


async def evalsha_pipeline(
    redis: aioredis.Redis,
    calls: Sequence[Sequence[ScriptArg]],
    source_of: Callable[[str], str],
    *,
    wait: ReplicaWait | None = None,
) -> list[Any]:
    """Send every call (the arguments of an EVALSHA, sha first) in one pipeline.

    Replies come back in order, an error reply as the exception in its place. A
    call answered NOSCRIPT (Redis restarted or flushed its scripts) did not run:
    its script is loaded (`source_of(sha)`) and the call sent again. With `wait`,
    each pipeline ends with a ``WAIT`` (see `ReplicaWait`).

    Raises:
        redis.exceptions.RedisError: the connection failed.
    """
    replies = await _evalsha(redis, calls, wait)
    missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
    if missing:
        for sha in sorted({str(calls[i][0]) for i in missing}):
            await redis.script_load(source_of(sha))
        again = await _evalsha(redis, [calls[i] for i in missing], wait)
        for i, reply in zip(missing, again, strict=True):
            replies[i] = reply
    return replies


async def _evalsha(
    redis: aioredis.Redis, calls: Sequence[Sequence[ScriptArg]], wait: ReplicaWait | None
) -> list[Any]:
    async with redis.pipeline(transaction=False) as pipe:
        for command in calls:
            pipe.execute_command("EVALSHA", *command)
        waiting = wait if wait is not None and wait.due(time.monotonic()) else None
        if waiting is not None:
            pipe.execute_command("WAIT", waiting.replicas, waiting.timeout_ms)
        replies: list[Any] = await pipe.execute(raise_on_error=False)
    if waiting is not None:
        waiting.observe(replies.pop(), time.monotonic())
    return replies


#: Calls per pipeline at most (bounds one write and one reply read).
MAX_BATCH = 512
#: Pipelines out at once; further calls gather until one returns.
MAX_PIPELINES_IN_FLIGHT = 2


@dataclass(slots=True)
class _Call:
    """One `Scripts.run` waiting for its batch."""

    command: tuple[ScriptArg, ...]  #: EVALSHA arguments (sha1 first)
    reply: asyncio.Future[Any]  #: settled with the reply or the error


def _settle(call: _Call, reply: Any) -> None:
    if call.reply.done():  # the caller was cancelled meanwhile
        return
    if isinstance(reply, BaseException):
        call.reply.set_exception(reply)
    else:
        call.reply.set_result(reply)
