"""Translate Redis client exceptions into `StoreUnavailable` at the store edge.

Modelled on httpx's ``map_httpcore_exceptions``: every public store method runs
inside `map_redis_errors` (or is decorated with `translates_redis_errors`), so no
`redis.exceptions` type ever leaks into the gateway. Our own `StoreError`s pass
through untouched.

Transient failures (lost connection, timeout, a replica still loading, a failover
in progress) are expected and logged at WARNING. Any other `RedisError` (a script
bug, a wrong-type key) is a defect: it is logged with its traceback and still
surfaces as `StoreUnavailable`, because callers can only retry or give up.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from redis import exceptions as rex

from gateway.errors import StoreError, StoreUnavailable

__all__ = ["TRANSIENT_REDIS_ERRORS", "map_redis_errors", "translates_redis_errors"]

logger = logging.getLogger("copygate.store")

P = ParamSpec("P")
R = TypeVar("R")

#: Failures that say "the store is not reachable right now" (BusyLoadingError is a
#: ConnectionError; ReadOnlyError / TryAgain / MasterDown happen during failovers).
TRANSIENT_REDIS_ERRORS: tuple[type[BaseException], ...] = (
    rex.ConnectionError,
    rex.TimeoutError,
    rex.ReadOnlyError,
    rex.TryAgainError,
    rex.MasterDownError,
    rex.ClusterDownError,
    OSError,
)


@contextmanager
def map_redis_errors(operation: str) -> Iterator[None]:
    """Run a block, turning Redis exceptions into `StoreUnavailable`.

    Args:
        operation: what was being done, for the message and the log.

    Raises:
        StoreUnavailable: the block raised a Redis (or socket) error.
    """
    try:
        yield
    except StoreError:
        raise
    except TRANSIENT_REDIS_ERRORS as exc:
        logger.warning("store unavailable during %s: %s", operation, exc)
        raise StoreUnavailable(f"{operation}: {exc}") from exc
    except rex.RedisError as exc:
        logger.exception("unexpected Redis error during %s", operation)
        raise StoreUnavailable(f"{operation}: {exc}") from exc


def translates_redis_errors(
    fn: Callable[P, Awaitable[R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """Decorate an async method so that it raises `StoreUnavailable`, never a Redis error."""
    operation = fn.__qualname__

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with map_redis_errors(operation):
            return await fn(*args, **kwargs)

    return wrapper
