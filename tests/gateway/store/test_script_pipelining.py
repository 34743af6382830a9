"""`Scripts` pipelines the script calls of one loop tick; every caller keeps its own fate.

Runs against the embedded store and real Redis.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, ResponseError

from gateway.store.keys import RedisKeys
from gateway.store.scripts import MAX_BATCH, MAX_PIPELINES_IN_FLIGHT, Scripts


class CountingClient:
    """The real client, counting the pipelines and script loads it is asked for."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis  #: the client doing the work
        self.pipelines = 0  #: pipelines opened
        self.loads = 0  #: SCRIPT LOAD calls

    def pipeline(self, transaction: bool = True) -> Any:
        self.pipelines += 1
        return self.redis.pipeline(transaction=transaction)

    async def script_load(self, source: str) -> Any:
        self.loads += 1
        return await self.redis.script_load(source)


class GatedPipeline:
    """A real pipeline whose `execute` waits for the test to open the gate."""

    def __init__(self, pipe: Any, gate: asyncio.Event) -> None:
        self.pipe = pipe  #: the real pipeline
        self.gate = gate  #: opened by the test

    async def __aenter__(self) -> GatedPipeline:
        await self.pipe.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.pipe.__aexit__(*exc)

    def execute_command(self, *args: Any) -> None:
        self.pipe.execute_command(*args)

    async def execute(self, raise_on_error: bool = True) -> Any:
        await self.gate.wait()
        return await self.pipe.execute(raise_on_error=raise_on_error)


class GatedClient(CountingClient):
    """Pipelines that stay out until the gate opens (a slow Redis)."""

    def __init__(self, redis: aioredis.Redis) -> None:
        super().__init__(redis)
        self.gate = asyncio.Event()  #: opened by the test

    def pipeline(self, transaction: bool = True) -> Any:
        return GatedPipeline(super().pipeline(transaction), self.gate)


@pytest.fixture
def client(redis_client: aioredis.Redis) -> CountingClient:
    return CountingClient(redis_client)


@pytest.fixture
def scripts(client: CountingClient, keys: RedisKeys) -> Scripts:
    return Scripts(client, keys)  # type: ignore[arg-type]


async def test_calls_issued_in_one_tick_share_one_pipeline(
    scripts: Scripts, client: CountingClient
) -> None:
    await scripts.run("get_session", [], "", "warm-up")  # loads the script if the server lacks it
    before = client.pipelines

    replies = await asyncio.gather(
        *(scripts.run("get_session", [], "", f"s{i}") for i in range(50))
    )

    assert replies == [[]] * 50
    assert client.pipelines - before == 1


async def test_each_caller_gets_the_reply_of_its_own_script(scripts: Scripts) -> None:
    session, touched = await asyncio.gather(
        scripts.run("get_session", [], "", "unknown"),
        scripts.run("touch", [], "", "unknown", 1_000, 2_000),
    )

    assert session == []
    assert touched == [b"fenced", b""]


async def test_a_failing_call_fails_alone(scripts: Scripts) -> None:
    broken = scripts.run("ack", [])  # no account id: the script raises in Redis
    fine = scripts.run("get_session", [], "", "unknown")

    results = await asyncio.gather(broken, fine, return_exceptions=True)

    assert isinstance(results[0], ResponseError)
    assert results[1] == []


async def test_scripts_missing_from_the_server_are_loaded_and_run(
    scripts: Scripts, client: CountingClient, redis_client: aioredis.Redis
) -> None:
    await redis_client.script_flush()
    loads = client.loads

    replies = await asyncio.gather(*(scripts.run("get_session", [], "", f"s{i}") for i in range(3)))

    assert replies == [[]] * 3
    assert client.loads - loads == 1


async def test_more_calls_than_a_batch_holds_are_split_and_all_answered(
    scripts: Scripts, client: CountingClient
) -> None:
    await scripts.run("get_session", [], "", "warm-up")
    before = client.pipelines
    count = MAX_BATCH + 10

    replies = await asyncio.gather(
        *(scripts.run("get_session", [], "", f"s{i}") for i in range(count))
    )

    assert replies == [[]] * count
    assert client.pipelines - before == 2


async def test_a_cancelled_caller_leaves_the_others_answered(scripts: Scripts) -> None:
    await scripts.run("get_session", [], "", "warm-up")
    doomed = asyncio.ensure_future(scripts.run("get_session", [], "", "a"))
    kept = asyncio.ensure_future(scripts.run("get_session", [], "", "b"))
    await asyncio.sleep(0)
    doomed.cancel()

    assert await kept == []
    assert doomed.cancelled()


async def test_an_unreachable_server_fails_every_call_of_the_batch(
    down_client: aioredis.Redis, keys: RedisKeys
) -> None:
    scripts = Scripts(down_client, keys)

    results = await asyncio.gather(
        *(scripts.run("get_session", [], "", f"s{i}") for i in range(3)), return_exceptions=True
    )

    unreachable = RedisConnectionError | OSError | RedisClusterException
    assert all(isinstance(r, unreachable) for r in results), results


async def test_calls_made_while_the_pipes_are_full_go_together_when_one_returns(
    redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    client = GatedClient(redis_client)
    scripts = Scripts(client, keys)  # type: ignore[arg-type]
    client.gate.set()
    await scripts.run("get_session", [], "", "warm-up")
    client.gate.clear()
    client.pipelines = 0
    first = []
    for i in range(2):  # loop iterations apart: each opens its own pipeline
        first.append(asyncio.ensure_future(scripts.run("get_session", [], "", f"a{i}")))
        for _ in range(3):
            await asyncio.sleep(0)
    assert client.pipelines == MAX_PIPELINES_IN_FLIGHT == 2
    later = []
    for i in range(5):  # issued in separate iterations while both pipelines are out
        later.append(asyncio.ensure_future(scripts.run("get_session", [], "", f"b{i}")))
        await asyncio.sleep(0)
    assert client.pipelines == 2

    client.gate.set()

    assert await asyncio.gather(*first, *later) == [[]] * 7
    assert client.pipelines == 3
