"""Several calls of one Lua script in one pipeline, without redis-py's SCRIPT EXISTS.

redis-py's `Script` objects, when queued on a pipeline, make the pipeline send
``SCRIPT EXISTS`` first: one more round trip before every `LOAD_MANY` and
`COMMIT_MANY`, on the copy path between an intent and its commands. Here the
calls go straight out as ``EVALSHA``; only the calls answered ``NOSCRIPT`` (a
Redis restarted or flushed since the script was loaded) are sent again, after
``SCRIPT LOAD``. A ``NOSCRIPT`` call did not run, so sending it again is safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

__all__ = ["evalsha_many"]

ScriptArgs = Sequence[bytes | str | int]


async def evalsha_many(
    redis: aioredis.Redis, script: AsyncScript, calls: Sequence[ScriptArgs]
) -> list[Any]:
    """Run `script` (no KEYS) once per argument list, in one pipeline; replies in order.

    Raises:
        redis.exceptions.RedisError: the first error any call answered (after a
            NOSCRIPT retry), or the connection's error.
    """
    replies = await _pipeline(redis, script.sha, calls)
    missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
    if missing:
        await redis.script_load(script.script)
        again = await _pipeline(redis, script.sha, [calls[i] for i in missing])
        for i, reply in zip(missing, again, strict=True):
            replies[i] = reply
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


async def _pipeline(redis: aioredis.Redis, sha: str, calls: Sequence[ScriptArgs]) -> list[Any]:
    async with redis.pipeline(transaction=False) as pipe:
        for args in calls:
            pipe.execute_command("EVALSHA", sha, 0, *args)
        replies: list[Any] = await pipe.execute(raise_on_error=False)
    return replies
