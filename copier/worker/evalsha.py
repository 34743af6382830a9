"""Several calls of one copier Lua script in one pipeline, without redis-py's SCRIPT EXISTS.

redis-py's `Script` objects, when queued on a pipeline, make the pipeline send
``SCRIPT EXISTS`` first: one more round trip before every `LOAD_MANY` and
`COMMIT_MANY`, on the copy path between an intent and its commands. Here the
calls go straight out as ``EVALSHA`` through the gateway's
`gateway.store.scripts.evalsha_pipeline` (which loads a script Redis answers
``NOSCRIPT`` for and sends those calls again); the first error reply is raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from gateway.store.scripts import evalsha_pipeline

__all__ = ["evalsha_many"]

ScriptArgs = Sequence[bytes | str | int]


async def evalsha_many(
    redis: aioredis.Redis, script: AsyncScript, calls: Sequence[ScriptArgs], *, keyed: bool = False
) -> list[Any]:
    """Run `script` once per argument list, in one pipeline; replies in order.

    Each argument list is the script's ARGV, or with `keyed` its numkeys, KEYS
    and ARGV (as after the sha of an ``EVALSHA``).

    Raises:
        redis.exceptions.RedisError: the first error any call answered (after a
            NOSCRIPT retry), or the connection's error.
    """
    source = script.script if isinstance(script.script, str) else bytes(script.script).decode()
    replies = await evalsha_pipeline(
        redis,
        [(script.sha, *args) if keyed else (script.sha, 0, *args) for args in calls],
        lambda _sha: source,
    )
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies
