"""The two transports behind one interface: WebSocket and `exchange` polling.

Both are thin pumps: they move encoded envelopes out and raw frames in, and
describe how they ended as a `CloseInfo`. Every rule (dedup, ack, close policy)
lives in `ClientCore`. Foreign exceptions (`websockets`, `httpx`) are translated
here and never leak.

`Connection.send` hands envelopes over; envelopes a broken connection could not
take are returned by `unsent()` so the client re-sends them on the next session
(the gateway and the copier drop duplicates by envelope id).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Protocol

import httpx
import orjson
import websockets
from websockets.asyncio.client import ClientConnection

from gateway.client.errors import ConnectionLost
from gateway.client.policy import CloseInfo
from schemas.envelope import Envelope, encode_envelope
from schemas.rest import MAX_WAIT_MS

#: EA envelope types the gateway confirms with a `Receipt` (after `InitRequest.receipts`)
RECEIPTED_TYPES = frozenset({"OrderIntent", "ExecutionReport"})

__all__ = [
    "RECEIPTED_TYPES",
    "Connection",
    "PollConnection",
    "WebSocketConnection",
    "retry_after_s",
]

#: Largest server frame accepted by the client.
MAX_FRAME_BYTES = 1 << 20
#: Messages per exchange body (the server accepts up to 500).
MAX_BATCH = 200


def retry_after_s(response: httpx.Response) -> float | None:
    """The `Retry-After` header in seconds, if present and numeric."""
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def error_code(response: httpx.Response) -> str | None:
    """`error.code` of a REST error body, if there is one."""
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        code = response.json()["error"]["code"]
        return str(code)
    return None


class Connection(Protocol):
    """One live session's transport."""

    close_info: CloseInfo | None  #: how it ended, once `frames` is exhausted

    async def send(self, envelopes: Sequence[Envelope]) -> None:
        """Hand envelopes to the transport (raises `ConnectionLost` when it is gone)."""

    def frames(self) -> AsyncIterator[bytes | str | dict[str, Any]]:
        """Server frames in order; ends when the connection ends."""

    def unsent(self) -> list[Envelope]:
        """Envelopes handed over but not known to have left (after the end)."""

    def confirmed(self, ids: Sequence[str]) -> None:
        """The server's `Receipt` named these envelope ids as recorded."""

    async def close(self) -> None:
        """Close from our side (idempotent)."""


