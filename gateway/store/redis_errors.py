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
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from redis import exceptions as rex

from gateway.errors import StoreError, StoreUnavailable

__all__ = [
    "REDIS_ERRORS",
    "TRANSIENT_REDIS_ERRORS",
    "RedisErrorCollector",
    "map_redis_errors",
    "translates_redis_errors",
]

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
    rex.RedisClusterException,  # no node of the cluster answers (not a RedisError)
    OSError,
)
#: Redis failures translated in this process, by kind (transient / unexpected). Like
#: the logger above it is process-wide: the edge has no handle on any one app, and
#: `/metrics` exposes it as ``copygate_redis_errors_total``.
REDIS_ERRORS: Counter[str] = Counter()


class RedisErrorCollector(Collector):
    """``copygate_redis_errors_total{kind}`` from `REDIS_ERRORS`, for a Prometheus registry."""

    def collect(self) -> list[CounterMetricFamily]:
        """The counter family, read at scrape time."""
        family = CounterMetricFamily(
            "copygate_redis_errors",
            "Redis failures translated at the store edge (transient or unexpected)",
            labels=["kind"],
        )
        for kind in ("transient", "unexpected"):
            family.add_metric([kind], REDIS_ERRORS[kind])
        return [family]


#: Everything `map_redis_errors` turns into `StoreUnavailable` (after `StoreError`s pass).
_TRANSLATED: tuple[type[BaseException], ...] = (*TRANSIENT_REDIS_ERRORS, rex.RedisError)


def _unavailable(operation: str, exc: BaseException) -> StoreUnavailable:
    """Log `exc` (a Redis or socket error) and return the `StoreUnavailable` to raise."""
    if isinstance(exc, TRANSIENT_REDIS_ERRORS):
        REDIS_ERRORS["transient"] += 1
        logger.warning("store unavailable during %s: %s", operation, exc)
    else:
        REDIS_ERRORS["unexpected"] += 1
        logger.error("unexpected Redis error during %s", operation, exc_info=exc)
    return StoreUnavailable(f"{operation}: {exc}")


# lower-case: used like the function it replaced, `with map_redis_errors(...)`
class map_redis_errors:
    """Run a block, turning Redis exceptions into `StoreUnavailable`.

    A plain class (``__enter__``/``__exit__``), not a generator-based
    ``@contextmanager``: it sits on every store call's hot path.

    Args:
        operation: what was being done, for the message and the log.

    Raises:
        StoreUnavailable: the block raised a Redis (or socket) error.
    """

    __slots__ = ("operation",)

    def __init__(self, operation: str) -> None:
        self.operation = operation  #: what was being done (message and log)

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        if exc is None or isinstance(exc, StoreError):
            return
        if isinstance(exc, _TRANSLATED):
            raise _unavailable(self.operation, exc) from exc


def translates_redis_errors(
    fn: Callable[P, Awaitable[R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """Decorate an async method so that it raises `StoreUnavailable`, never a Redis error."""
    operation = fn.__qualname__

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except StoreError:
            raise
        except _TRANSLATED as exc:
            raise _unavailable(operation, exc) from exc

    return wrapper
