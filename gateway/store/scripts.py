"""The Lua scripts of the Redis stores, loaded from ``gateway/store/lua``.

Every script is sent as ``_lib.lua`` (shared helpers) followed by the script's own
file, and runs through redis-py's `AsyncScript` (EVALSHA, falling back to EVAL on
NOSCRIPT). The scripts run unchanged on Redis 7 and on fakeredis (lupa).

Key names are never spelled in Lua. `ARGV[1]` of every call carries the templates
of the keys in `keys.RedisKeys`, one per line, with byte 0x01 standing for the
account id and 0x02 for the session id; the helper ``k(T.<name>, account, sid)``
fills them in. That keeps `keys.py` the single source of key names even for keys
a script discovers while running (other sessions, other accounts).
``KEYS[1]`` is the account hash when a script is about one known account (its hash
tag routes the call); the scripts also touch the untagged global indexes, so they
need a single Redis instance (or Sentinel), not Redis Cluster.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from importlib import resources
from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from gateway.store.keys import RedisKeys

__all__ = ["SCRIPT_NAMES", "ScriptArg", "Scripts", "key_templates", "script_source"]

#: Scripts in ``gateway/store/lua`` (file name without ``.lua``).
SCRIPT_NAMES: tuple[str, ...] = (
    "ack",
    "close_expired",
    "close_session",
    "create_session",
    "enqueue",
    "enqueue_many",
    "get_session",
    "heartbeat",
    "hold_intent",
    "log_for_session",
    "promote",
    "publish_stream",
    "read",
    "remember_ack",
    "touch",
)

#: What a script argument may be.
ScriptArg = str | bytes | int

_ACCOUNT = "\x01"
_SESSION = "\x02"


@functools.cache
def script_source(name: str) -> str:
    """The full source of one script: the shared helpers, then the script."""
    lua = resources.files("gateway.store").joinpath("lua")
    lib = lua.joinpath("_lib.lua").read_text(encoding="utf-8")
    body = lua.joinpath(f"{name}.lua").read_text(encoding="utf-8")
    return f"{lib}\n{body}"


def key_templates(keys: RedisKeys) -> bytes:
    """`ARGV[1]` of every script: key templates in the order ``_lib.lua`` reads them."""
    a, s = _ACCOUNT, _SESSION
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
        keys.session_index(),
        keys.heartbeat_deadlines(),
        keys.closed_sessions(),
        keys.intent_stream(),
        keys.ea_inbox_stream(),
        keys.ea_state(a),
    )
    return "\n".join(templates).encode()


class Scripts:
    """The registered scripts of one client and one key namespace."""

    def __init__(self, redis: aioredis.Redis, keys: RedisKeys) -> None:
        #: ARGV[1] of every call
        self._templates = key_templates(keys)
        #: script name -> registered script
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(script_source(name)) for name in SCRIPT_NAMES
        }

    async def run(self, name: str, keys: Sequence[str], *args: ScriptArg) -> Any:
        """Run a script; `args` become ``ARGV[2:]``.

        Redis errors propagate; the stores translate them (see `redis_errors`).
        """
        script = self._scripts[name]
        return await script(keys=list(keys), args=[self._templates, *args])
