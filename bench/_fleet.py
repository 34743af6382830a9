"""A fleet of simulated EAs for the load benchmarks, spread over worker processes.

The parent drives `Fleet`; each worker process runs a lean asyncio client for its
share of the EAs (one keep-alive HTTP pool for session creation, one `websockets`
connection per EA, ONE heartbeat ticker for all of them) and answers commands
over a pipe. Every EA sends an `InitRequest` carrying its `ack_seq` at connect and
a `StatusHeartbeat` with its `ack_seq` every `heartbeat_s` (phases spread evenly).

Received `OrderCommand`s are recorded as (master_ticket, monotonic receive time, action);
`time.monotonic()` is CLOCK_MONOTONIC, shared by every process of the machine, so
the parent can subtract its own send times.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import orjson
import websockets
from _servers import RawHttpConnection, raise_fd_limit
from websockets.asyncio.client import ClientConnection

__all__ = ["INIT_EXTRA", "Fleet", "FleetSpec"]

_COMMAND = b'"type":"OrderCommand"'
_INIT_ACK = b'"type":"InitAck"'
_SHUTDOWN = b'"type":"ShutdownNotice"'

#: What every EA reports in its InitRequest besides ack_seq: equity and one symbol.
INIT_EXTRA: dict[str, Any] = {
    "account": {"balance": 10_000, "equity": 10_000},
    "symbols": [
        {
            "symbol": "EURUSD",
            "digits": 5,
            "point": 0.00001,
            "contract_size": 100000,
            "lot_step": 0.01,
            "min_lot": 0.01,
            "max_lot": 100,
        }
    ],
}


@dataclass(frozen=True)
class FleetSpec:
    """What every EA of a worker does."""

    base_url: str  #: gateway (or floor) base URL
    ws_url: str  #: WebSocket URL
    heartbeat_s: float = 5.0  #: StatusHeartbeat period
    authenticate: bool = True  #: create a session first (False: bare floor server)
    http_pool: int = 32  #: keep-alive connections for session creation, per worker
    concurrency: int = 256  #: EAs connecting at once, per worker
    init_extra: dict[str, Any] = field(default_factory=lambda: dict(INIT_EXTRA))  #: InitRequest
    #: answer every OrderCommand at once with an ExecutionReport (filled / closed)
    report: bool = False


def _envelope(kind: str, payload: dict[str, Any], n: int) -> str:
    return orjson.dumps(
        {"type": kind, "id": f"{kind[:2]}-{n}", "ts": int(time.time() * 1000), "payload": payload}
    ).decode()


@dataclass
class _EA:
    """One simulated EA in a worker."""

    account: str  #: account id
    key: str  #: session key
    ws: ClientConnection | None = None  #: the open connection
    acked: int = 0  #: highest seq processed (reported as ack_seq)
    ready_at: float = 0.0  #: monotonic time of the last InitAck
    reader: asyncio.Task[None] | None = None  #: its read loop
    closed_code: int | None = None  #: close code seen from the server
    sent: int = 0  #: messages sent


@dataclass
class _Worker:
    """The client side of one worker process."""

    spec: FleetSpec
    eas: list[_EA]
    received: list[tuple[int, float, str]] = field(default_factory=list)
    counter: int = 0
    heartbeats: int = 0
    errors: list[str] = field(default_factory=list)
    sample: bytes = b""  #: the last OrderCommand frame received (the floor replays its size)
    pool: asyncio.Queue[RawHttpConnection] | None = None

    async def _http(self) -> asyncio.Queue[RawHttpConnection]:
        if self.pool is None:
            host, port = self.spec.base_url.removeprefix("http://").split(":")
            self.pool = asyncio.Queue()
            for _ in range(self.spec.http_pool):
                self.pool.put_nowait(RawHttpConnection(host, int(port)))
        return self.pool

    async def _create(self, ea: _EA) -> str:
        pool = await self._http()
        conn = await pool.get()
        body = orjson.dumps(
            {
                "account_id": ea.account,
                "auth_method": "account_session_key",
                "credentials": {"key": ea.key},
            }
        )
        try:
            status, answer = await conn.request("POST", "/ea-gateway/v1/sessions", body)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            conn = RawHttpConnection(conn.host, conn.port)
            raise
        finally:
            pool.put_nowait(conn)
        if status != 201:
            raise RuntimeError(f"session create {status}: {answer[:200]!r}")
        token: str = orjson.loads(answer)["session_token"]
        return token

    async def connect_one(self, ea: _EA, deadline: float) -> float | None:
        """Session + WebSocket + InitRequest -> InitAck; returns the InitAck time."""
        while time.monotonic() < deadline:
            try:
                headers = None
                if self.spec.authenticate:
                    headers = {"Authorization": f"Bearer {await self._create(ea)}"}
                ws = await websockets.connect(
                    self.spec.ws_url,
                    additional_headers=headers,
                    compression=None,
                    ping_interval=None,
                    open_timeout=30,
                    close_timeout=1,
                    max_queue=None,
                )
            except Exception as exc:  # refused, reset, 5xx: try again shortly
                self.errors.append(f"{type(exc).__name__}: {exc}"[:200])
                await asyncio.sleep(0.05)
                continue
            ea.ws, ea.closed_code, ea.ready_at = ws, None, 0.0
            ready = asyncio.get_running_loop().create_future()
            ea.reader = asyncio.create_task(self._read(ea, ready))
            init = {**self.spec.init_extra, "ack_seq": ea.acked}
            with contextlib.suppress(websockets.ConnectionClosed):
                await ws.send(_envelope("InitRequest", init, self._next()))
            if not self.spec.authenticate:
                return time.monotonic()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                    if (at := float(await ready)) > 0:
                        return at
            self.errors.append(f"closed before InitAck: {ea.closed_code}")
            await asyncio.sleep(0.05)
        return None

    def _report(self, command: dict[str, Any]) -> str:
        """The ExecutionReport a broker would send: opens fill (follower ticket =
        master ticket + 10^9), closes close the ticket the command names."""
        opening = command["action"] == "open"
        report = {
            "command_id": command["command_id"],
            "status": "filled" if opening else "closed",
            "ticket": command["master_ticket"] + 1_000_000_000 if opening else command["ticket"],
            "symbol": command["symbol"],
            "volume": command["volume"],
            "price": 1.1,
            "executed_at_ms": int(time.time() * 1000),
        }
        return _envelope("ExecutionReport", report, self._next())

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    async def _read(self, ea: _EA, ready: asyncio.Future[float]) -> None:
        assert ea.ws is not None
        try:
            async for frame in ea.ws:
                data = frame if isinstance(frame, bytes) else frame.encode()
                if _COMMAND in data:
                    now = time.monotonic()
                    message = orjson.loads(data)
                    command = message["payload"]
                    self.received.append((command["master_ticket"], now, command["action"]))
                    self.sample = data
                    ea.acked = max(ea.acked, message.get("seq", 0))
                    if self.spec.report:
                        with contextlib.suppress(websockets.ConnectionClosed):
                            await ea.ws.send(self._report(command))
                elif _INIT_ACK in data:
                    ea.ready_at = time.monotonic()
                    if not ready.done():
                        ready.set_result(ea.ready_at)
                elif _SHUTDOWN in data:
                    pass
                else:
                    seq = orjson.loads(data).get("seq")
                    if isinstance(seq, int):
                        ea.acked = max(ea.acked, seq)
        except websockets.ConnectionClosed:
            pass
        finally:
            ea.closed_code = ea.ws.close_code if ea.ws is not None else None
            if not ready.done():
                ready.set_result(0.0)

    async def connect_all(self, timeout: float) -> dict[str, Any]:
        started = time.monotonic()
        deadline = started + timeout
        limit = asyncio.Semaphore(self.spec.concurrency)

        async def one(ea: _EA) -> float | None:
            async with limit:
                return await self.connect_one(ea, deadline)

        times = await asyncio.gather(*(one(ea) for ea in self.eas))
        done = [t for t in times if t is not None]
        return {
            "connected": len(done),
            "failed": len(times) - len(done),
            "started": started,
            "last_ready": max(done) if done else None,
            "errors": len(self.errors),
            "error_sample": self.errors[:5],
        }

    async def heartbeat_loop(self) -> None:
        """One ticker for every EA of this worker: each beats every `heartbeat_s`."""
        tick = 0.05
        n = len(self.eas)
        position = 0.0
        while True:
            await asyncio.sleep(tick)
            position += n * tick / self.spec.heartbeat_s
            while position >= 1:
                position -= 1
                ea = self.eas[self.heartbeats % n]
                self.heartbeats += 1
                if ea.ws is None or ea.closed_code is not None or ea.reader is None:
                    continue
                if ea.reader.done():
                    continue
                payload = {"ack_seq": ea.acked, "balance": 10_000, "equity": 10_000}
                with contextlib.suppress(websockets.ConnectionClosed):
                    await ea.ws.send(_envelope("StatusHeartbeat", payload, self._next()))

    async def wait_closed(self, timeout: float) -> dict[str, Any]:
        """Until every connection was closed by the server."""
        deadline = time.monotonic() + timeout
        readers = [ea.reader for ea in self.eas if ea.reader is not None]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                await asyncio.gather(*readers, return_exceptions=True)
        codes: dict[str, int] = {}
        for ea in self.eas:
            codes[str(ea.closed_code)] = codes.get(str(ea.closed_code), 0) + 1
        return {"close_codes": codes}

    async def wait_ticket(self, ticket: int, timeout: float) -> int:
        """Until every EA received the command for `ticket`; returns how many did."""
        deadline = time.monotonic() + timeout
        while True:
            got = sum(1 for t, _, _ in self.received if t == ticket)
            if got >= len(self.eas) or time.monotonic() > deadline:
                return got
            await asyncio.sleep(0.002)

    async def wait_commands(self, per_ea: int, timeout: float) -> int:
        """Until `per_ea` commands per EA were received; returns how many were."""
        deadline = time.monotonic() + timeout
        while True:
            got = len(self.received)
            if got >= per_ea * len(self.eas) or time.monotonic() > deadline:
                return got
            await asyncio.sleep(0.002)

    def stats(self) -> dict[str, Any]:
        codes: dict[str, int] = {}
        for ea in self.eas:
            if ea.closed_code is not None:
                codes[str(ea.closed_code)] = codes.get(str(ea.closed_code), 0) + 1
        return {"live": self.live(), "heartbeats": self.heartbeats, "closed": codes}

    def live(self) -> int:
        return sum(1 for ea in self.eas if ea.reader is not None and not ea.reader.done())

    async def close_all(self) -> None:
        for ea in self.eas:
            if ea.ws is not None:
                with contextlib.suppress(Exception):
                    await ea.ws.close()


async def _serve(conn: Connection, spec: FleetSpec, eas: list[tuple[str, str]]) -> None:
    worker = _Worker(spec, [_EA(a, k) for a, k in eas])
    beats: asyncio.Task[None] | None = None
    while True:
        command, arg = await asyncio.to_thread(conn.recv)
        if command == "connect":
            if beats is None:  # beating while the others connect (the timeout is 15 s)
                beats = asyncio.create_task(worker.heartbeat_loop())
            reply: Any = await worker.connect_all(arg)
        elif command == "wait_closed":
            reply = await worker.wait_closed(arg)
        elif command == "wait_ticket":
            reply = await worker.wait_ticket(*arg)
        elif command == "sample":
            reply = worker.sample
        elif command == "wait_commands":
            reply = await worker.wait_commands(*arg)
        elif command == "received":
            reply, worker.received = worker.received, []
        elif command == "stats":
            reply = worker.stats()
        elif command == "stop":
            if beats is not None:
                beats.cancel()
            await worker.close_all()
            conn.send(None)
            return
        else:
            reply = {"error": f"unknown command {command}"}
        conn.send(reply)


def _main(conn: Connection, spec: FleetSpec, eas: list[tuple[str, str]]) -> None:
    raise_fd_limit()
    try:  # the load generator's own CPU is taken from the gateway's 2 cores: keep it lean
        import uvloop

        uvloop.run(_serve(conn, spec, eas))
    except ImportError:
        asyncio.run(_serve(conn, spec, eas))


class Fleet:
    """EAs (account, key) split over `processes` worker processes."""

    def __init__(self, spec: FleetSpec, eas: list[tuple[str, str]], processes: int = 2) -> None:
        ctx = mp.get_context("spawn")
        self.pipes: list[Connection] = []  #: parent ends of the command pipes
        self.procs: list[Any] = []  #: worker processes
        for n in range(processes):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_main, args=(child, spec, eas[n::processes]), daemon=True)
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)

    async def call(self, command: str, arg: Any = None) -> list[Any]:
        """Send one command to every worker; their replies, in worker order."""
        for pipe in self.pipes:
            pipe.send((command, arg))
        return list(await asyncio.gather(*(asyncio.to_thread(p.recv) for p in self.pipes)))

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.call("stop")
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
