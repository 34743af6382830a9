"""`CopierRuntime.stop`: nothing the copier started is cut off when the store closes."""

from __future__ import annotations

from copier.keys import CopierKeys
from copier.runtime import CopierRuntime
from copier.settings import CopierSettings
from gateway.settings import Settings
from gateway.store.factory import open_store


async def test_stop_waits_for_delivery_time_writes_in_flight() -> None:
    store = await open_store(Settings())  # embedded
    try:
        runtime = CopierRuntime(
            store, Settings(), clock=lambda: 7_000, copier_settings=CopierSettings(in_process=False)
        )
        runtime.delivery_times._start_recording({"f-1": ["cmd-1", "cmd-2"]})
        assert runtime.delivery_times.recording == 1

        await runtime.stop()

        assert runtime.delivery_times.recording == 0
        key = CopierKeys.of(store.keys).delivered_times("f-1")
        assert await store.redis.hgetall(key) == {b"cmd-1": b"7000", b"cmd-2": b"7000"}
    finally:
        await store.aclose()