class WebSocketConnection:
    """`GET /ea-gateway/v1/stream` with the session token."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws  #: the open socket
        self.close_info: CloseInfo | None = None  #: set when it ended
        self._unsent: list[Envelope] = []  #: envelopes whose send failed
        #: intents/reports written but without a Receipt yet (a write is not a delivery)
        self._awaiting: dict[str, Envelope] = {}

    @classmethod
    async def open(cls, url: str, token: str, *, open_timeout: float = 10.0) -> WebSocketConnection:
        """Connect; raises `ConnectionLost` when the upgrade fails."""
        try:
            ws = await websockets.connect(
                url,
                additional_headers={"Authorization": f"Bearer {token}"},
                compression=None,
                max_size=MAX_FRAME_BYTES,
                open_timeout=open_timeout,
            )
        except websockets.InvalidStatus as exc:
            status = exc.response.status_code
            raise ConnectionLost(CloseInfo.http(status, None)) from exc
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            raise ConnectionLost(CloseInfo.network(f"{type(exc).__name__}: {exc}")) from exc
        return cls(ws)

    async def send(self, envelopes: Sequence[Envelope]) -> None:
        """Write one text frame per envelope."""
        for index, envelope in enumerate(envelopes):
            if envelope.type in RECEIPTED_TYPES:
                self._awaiting[envelope.id] = envelope
            try:
                await self.ws.send(encode_envelope(envelope).decode())
            except websockets.ConnectionClosed as exc:
                self._awaiting.pop(envelope.id, None)
                self._unsent.extend(envelopes[index:])
                raise ConnectionLost(self._ended()) from exc

    async def frames(self) -> AsyncIterator[bytes | str | dict[str, Any]]:
        """Frames until the socket closes."""
        try:
            async for frame in self.ws:
                yield frame
        except websockets.ConnectionClosed:
            pass
        except (OSError, websockets.WebSocketException) as exc:
            self.close_info = self.close_info or CloseInfo.network(str(exc))
        self._ended()

    def _ended(self) -> CloseInfo:
        if self.close_info is None:
            self.close_info = CloseInfo.websocket(self.ws.close_code, self.ws.close_reason)
        return self.close_info

    def unsent(self) -> list[Envelope]:
        """Intents/reports written without a Receipt, then envelopes whose send failed."""
        out = [*self._awaiting.values(), *self._unsent]
        self._awaiting, self._unsent = {}, []
        return out

    def confirmed(self, ids: Sequence[str]) -> None:
        """Forget written envelopes the server recorded."""
        for envelope_id in ids:
            self._awaiting.pop(envelope_id, None)

    async def close(self) -> None:
        """Close with 1000."""
        with contextlib.suppress(Exception):
            await self.ws.close()


class PollConnection:
    """`POST /sessions/{id}/exchange`: a long-poll receiver and an ordered sender.

    The receiver holds one exchange open (`wait_ms`) carrying only `ack_seq`, and
    polls again once the client has processed what it received (`caught_up`);
    the sender drains queued envelopes in order with `wait_ms: 0`. Both hand what
    the server answered to `frames()`; the client's dedup drops the overlap.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        session_id: str,
        token: str,
        ack_seq: Callable[[], int],
        *,
        caught_up: Callable[[], Awaitable[None]] | None = None,
        wait_ms: int = MAX_WAIT_MS,
    ) -> None:
        self.http = http  #: shared HTTP client
        self.url = f"{base_url}/ea-gateway/v1/sessions/{session_id}/exchange"  #: endpoint
        self.headers = {"Authorization": f"Bearer {token}"}  #: session token
        self.ack_seq = ack_seq  #: current ack, read at every exchange
        self.caught_up = caught_up  #: waits until everything received is processed
        self.wait_ms = min(max(wait_ms, 0), MAX_WAIT_MS)  #: long-poll hold
        self.close_info: CloseInfo | None = None  #: set when it ended
        self.state: str | None = None  #: session state of the last answer
        self._outbox: list[Envelope] = []  #: queued, not yet posted
        self._inflight: list[Envelope] = []  #: posted, answer not yet received
        self._wake = asyncio.Event()  #: the outbox got something
        self._frames: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()  #: to the client
        self._tasks = [
            asyncio.create_task(self._receive_loop()),
            asyncio.create_task(self._send_loop()),
        ]  #: the two loops

    async def send(self, envelopes: Sequence[Envelope]) -> None:
        """Queue envelopes for the sender loop."""
        if self.close_info is not None:
            self._outbox.extend(envelopes)
            raise ConnectionLost(self.close_info)
        self._outbox.extend(envelopes)
        self._wake.set()

    async def frames(self) -> AsyncIterator[bytes | str | dict[str, Any]]:
        """Messages of every answer, until an exchange fails."""
        while True:
            frame = await self._frames.get()
            if frame is None:
                return
            yield frame

    def unsent(self) -> list[Envelope]:
        """Envelopes not known to have reached the server."""
        out, self._inflight, self._outbox = self._inflight + self._outbox, [], []
        return out

    def confirmed(self, ids: Sequence[str]) -> None:
        """Nothing to do: an exchange's 200 already confirms its whole body."""

    async def close(self) -> None:
        """Stop both loops."""
        self._end(CloseInfo.by_client())
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _end(self, info: CloseInfo) -> None:
        if self.close_info is None:
            self.close_info = info
            self._frames.put_nowait(None)
            self._wake.set()

    async def _exchange(self, messages: list[Envelope], wait_ms: int) -> bool:
        body = b'{"ack_seq":%d,"wait_ms":%d,"messages":[%s]}' % (
            self.ack_seq(),
            wait_ms,
            b",".join(encode_envelope(m) for m in messages),
        )
        headers = {**self.headers, "content-type": "application/json"}
        try:
            response = await self.http.post(
                self.url, content=body, headers=headers, timeout=wait_ms / 1000 + 15
            )
        except httpx.HTTPError as exc:
            self._end(CloseInfo.network(f"{type(exc).__name__}: {exc}"))
            return False
        if response.status_code != 200:
            self._end(
                CloseInfo.http(response.status_code, error_code(response), retry_after_s(response))
            )
            return False
        answer = orjson.loads(response.content)
        self.state = answer.get("state")
        for message in answer.get("messages", []):
            self._frames.put_nowait(message)
        return True

    async def _receive_loop(self) -> None:
        # Poll again only once the client has processed what it got: otherwise the
        # server would answer at once with the same unacknowledged messages.
        while self.close_info is None and await self._exchange([], self.wait_ms):
            if self.caught_up is not None:
                await self.caught_up()

    async def _send_loop(self) -> None:
        while self.close_info is None:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox and self.close_info is None:
                self._inflight, self._outbox = self._outbox[:MAX_BATCH], self._outbox[MAX_BATCH:]
                if not await self._exchange(self._inflight, 0):
                    return
                self._inflight = []
