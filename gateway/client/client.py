"""`EAClient`: the asyncio EA client (sessions, both transports, reconnects, dispatch).

It only pumps: frames go through `ClientCore` (dedup, ack, close policy); what
comes out is handed to typed handlers or `MessageStream`s one message at a time,
in seq order, and acknowledged once processed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

import httpx

from gateway.client.core import ClientCore, Deliver, Drop, Replay
from gateway.client.errors import ClientStopped, ConnectionLost
from gateway.client.handlers import CommandHandler, Handler, Handlers
from gateway.client.policy import CloseInfo, Decision, ReconnectPolicy, Stop
from gateway.client.rest import ClientConfig, create_session, delete_session
from gateway.client.streams import MessageStream
from gateway.client.tracking import JournalState
from gateway.client.transports import Connection, PollConnection, WebSocketConnection
from gateway.clock import Clock, system_clock_ms
from schemas.codes import ExecutionStatus, Role, SessionState
from schemas.envelope import (
    Envelope,
    ExecutionReport,
    InitAck,
    InitRequest,
    OrderCommand,
    OrderIntent,
    Receipt,
    StatusHeartbeat,
    SyncSnapshot,
    SyncSnapshotRequest,
)
from schemas.messages import (
    AccountInfo,
    ExecutionReportPayload,
    OrderIntentPayload,
    SymbolSpec,
    SyncSnapshotPayload,
    WireModel,
)

__all__ = ["ClientStats", "CommandHandler", "EAClient", "Handler"]

_log = logging.getLogger("copygate.client")

E = TypeVar("E", bound=Envelope)
_TRANSIENT = (StatusHeartbeat, InitRequest)  # never re-sent on a new connection
#: How long a deliberate close waits for the server to close the connection.
CLOSE_HANDSHAKE_S = 2.0


@dataclass
class ClientStats:
    """Counters (cheap; read them from benchmarks and views)."""

    sessions: int = 0  #: sessions created
    reconnects: int = 0  #: reconnect decisions
    received: int = 0  #: server frames
    delivered: int = 0  #: handed to the application
    duplicates: int = 0  #: dropped as duplicates (id or command_id)
    replays: int = 0  #: re-delivered commands answered from the journal
    invalid: int = 0  #: unreadable frames
    sent: int = 0  #: envelopes handed to a transport


class EAClient:
    """An EA speaking the wire contract. See docs/sdk.md."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        account: Callable[[], AccountInfo] | None = None,
        symbols: Sequence[SymbolSpec] | Callable[[], Sequence[SymbolSpec]] | None = None,
        snapshot: Callable[[], SyncSnapshotPayload] | None = None,
        margin_level: Callable[[], Decimal | None] | None = None,
        policy: ReconnectPolicy | None = None,
        journal: JournalState | None = None,
        clock: Clock = system_clock_ms,
        http: httpx.AsyncClient | None = None,
        id_prefix: str | None = None,
    ) -> None:
        self.config = config  #: where and as whom
        self.core = ClientCore(
            config.account_id,
            id_prefix=id_prefix or f"{config.account_id}-{secrets.token_hex(4)}",
            policy=policy,
            journal=journal,
        )  #: the pure session state
        self.account = account  #: account figures for InitRequest and heartbeats
        self.symbols = symbols  #: symbol specs for InitRequest
        self.snapshot = snapshot  #: SyncSnapshot provider (start and on request)
        self.margin_level = margin_level  #: margin level for heartbeats
        self.clock = clock  #: epoch ms
        self.stats = ClientStats()  #: counters
        self.stopped: Stop | None = None  #: set once the client stopped for good
        self._http = http  #: shared HTTP client (None: own one)
        self._own_http = http is None  #: close it on exit
        self.handlers = Handlers()  #: callbacks and streams by message type
        self._outbox: list[Envelope] = []  #: waiting for a connection
        self._conn: Connection | None = None  #: the live connection
        self._queue: asyncio.Queue[Deliver | Replay] = asyncio.Queue()  #: to the dispatcher
        self._idle = asyncio.Event()  #: the dispatcher has nothing to do
        self._idle.set()
        self._wake = asyncio.Event()  #: the outbox got something
        self._authenticated = asyncio.Event()  #: InitAck on this session (or stopped)
        self._closing = asyncio.Event()  #: close() was called
        self._task: asyncio.Task[Stop] | None = None  #: `run` in the background

    # ---- registration ------------------------------------------------------------
    def on(self, kind: type[E], handler: Handler[E]) -> Handler[E]:
        """Call `handler` for every new message of `kind` (Envelope = every message)."""
        return self.handlers.add(kind, handler)

    def on_command(self, handler: CommandHandler) -> CommandHandler:
        """Execute OrderCommands with `handler`; its return value is sent as the report."""
        self.handlers.command = handler
        return handler

    def messages(self, kind: type[E]) -> MessageStream[E]:
        """An async iterator over new messages of `kind` (see `MessageStream`)."""
        return self.handlers.stream(kind)

    # ---- state -------------------------------------------------------------------
    @property
    def ack_seq(self) -> int:
        """Highest processed seq."""
        return self.core.acks.ack_seq

    @property
    def state(self) -> SessionState:
        """Session state as last told by the server."""
        return self.core.state

    @property
    def role(self) -> Role | str | None:
        """Role from the last InitAck."""
        return self.core.role

    @property
    def session_id(self) -> str | None:
        """The current (or last) session id."""
        return self.core.session.session_id if self.core.session else None

    @property
    def connected(self) -> bool:
        """A transport is up."""
        return self._conn is not None

    # ---- life cycle --------------------------------------------------------------
    async def start(self) -> None:
        """Run in the background (see `run`)."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=f"ea-{self.config.account_id}")

    async def __aenter__(self) -> EAClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def wait_authenticated(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Until the current session got its InitAck.

        Raises:
            ClientStopped: the client stopped first.
            TimeoutError: not within `timeout`.
        """
        async with asyncio.timeout(timeout):
            await self._authenticated.wait()
        if self.stopped is not None:
            raise ClientStopped(self.stopped)

    async def wait_stopped(self) -> Stop:
        """Until the client stopped for good; returns why."""
        if self._task is None:
            raise RuntimeError("the client was not started")
        return await asyncio.shield(self._task)

    async def close(self) -> None:
        """End the session deliberately (ShutdownNotice handshake) and stop."""
        self._closing.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task

    async def run(self) -> Stop:
        """Connect, reconnect as the close policy says, until it says stop."""
        if self._http is None:
            self._http = httpx.AsyncClient(limits=httpx.Limits(max_connections=8))
        dispatcher = asyncio.create_task(self._dispatch())
        try:
            while True:
                decision = await self._session()
                if isinstance(decision, Stop):
                    self.stopped = decision
                    _log.info("%s stopped: %s", self.config.account_id, decision.reason)
                    return decision
                self.stats.reconnects += 1
                _log.info(
                    "%s reconnects in %.2fs (%s)",
                    self.config.account_id,
                    decision.delay_s,
                    decision.reason,
                )
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(decision.delay_s):
                        await self._closing.wait()
        finally:
            if self.stopped is None:
                self.stopped = Stop("client_shutdown")
            self._authenticated.set()  # wake waiters: they see `stopped`
            dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await dispatcher
            self.handlers.close()
            if self._own_http and self._http is not None:
                await self._http.aclose()

    # ---- sending -----------------------------------------------------------------
    async def send(self, kind: type[E], payload: WireModel) -> E:
        """Queue an envelope of `kind`; it goes out on the live (or next) connection."""
        if self.stopped is not None:
            raise ClientStopped(self.stopped)
        envelope = self.core.envelope(kind, payload, self.clock())
        if isinstance(envelope, ExecutionReport):
            self.core.reported(envelope)
        self._outbox.append(envelope)
        self._wake.set()
        return envelope

    async def send_intent(self, payload: OrderIntentPayload) -> OrderIntent:
        """Report a trade event (master)."""
        return await self.send(OrderIntent, payload)

    async def report(self, payload: ExecutionReportPayload) -> ExecutionReport:
        """Report a command's outcome (follower); remembered for re-deliveries."""
        return await self.send(ExecutionReport, payload)

    async def send_snapshot(self, payload: SyncSnapshotPayload) -> SyncSnapshot:
        """Send the account's open positions and orders."""
        return await self.send(SyncSnapshot, payload)

    # ---- one session -------------------------------------------------------------
    async def _session(self) -> Decision:
        assert self._http is not None
        if self._closing.is_set():
            return self.core.closed(CloseInfo.by_client())
        try:
            created = await create_session(self._http, self.config)
            self.stats.sessions += 1
            self.core.begin(created, self.clock())
            conn = await self._open(created.session_id, created.session_token)
        except ConnectionLost as exc:
            return self.core.closed(exc.info)
        self._conn = conn
        symbols = self.symbols() if callable(self.symbols) else self.symbols
        init = self.core.init_request(
            self.clock(), self._account(), symbols, receipts=self.config.transport != "poll"
        )
        with contextlib.suppress(ConnectionLost):
            await conn.send([init])  # first, before anything queued
        tasks = [asyncio.create_task(self._write(conn)), asyncio.create_task(self._beat(conn))]
        self._wake.set()
        reader = asyncio.create_task(self._read(conn))
        closing = asyncio.create_task(self._closing.wait())
        try:
            await asyncio.wait({reader, closing}, return_when=asyncio.FIRST_COMPLETED)
            if closing.done():  # deliberate close: the server answers ShutdownNotice + close
                await delete_session(self._http, self.config, created)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(CLOSE_HANDSHAKE_S):
                        await asyncio.shield(reader)
                await conn.close()
            await reader
        finally:
            self._conn = None
            for task in [*tasks, reader, closing]:
                task.cancel()
            for task in [*tasks, reader, closing]:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await conn.close()
            self._authenticated.clear()
            resend = [e for e in conn.unsent() if not isinstance(e, _TRANSIENT)]
            self._outbox[:0] = resend
        info = conn.close_info or CloseInfo.network("connection ended")
        return self.core.closed(CloseInfo.by_client() if self._closing.is_set() else info)

    async def _open(self, session_id: str, token: str) -> Connection:
        if self.config.transport == "poll":
            assert self._http is not None
            return PollConnection(
                self._http,
                self.config.base_url.rstrip("/"),
                session_id,
                token,
                lambda: self.core.acks.ack_seq,
                caught_up=self._caught_up,
                wait_ms=self.config.poll_wait_ms,
            )
        return await WebSocketConnection.open(self.config.ws_url, token)

    async def _caught_up(self) -> None:
        await self._idle.wait()

    def _account(self) -> AccountInfo | None:
        return self.account() if self.account is not None else None

    async def _read(self, conn: Connection) -> None:
        async for frame in conn.frames():
            self.stats.received += 1
            event = self.core.receive(frame, self.clock())
            if isinstance(event, Drop):
                if event.envelope is None:
                    self.stats.invalid += 1
                    _log.warning("%s dropped a frame: %s", self.config.account_id, event.reason)
                else:
                    self.stats.duplicates += 1
                continue
            if isinstance(event.envelope, InitAck):
                self._authenticated.set()
            if isinstance(event.envelope, Receipt):
                conn.confirmed(event.envelope.payload.ids)
            self._idle.clear()
            self._queue.put_nowait(event)

    async def _write(self, conn: Connection) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._outbox:
                continue
            batch, self._outbox = self._outbox, []
            try:
                await conn.send(batch)
            except ConnectionLost:
                return
            self.stats.sent += len(batch)

    async def _beat(self, conn: Connection) -> None:
        while True:
            delay_ms = self.core.next_heartbeat_ms() - self.clock()
            if delay_ms > 0:
                await asyncio.sleep(delay_ms / 1000)
                continue
            level = self.margin_level() if self.margin_level is not None else None
            extra = {"margin_level": level} if level is not None else {}
            beat = self.core.heartbeat(self.clock(), self._account(), **extra)
            try:
                await conn.send([beat])
            except ConnectionLost:
                return

    # ---- dispatch ----------------------------------------------------------------
    async def _dispatch(self) -> None:
        while True:
            if self._queue.empty():
                self._idle.set()
            event = await self._queue.get()
            if isinstance(event, Replay):
                self.stats.replays += 1
                self._outbox.append(event.report)
                self._wake.set()
                continue
            self.stats.delivered += 1
            try:
                await self._handle(event.envelope)
            except Exception:
                _log.exception(
                    "%s: handler failed on %s", self.config.account_id, event.envelope.id
                )
                if isinstance(event.envelope, OrderCommand):
                    await self.report(
                        ExecutionReportPayload(
                            command_id=event.envelope.payload.command_id,
                            status=ExecutionStatus.REJECTED,
                            error_message="client handler failed",
                        )
                    )
            self.core.processed(event.envelope)

    async def _handle(self, envelope: Envelope) -> None:
        if isinstance(envelope, SyncSnapshotRequest) and self.snapshot is not None:
            snapshot = self.snapshot()
            await self.send_snapshot(
                snapshot.model_copy(update={"request_id": envelope.payload.request_id})
            )
        elif isinstance(envelope, InitAck) and self.config.snapshot_on_start and self.snapshot:
            await self.send_snapshot(self.snapshot())
        report = await self.handlers.handle(envelope)
        if report is not None:
            await self.report(report)
