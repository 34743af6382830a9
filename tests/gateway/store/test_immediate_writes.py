"""`ImmediateWrites`: a command the socket takes at once is sent without a task; a
write that must wait for the socket still waits under ``socket_timeout``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import pytest
import redis.asyncio as aioredis
import redis.exceptions as rex

from gateway.settings import Settings
from gateway.store.connections import QueuedConnectionPool, connect
from gateway.store.immediate_writes import ImmediateWrites, immediate_writes


class _TaskCounter:
    """A task factory that counts the tasks created while it is installed."""

    def __init__(self) -> None:
        self.created = 0

    def __call__(
        self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
    ) -> asyncio.Task[Any]:
        self.created += 1
        return asyncio.Task(coro, loop=loop, **kwargs)


async def _tasks_created_by(awaitable: Coroutine[Any, Any, Any]) -> int:
    loop = asyncio.get_running_loop()
    counter = _TaskCounter()
    loop.set_task_factory(counter)
    try:
        await awaitable
    finally:
        loop.set_task_factory(None)
    return counter.created


async def test_a_command_the_socket_takes_at_once_is_sent_without_a_task(
    real_redis_url: str,
) -> None:
    client = connect(Settings(redis_url=real_redis_url))
    try:
        await client.ping()  # connected: the next command is only a write and a read
        created = await _tasks_created_by(client.ping())
    finally:
        await client.aclose()
    assert client.connection_pool.connection_kwargs.get("socket_timeout", 5) is not None
    assert created == 0  # redis-py's wait_for runs each write in a task of its own


async def test_every_pool_of_the_process_makes_immediate_connections(real_redis_url: str) -> None:
    pool = QueuedConnectionPool.from_url(real_redis_url, max_connections=2)
    client = aioredis.Redis.from_pool(pool)
    try:
        await client.ping()
        connection = pool._available_connections[0]
    finally:
        await client.aclose()
    assert isinstance(connection, ImmediateWrites)
    assert isinstance(connection, aioredis.Connection)
    assert immediate_writes(aioredis.Connection) is immediate_writes(pool.connection_class)


@contextlib.asynccontextmanager
async def _server_that_stops_reading() -> AsyncIterator[tuple[int, asyncio.Event]]:
    """A RESP server answering every command with +OK until `stall` is set; then it
    reads nothing more, so the client's socket buffers fill up."""
    stall = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import hiredis

        parser = hiredis.Reader()
        with contextlib.suppress(Exception):
            while not stall.is_set():
                data = await reader.read(65536)
                if not data:
                    return
                parser.feed(data)
                while parser.gets() is not False:
                    writer.write(b"+OK\r\n")
            await asyncio.sleep(3600)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port, stall
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1)


async def test_a_write_the_socket_cannot_take_still_times_out() -> None:
    async with _server_that_stops_reading() as (port, stall):
        pool = QueuedConnectionPool(
            host="127.0.0.1", port=port, protocol=2, socket_timeout=0.5, max_connections=1
        )
        client = aioredis.Redis.from_pool(pool)
        try:
            await client.set("k", b"x")  # connected, handshake answered
            stall.set()
            await client.set("k", b"x")  # the server reads it, then stops reading
            with pytest.raises(rex.TimeoutError):
                await asyncio.wait_for(client.set("k", b"x" * 64_000_000), 10)
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()
