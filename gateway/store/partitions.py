"""Run a batch about many accounts partition by partition (Redis Cluster).

On Redis Cluster one script call touches one partition (one slot), so a batch
of items about many accounts is split by partition (`RedisKeys.partition_of`),
each part runs on its own (concurrently), and the results are put back in the
order of the items. On a single Redis the callers skip this: one partition.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar, cast

from gateway.store.keys import RedisKeys

__all__ = ["by_partition"]

Item = TypeVar("Item")
Result = TypeVar("Result")


async def by_partition(
    keys: RedisKeys,
    items: Sequence[Item],
    account_of: Callable[[Item], str],
    run: Callable[[Sequence[Item], int], Awaitable[list[Result]]],
) -> list[Result]:
    """`run(part, partition)` for the items of each partition; results in item order.

    `run` returns one result per item of its part, in the part's order.
    """
    parts: dict[int, list[int]] = {}
    for i, item in enumerate(items):
        parts.setdefault(keys.partition_of(account_of(item)), []).append(i)
    order = list(parts.items())
    replies = await asyncio.gather(
        *(run([items[i] for i in indexes], partition) for partition, indexes in order)
    )
    results: list[Result | None] = [None] * len(items)
    for (_, indexes), reply in zip(order, replies, strict=True):
        for i, result in zip(indexes, reply, strict=True):
            results[i] = result
    return cast(list[Result], results)
