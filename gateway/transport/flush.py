"""Per-connection delivery state and the per-process flush batcher.

An `Outlet` is what a WebSocket connection needs to write server messages in
order: the highest seq it need not send, whether the EA said what it processed,
replies waiting, whether the log may hold something new. It owns no task, no
lock and no queue: a flush is *requested* (synchronously, from the reader, an
event callback or a timer) and carried out by the process's `FlushBatcher`.

The batcher takes every outlet whose flush was requested since its last round
and flushes them together: one `SessionService.outbound_many` call (one Redis
script for up to hundreds of accounts: number the replies, read the logs, record
`read_seq`) instead of one round trip per connection, then writes each outlet's
frames in seq order. That is what makes a fan-out to 1,000 followers one store
call instead of 1,000.

Order and exclusion (what the old per-connection lock gave): an outlet is in at
most one flush at a time (`busy`); a flush requested meanwhile runs after it.
Writes to a socket are started eagerly, in the batcher's own task: they complete
at once unless the peer's TCP buffer is full, and only then does the rest of that
outlet's write continue in a task of its own, so a slow reader never holds up the
others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Generator, Sequence
from typing import Any, Protocol

from gateway.protocol import SessionProtocol
from gateway.sessions import Outbound
from gateway.store.records import LogEntry
from schemas.envelope import Envelope

__all__ = ["FlushBatcher", "OutboundSource", "Outlet", "TextSocket", "start_eagerly"]

_log = logging.getLogger("copygate.ws")

#: `on_error(outlet, exc)`: a flush failed and no caller is waiting to hear it.
ErrorHandler = Callable[["Outlet", BaseException], None]


class TextSocket(Protocol):
    """What an outlet writes to (Starlette's `WebSocket` is one)."""

    async def send_text(self, data: str) -> None:
        """Write one text frame."""
        ...


class OutboundSource(Protocol):
    """Numbers replies and reads logs for many sessions (`SessionService` is one)."""

    async def outbound_many(self, requests: Sequence[Outbound]) -> list[list[LogEntry]]:
        """Each request's replies (numbered) and due log entries, in seq order."""
        ...


class Outlet:
    """One connection's delivery state; its flushes are done by a `FlushBatcher`.

    A flush is *due* when there are replies to write, when it is forced (the grace
    period ended, a close is coming), or when the EA is ready and the log may hold
    something it was not sent yet (`stale`). Until the EA said what it processed
    (`ready`), the backlog is held; a reply flushes it ahead of itself, in order.
    """

    __slots__ = (
        "announced",
        "batcher",
        "busy",
        "closed",
        "expecting",
        "force",
        "handing",
        "proto",
        "queued",
        "ready",
        "sent_upto",
        "socket",
        "stale",
        "waiters",
        "waiting",
    )

    def __init__(self, socket: TextSocket, proto: SessionProtocol, batcher: FlushBatcher) -> None:
        self.socket = socket  #: where frames are written
        self.proto = proto  #: the session rules
        self.batcher = batcher  #: the process's flush batcher
        self.sent_upto = 0  #: highest seq this connection need not send (written or acked)
        self.ready = False  #: the EA has reported its ack_seq (or was promoted here)
        self.waiting: list[Envelope] = []  #: replies to number and write at the next flush
        self.stale = True  #: the log may hold something not written yet
        self.force = False  #: the next flush reads the log even if the EA is not ready
        self.closed = False  #: nothing more is flushed (closed by us or by the peer)
        self.queued = False  #: a flush is requested and not started yet
        self.busy = False  #: a flush (read or write) is in progress
        self.waiters: list[asyncio.Future[None]] | None = None  #: callers awaiting a flush
        self.handing = 0  #: highest seq of a local handoff being claimed (0: none)
        self.announced = 0  #: highest seq a ``deliver`` event announced since the last read
        self.expecting = 0  #: local handoffs announced and not handed yet

    def due(self) -> bool:
        """Whether a flush would write (or read) something now."""
        if self.closed:
            return False
        news = self.stale or (self.announced > self.sent_upto and not self.expecting)
        return bool(self.waiting) or self.force or (self.ready and news)

    def request(
        self,
        replies: Sequence[Envelope] = (),
        *,
        acked: int | None = None,
        reported: bool = False,
        force: bool = False,
        wake: bool = False,
        announced: int = 0,
    ) -> bool:
        """Record what happened and ask for a flush if one is due; True if so.

        `acked` is the store's clamped acknowledged seq; `reported` says the EA told
        what it processed; `wake` says the log may have new entries (an event);
        `announced` says it has entries up to that seq (a ``deliver`` event: no read
        is due once they are written, e.g. by a local handoff before the round);
        `force` reads the log even before the EA is ready. Never blocks.
        """
        if acked is not None and acked > self.sent_upto:
            self.sent_upto = acked
        if announced > self.announced:
            self.announced = announced
        if wake:
            self.stale = True
        if reported:
            self.ready = True
        if force:
            self.force = True
        if replies:
            self.waiting.extend(replies)
        if not self.due():
            return False
        self.batcher.add(self)
        return True

    async def deliver(
        self,
        replies: Sequence[Envelope] = (),
        *,
        acked: int | None = None,
        reported: bool = False,
        force: bool = False,
        wake: bool = False,
    ) -> None:
        """`request`, then wait until that flush has written (raises what it raised)."""
        if self.request(replies, acked=acked, reported=reported, force=force, wake=wake):
            await self.settled()

    async def settled(self) -> None:
        """Wait until no flush of this outlet is requested or in progress."""
        waiter = self.flushed()
        if waiter is not None:
            await waiter

    def flushed(self) -> asyncio.Future[None] | None:
        """A future that ends with the requested (or running) flush, or None if there is none.

        It gets the flush's error, if any (the error handler is then not called):
        what `settled` awaits, for a caller that must register before it can await.
        """
        if not (self.queued or self.busy):
            return None
        waiter = asyncio.get_running_loop().create_future()
        if self.waiters is None:
            self.waiters = [waiter]
        else:
            self.waiters.append(waiter)
        return waiter

    async def write(self, frames: list[LogEntry]) -> None:
        """Write frames in order (they are sorted by seq)."""
        for frame in frames:
            await self.socket.send_text(frame.with_seq().decode())
            if frame.seq > self.sent_upto:
                self.sent_upto = frame.seq


def _resolve(waiters: list[asyncio.Future[None]] | None, exc: BaseException | None) -> None:
    for waiter in waiters or ():
        if waiter.done():
            continue
        if exc is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(exc)


class FlushBatcher:
    """Flushes every due outlet of the process, many per store call."""

    def __init__(self, service: OutboundSource, on_error: ErrorHandler) -> None:
        self._service = service  #: numbering and log reads (`outbound_many`)
        self._on_error = on_error  #: failures nobody awaits (the pump closes the socket)
        self._due: list[Outlet] = []  #: outlets to flush in the next round
        self._task: asyncio.Task[None] | None = None  #: the running drain, if any
        self._writers: set[asyncio.Task[None]] = set()  #: writes waiting for a slow peer

    def add(self, outlet: Outlet) -> None:
        """Schedule a flush of `outlet` (once, however often it is asked)."""
        if outlet.queued:
            return
        outlet.queued = True
        if outlet.busy:  # runs again when the current flush ends (`_finish`)
            return
        self._due.append(outlet)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._drain(), name="copygate-flush"
            )

    async def aclose(self) -> None:
        """Wait for the running round and the slow writes (for shutdown and tests)."""
        while self._task is not None or self._writers:
            pending = {*self._writers, *([self._task] if self._task else [])}
            await asyncio.wait(pending)

    async def _drain(self) -> None:
        try:
            while self._due:
                batch, self._due = self._due, []
                await self._round(batch)
        finally:
            self._task = None

    async def _round(self, batch: list[Outlet]) -> None:
        """One round: snapshot every outlet, one store call, then the writes."""
        outlets: list[Outlet] = []
        requests: list[Outbound] = []
        waiters: list[list[asyncio.Future[None]] | None] = []
        for outlet in batch:
            if outlet.busy:  # held by a local handoff: flushed again when it ends
                continue
            outlet.queued = False
            if not outlet.due():
                _resolve(outlet.waiters, None)
                outlet.waiters = None
                continue
            outlet.busy = True
            outlet.ready, outlet.stale, outlet.force, outlet.announced = True, False, False, 0
            requests.append(Outbound(outlet.proto, outlet.waiting, outlet.sent_upto))
            outlet.waiting = []
            outlets.append(outlet)
            waiters.append(outlet.waiters)
            outlet.waiters = None
        if not outlets:
            return
        try:
            results = await self._service.outbound_many(requests)
        except Exception as exc:
            for outlet, mine in zip(outlets, waiters, strict=True):
                outlet.stale = True  # not read after all
                if mine:
                    _resolve(mine, exc)
                else:
                    self._on_error(outlet, exc)
                self._finish(outlet)
            return
        for outlet, mine, frames in zip(outlets, waiters, results, strict=True):
            self._write(outlet, frames, mine)

    def _write(
        self, outlet: Outlet, frames: list[LogEntry], mine: list[asyncio.Future[None]] | None
    ) -> None:
        if not frames or outlet.closed:
            _resolve(mine, None)
            self._finish(outlet)
            return
        try:
            task = start_eagerly(outlet.write(frames))
        except Exception as exc:  # the socket is gone: nothing more goes to it
            _log.debug("write to %s failed: %r", outlet.proto.session_id, exc)
            outlet.closed = True
            _resolve(mine, None)
            self._finish(outlet)
            return
        if task is None:
            _resolve(mine, None)
            self._finish(outlet)
            return
        self._writers.add(task)

        def done(task: asyncio.Task[None]) -> None:
            self._writers.discard(task)
            if task.cancelled() or task.exception() is not None:
                outlet.closed = True
            _resolve(mine, None)
            self._finish(outlet)

        task.add_done_callback(done)

    def hold(self, outlet: Outlet, upto: int) -> None:
        """A local handoff of seqs up to `upto` is being claimed: no flush meanwhile."""
        outlet.busy = True
        outlet.handing = upto

    def write_handed(self, outlet: Outlet, frames: list[LogEntry]) -> None:
        """The held handoff was claimed: write its frames as a flush would, then finish."""
        outlet.handing = 0
        self._write(outlet, frames, None)

    def drop_handoff(self, outlet: Outlet) -> None:
        """The held handoff was refused: finish, then read the log as an event would."""
        outlet.handing = 0
        self._finish(outlet)
        outlet.request(wake=True)

    def _finish(self, outlet: Outlet) -> None:
        """The outlet's flush is over: run the next one, or release whoever waits."""
        outlet.busy = False
        if outlet.queued and not outlet.closed:
            outlet.queued = False
            self.add(outlet)
            return
        outlet.queued = False
        _resolve(outlet.waiters, None)
        outlet.waiters = None


class _Resume:
    """Continues a coroutine that was stepped once by hand and is suspended on `pending`."""

    __slots__ = ("_coro", "_pending")

    def __init__(self, coro: Coroutine[Any, Any, None], pending: Any) -> None:
        self._coro = coro  #: the coroutine, suspended
        self._pending = pending  #: what it is waiting for (a future, or None)

    def __await__(self) -> Generator[Any, None, None]:
        pending = self._pending
        while True:
            try:
                yield pending  # the driving task waits for it, as the coroutine asked
            except BaseException as exc:  # cancellation: hand it to the coroutine
                try:
                    pending = self._coro.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    pending = self._coro.send(None)
                except StopIteration:
                    return


async def _finish_eagerly(resume: _Resume) -> None:
    await resume


def start_eagerly(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Run `coro` now, up to its first real suspension (like 3.12's eager tasks).

    Returns None when it completed without suspending (its exception, if any, is
    raised here), else the task that finishes it.
    """
    try:
        pending = coro.send(None)
    except StopIteration:
        return None
    return asyncio.get_running_loop().create_task(_finish_eagerly(_Resume(coro, pending)))
