"""`FlushBatcher` and `Outlet`: many connections per store call, each in seq order."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import orjson
import pytest

from gateway.errors import StoreUnavailable
from gateway.protocol import SessionProtocol
from gateway.sessions import Outbound
from gateway.store.records import LogEntry
from gateway.transport.flush import FlushBatcher, Outlet, start_eagerly
from schemas.codes import SessionState, Severity
from schemas.envelope import Envelope, ErrorAlert
from schemas.messages import ErrorAlertPayload


class Log:
    """A fake `OutboundSource`: per-account logs, one seq counter per account."""

    def __init__(self) -> None:
        self.entries: dict[str, list[LogEntry]] = {}
        self.seqs: dict[str, int] = {}
        self.calls: list[list[str]] = []  # session ids of each outbound_many call
        self.down = False
        self.gate: asyncio.Event | None = None  # when set, calls wait for it

    def append(self, account: str, message_id: str) -> int:
        seq = self.seqs[account] = self.seqs.get(account, 0) + 1
        body = orjson.dumps({"type": "OrderCommand", "id": message_id, "ts": 1, "payload": {}})
        self.entries.setdefault(account, []).append(LogEntry(seq, body))
        return seq

    async def outbound_many(self, requests: Sequence[Outbound]) -> list[list[LogEntry]]:
        self.calls.append([r.proto.session_id for r in requests])
        if self.gate is not None:
            await self.gate.wait()
        if self.down:
            raise StoreUnavailable("redis is down")
        out = []
        for r in requests:
            account = r.proto.account_id
            frames = []
            for reply in r.replies:
                seq = self.seqs[account] = self.seqs.get(account, 0) + 1
                frames.append(LogEntry(seq, reply.model_dump_json(exclude={"seq"}).encode()))
            frames += [e for e in self.entries.get(account, []) if e.seq > r.after_seq]
            out.append(sorted(frames, key=lambda e: e.seq))
        return out


class Socket:
    """A fake socket that records frames; `stuck` makes writes wait (a slow peer)."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.stuck: asyncio.Event | None = None

    async def send_text(self, data: str) -> None:
        if self.stuck is not None:
            await self.stuck.wait()
        self.frames.append(orjson.loads(data))

    @property
    def seqs(self) -> list[int]:
        return [f["seq"] for f in self.frames]


def session(account: str) -> SessionProtocol:
    return SessionProtocol(
        session_id=f"s-{account}",
        account_id=account,
        state=SessionState.AUTHENTICATED,
        role=None,
        heartbeat_interval_s=5,
        heartbeat_timeout_s=15,
        last_heartbeat_ms=0,
        new_id=lambda: "r1",
    )


def reply(message_id: str) -> Envelope:
    payload = ErrorAlertPayload(code="unknown_type", severity=Severity.WARNING, message="nope")
    return ErrorAlert(id=message_id, ts=1, payload=payload)


class World:
    """A batcher over the fake log, remembering the failures handed to its handler."""

    def __init__(self) -> None:
        self.log = Log()
        self.failed: list[tuple[str, BaseException]] = []
        self.batcher = FlushBatcher(self.log, self.on_error)

    def on_error(self, outlet: Outlet, exc: BaseException) -> None:
        self.failed.append((outlet.proto.session_id, exc))

    def outlet(self, account: str) -> tuple[Outlet, Socket]:
        socket = Socket()
        return Outlet(socket, session(account), self.batcher), socket

    async def settle(self) -> None:
        for _ in range(3):
            await asyncio.sleep(0)
        await self.batcher.aclose()


@pytest.fixture
def world() -> World:
    return World()


async def test_connections_woken_in_the_same_tick_are_flushed_with_one_store_call(
    world: World,
) -> None:
    outlets = [world.outlet(f"acc-{i}") for i in range(50)]
    for i, (outlet, _) in enumerate(outlets):
        world.log.append(f"acc-{i}", f"m{i}")
        outlet.request(reported=True, wake=True)

    await world.settle()

    assert len(world.log.calls) == 1 and len(world.log.calls[0]) == 50
    assert all(socket.seqs == [1] for _, socket in outlets)
    assert all(outlet.sent_upto == 1 for outlet, _ in outlets)


async def test_the_backlog_is_held_until_the_ea_reports_what_it_processed(world: World) -> None:
    outlet, socket = world.outlet("acc-1")
    world.log.append("acc-1", "m1")

    assert outlet.request(wake=True) is False
    await world.settle()
    assert socket.frames == [] and world.log.calls == []

    await outlet.deliver(acked=1, reported=True)  # the EA had processed seq 1

    world.log.append("acc-1", "m2")
    await outlet.deliver(wake=True)
    assert socket.seqs == [2]


async def test_a_reply_flushes_the_backlog_ahead_of_itself_in_seq_order(world: World) -> None:
    outlet, socket = world.outlet("acc-1")
    world.log.append("acc-1", "m1")
    world.log.append("acc-1", "m2")

    await outlet.deliver([reply("e1")])

    assert socket.seqs == [1, 2, 3] and socket.frames[-1]["id"] == "e1"
    assert outlet.ready


async def test_a_forced_flush_writes_the_backlog_of_a_silent_ea(world: World) -> None:
    outlet, socket = world.outlet("acc-1")
    world.log.append("acc-1", "m1")

    outlet.request(force=True)
    await world.settle()

    assert socket.seqs == [1]


async def test_a_wake_during_a_flush_reads_again_after_it_never_concurrently(
    world: World,
) -> None:
    outlet, socket = world.outlet("acc-1")
    outlet.request(reported=True)
    world.log.append("acc-1", "m1")
    world.log.gate = asyncio.Event()
    outlet.request(wake=True)
    await asyncio.sleep(0)
    assert outlet.busy and len(world.log.calls) == 1

    world.log.append("acc-1", "m2")
    outlet.request(wake=True)  # arrives while the first read is in flight
    await asyncio.sleep(0)
    assert len(world.log.calls) == 1  # not a second read alongside the first
    world.log.gate.set()
    await world.settle()

    assert socket.seqs == [1, 2]
    assert len(world.log.calls) == 2


async def test_a_slow_peer_does_not_hold_up_the_other_connections(world: World) -> None:
    slow, slow_socket = world.outlet("acc-slow")
    fast, fast_socket = world.outlet("acc-fast")
    slow_socket.stuck = asyncio.Event()
    for account in ("acc-slow", "acc-fast"):
        world.log.append(account, "m1")
        world.log.append(account, "m2")
    slow.request(reported=True, wake=True)
    fast.request(reported=True, wake=True)
    for _ in range(5):
        await asyncio.sleep(0)

    assert fast_socket.seqs == [1, 2] and slow_socket.seqs == []
    world.log.append("acc-fast", "m3")
    await fast.deliver(wake=True)
    assert fast_socket.seqs == [1, 2, 3]

    slow_socket.stuck.set()
    await world.settle()
    assert slow_socket.seqs == [1, 2] and not slow.busy


async def test_a_store_failure_reaches_the_waiting_caller(world: World) -> None:
    outlet, socket = world.outlet("acc-1")
    world.log.down = True

    with pytest.raises(StoreUnavailable):
        await outlet.deliver([reply("e1")])

    assert socket.frames == [] and world.failed == [] and outlet.stale


async def test_a_store_failure_nobody_awaits_goes_to_the_error_handler(world: World) -> None:
    outlet, _ = world.outlet("acc-1")
    world.log.down = True

    outlet.request(force=True)
    await world.settle()

    assert [(sid, type(exc)) for sid, exc in world.failed] == [("s-acc-1", StoreUnavailable)]


async def test_a_flush_registered_for_before_its_round_reports_its_failure_there(
    world: World,
) -> None:
    outlets = [world.outlet(f"acc-{i}") for i in range(3)]
    world.log.down = True
    for outlet, _ in outlets:
        outlet.request([reply("notice")], force=True)
    flushes = [outlet.flushed() for outlet, _ in outlets]

    results = await asyncio.gather(*(f for f in flushes if f), return_exceptions=True)

    assert [type(r) for r in results] == [StoreUnavailable] * 3
    assert world.failed == []  # the handler is for failures nobody awaits
    assert len(world.log.calls) == 1  # still one round for all of them


async def test_there_is_no_flush_to_wait_for_when_none_was_requested(world: World) -> None:
    outlet, _ = world.outlet("acc-1")

    assert outlet.flushed() is None


async def test_a_closed_outlet_is_not_flushed_and_its_waiters_are_released(
    world: World,
) -> None:
    outlet, socket = world.outlet("acc-1")
    world.log.append("acc-1", "m1")
    outlet.request(reported=True, wake=True)
    outlet.closed = True

    await asyncio.wait_for(outlet.settled(), 1)

    assert socket.frames == [] and world.log.calls == []


async def test_start_eagerly_runs_a_coroutine_that_does_not_suspend_at_once() -> None:
    done: list[int] = []

    async def write() -> None:
        done.append(1)

    assert start_eagerly(write()) is None
    assert done == [1]


async def test_start_eagerly_hands_a_suspended_coroutine_to_a_task_that_finishes_it() -> None:
    gate = asyncio.Event()
    done: list[str] = []

    async def write() -> None:
        done.append("started")
        await gate.wait()
        await asyncio.sleep(0)
        done.append("finished")

    task = start_eagerly(write())
    assert task is not None and done == ["started"]
    gate.set()
    await asyncio.wait_for(task, 1)
    assert done == ["started", "finished"]


async def test_start_eagerly_propagates_errors_and_cancellation() -> None:
    async def fails() -> None:
        raise ConnectionResetError("peer gone")

    with pytest.raises(ConnectionResetError):
        start_eagerly(fails())

    gate = asyncio.Event()

    async def waits() -> None:
        await gate.wait()

    task = start_eagerly(waits())
    assert task is not None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
