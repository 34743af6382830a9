"""Stopping a worker mid-read leaves nothing running behind it, on both stores.

Over real Redis the read is a blocking XREADGROUP; over the in-process store it
is polled (fakeredis's own blocking read leaves a task pending when cancelled,
which a stopping demo or gateway would log as "Task was destroyed but it is
pending").
"""

from __future__ import annotations

import asyncio

from tests.copier.worker.world import World


async def test_a_worker_stopped_while_waiting_for_entries_leaves_no_task_behind(
    world: World,
) -> None:
    worker = world.another_worker("w-stop", block_ms=5_000)
    await worker.streams.ensure_groups()
    before = asyncio.all_tasks()
    worker.start()
    await asyncio.sleep(0.2)  # well inside the (blocking or polled) read

    await worker.stop()
    await asyncio.sleep(0)

    left = [t for t in asyncio.all_tasks() - before if not t.done()]
    assert left == []
