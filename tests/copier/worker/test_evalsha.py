"""`evalsha_many`: several calls of one script in one pipeline, on both stores.

A script Redis does not know yet (a restarted or flushed Redis) is loaded and the
calls it refused are sent again; every caller gets its reply, in order; an error
reply is raised.
"""

from __future__ import annotations

import secrets

import pytest
import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import ResponseError

from copier.worker.evalsha import evalsha_many


def fresh_script(client: aioredis.Redis, body: str) -> AsyncScript:
    """A script Redis has never seen (a random comment makes its sha unique)."""
    return client.register_script(f"-- {secrets.token_hex(8)}\n{body}")


async def test_an_unknown_script_is_loaded_and_every_call_answers_in_order(
    redis_client: aioredis.Redis,
) -> None:
    script = fresh_script(redis_client, "return ARGV[1] .. ':' .. ARGV[2]")
    assert await redis_client.script_exists(script.sha) == [False]

    replies = await evalsha_many(redis_client, script, [[b"a", 1], [b"b", 2], [b"c", 3]])

    assert replies == [b"a:1", b"b:2", b"c:3"]
    assert await redis_client.script_exists(script.sha) == [True]


async def test_a_known_script_runs_without_reloading(redis_client: aioredis.Redis) -> None:
    script = fresh_script(redis_client, "return tonumber(ARGV[1]) * 2")
    await evalsha_many(redis_client, script, [[1]])

    assert await evalsha_many(redis_client, script, [[2], [3]]) == [4, 6]


async def test_an_error_reply_is_raised(redis_client: aioredis.Redis) -> None:
    script = fresh_script(
        redis_client, "if ARGV[1] == 'bad' then return redis.error_reply('ERR bad') end return 1"
    )
    with pytest.raises(ResponseError, match="bad"):
        await evalsha_many(redis_client, script, [[b"ok"], [b"bad"]])


async def test_no_calls_send_nothing(redis_client: aioredis.Redis) -> None:
    script = fresh_script(redis_client, "return 1")
    assert await evalsha_many(redis_client, script, []) == []
