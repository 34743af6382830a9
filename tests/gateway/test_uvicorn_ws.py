"""The lean stand-ins `copygate serve` gives uvicorn's WebSocket protocol behave like
the asyncio objects they replace (the wire itself is covered by the e2e tests, which
run `copygate serve`)."""

from __future__ import annotations

import asyncio

import pytest

from gateway.uvicorn_ws import Inbox, Writable


async def test_the_inbox_hands_out_events_in_order_and_wakes_a_waiting_reader() -> None:
    inbox = Inbox()
    inbox.put_nowait({"type": "websocket.connect"})
    assert not inbox.empty()
    assert await inbox.get() == {"type": "websocket.connect"}
    assert inbox.empty()

    reading = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    assert not reading.done()
    inbox.put_nowait({"type": "websocket.receive", "text": "a"})
    inbox.put_nowait({"type": "websocket.receive", "text": "b"})
    assert await reading == {"type": "websocket.receive", "text": "a"}
    assert await inbox.get() == {"type": "websocket.receive", "text": "b"}


async def test_the_inbox_survives_a_cancelled_reader_and_refuses_two_at_once() -> None:
    inbox = Inbox()
    first = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError):
        await inbox.get()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    inbox.put_nowait("kept")
    assert await inbox.get() == "kept"


async def test_writable_holds_writers_between_clear_and_set() -> None:
    writable = Writable()
    assert writable.is_set()
    assert await writable.wait() is True

    writable.clear()
    writers = [asyncio.create_task(writable.wait()) for _ in range(2)]
    gone = asyncio.create_task(writable.wait())
    await asyncio.sleep(0)
    assert not any(w.done() for w in writers)
    gone.cancel()
    await asyncio.sleep(0)
    writable.set()
    assert await asyncio.gather(*writers) == [True, True]
    assert gone.cancelled()
