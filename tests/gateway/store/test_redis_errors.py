"""Redis errors become `StoreUnavailable` at the store edge, and nothing else changes.

Both forms (`map_redis_errors` around a block, `translates_redis_errors` on an
async method) behave the same: transient failures are logged at WARNING, other
Redis errors (defects) at ERROR with their traceback, both surface as
`StoreUnavailable` chained to the original; our own `StoreError`s and every other
exception pass through untouched, and a block that does not fail is not disturbed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest
from redis import exceptions as rex

from gateway.errors import FencingError, StoreUnavailable
from gateway.store.redis_errors import map_redis_errors, translates_redis_errors

OPERATION = "Port.method"

TRANSLATED = [
    (rex.ConnectionError("refused"), logging.WARNING),
    (rex.TimeoutError("timed out"), logging.WARNING),
    (rex.BusyLoadingError("loading"), logging.WARNING),
    (rex.ReadOnlyError("replica"), logging.WARNING),
    (rex.TryAgainError("again"), logging.WARNING),
    (OSError("socket closed"), logging.WARNING),
    (rex.ResponseError("script bug"), logging.ERROR),
    (rex.DataError("bad value"), logging.ERROR),
]

PASSED_THROUGH = [
    StoreUnavailable("already translated"),
    FencingError("s1", "preempted"),
    ValueError("not a store error"),
    asyncio.CancelledError(),
]


async def _in_block(exc: BaseException) -> None:
    with map_redis_errors(OPERATION):
        raise exc


class Port:
    @translates_redis_errors
    async def method(self, exc: BaseException) -> None:
        raise exc


Form = Callable[[BaseException], Awaitable[None]]
FORMS: list[Form] = [_in_block, Port().method]


@pytest.mark.parametrize("form", FORMS, ids=["context manager", "decorator"])
@pytest.mark.parametrize(("error", "level"), TRANSLATED, ids=lambda v: type(v).__name__)
async def test_redis_errors_become_store_unavailable_logged_at_their_level(
    form: Form, error: BaseException, level: int, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="copygate.store"),
        pytest.raises(StoreUnavailable) as raised,
    ):
        await form(error)

    assert str(raised.value) == f"{OPERATION}: {error}"
    assert raised.value.__cause__ is error
    [record] = caplog.records
    assert record.levelno == level
    assert OPERATION in record.getMessage()
    assert (record.exc_info is not None) == (level == logging.ERROR)


@pytest.mark.parametrize("form", FORMS, ids=["context manager", "decorator"])
@pytest.mark.parametrize("error", PASSED_THROUGH, ids=lambda v: type(v).__name__)
async def test_other_errors_pass_through_untouched_and_unlogged(
    form: Form, error: BaseException, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.DEBUG, logger="copygate.store"),
        pytest.raises(type(error)) as raised,
    ):
        await form(error)

    assert raised.value is error
    assert caplog.records == []


async def test_a_block_that_does_not_fail_runs_to_its_end() -> None:
    ran = []
    with map_redis_errors(OPERATION):
        ran.append("block")

    assert ran == ["block"]


async def test_a_decorated_method_returns_its_result_and_keeps_its_name() -> None:
    class Store:
        @translates_redis_errors
        async def get(self, value: int) -> int:
            """The value."""
            return value * 2

    assert await Store().get(21) == 42
    assert Store.get.__name__ == "get"
    assert Store.get.__doc__ == "The value."
