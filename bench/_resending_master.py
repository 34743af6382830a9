"""A benchmark master that behaves like a correct EA under admission control.

It asks for receipts (`InitRequest.receipts`), keeps every OrderIntent until its
`Receipt` arrives, and when the gateway refuses one (`ErrorAlert{overloaded,
retry: {policy: resend_after, after_ms}}` then close 1008) it waits `after_ms`,
reconnects and sends every unconfirmed intent again, in order, as the same
envelopes, before anything newer (docs/protocol.md, "Overload").

The refusal closes only the connection, not the session: the session stays live
(its token valid) as long as it heartbeats, so the master reconnects with the same
session token. Only if the gateway answers the reconnect with a session close
code (4001-4004: preempted, timed out, ...) does it create a new session.

`send` never blocks on the gateway: while the master waits to reconnect, intents
are kept and go out after the resend, so an open-loop schedule goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Any

import orjson
import websockets
from _fleet import INIT_EXTRA
from _servers import RawHttpConnection
from websockets.asyncio.client import ClientConnection

__all__ = ["ResendingMaster"]

#: Close codes after which the session is gone and a new one must be created.
SESSION_CLOSED_CODES = frozenset({4001, 4002, 4003, 4004})
#: The close code of a session that missed its heartbeat deadline.
HEARTBEAT_TIMEOUT_CODE = 4002
#: Wait before reconnecting after a close that gave no `after_ms` (seconds).
DEFAULT_BACKOFF_S = 0.5


class ResendingMaster:
    """The master EA: one WebSocket at a time, every intent kept until its Receipt."""

    def __init__(self, base_url: str, ws_url: str, key: str, account: str = "master") -> None:
        self.base_url = base_url  #: gateway base URL (session creation)
        self.ws_url = ws_url  #: WebSocket URL
        self.key = key  #: the master's session key
        self.account = account  #: its account id
        #: intents sent but not confirmed by a Receipt, in send order: id -> frame
        self.unconfirmed: dict[str, str] = {}
        self.refusals = 0  #: `overloaded` alerts received
        self.reconnects = 0  #: connections opened after the first
        self.new_sessions = 0  #: sessions created after the first
        self.resent = 0  #: intents written again on a later connection
        self.confirmed = 0  #: Receipts' ids received
        #: connections closed with 4002 (heartbeat timeout): under overload the heartbeat
        #: waits behind the intents written before it, unread by the gateway
        self.heartbeat_timeouts = 0
        self._token = ""  #: the live session's token
        self._ws: ClientConnection | None = None  #: the open, initialised connection
        #: unconfirmed intents not yet written on the current connection, in send order
        #: (a queue, not a scan of `unconfirmed`: under overload thousands wait for
        #: their Receipt, and a scan per send made the master itself the bottleneck)
        self._to_write: deque[tuple[str, str]] = deque()
        self._ever_written: set[str] = set()  #: ids written on any connection
        self._lock = asyncio.Lock()  #: one writer at a time: sends stay in order
        self._acked = 0  #: highest server seq received
        self._retry_after_s = DEFAULT_BACKOFF_S  #: the last refusal's after_ms
        self._all_confirmed = asyncio.Event()  #: set while nothing is unconfirmed
        self._all_confirmed.set()
        self._task: asyncio.Task[None] | None = None  #: the connection loop

    async def __aenter__(self) -> ResendingMaster:
        await self._create_session()
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(ready))
        await ready
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def counters(self) -> dict[str, int]:
        """Refusals, reconnects, new sessions, resent intents so far."""
        return {
            "refusals": self.refusals,
            "reconnects": self.reconnects,
            "new_sessions": self.new_sessions,
            "resent": self.resent,
            "heartbeat_timeouts": self.heartbeat_timeouts,
            "unconfirmed": len(self.unconfirmed),
        }

    async def send(self, intent_id: str, frame: str) -> None:
        """Keep `frame` until confirmed; write it now if connected (else after the resend)."""
        self.unconfirmed[intent_id] = frame
        self._to_write.append((intent_id, frame))
        self._all_confirmed.clear()
        await self._flush()

    async def wait_confirmed(self, timeout: float) -> bool:
        """Until every intent was confirmed by a Receipt; False on timeout."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._all_confirmed.wait(), timeout)
        return not self.unconfirmed

    async def _flush(self) -> None:
        """Write, in order, every unconfirmed intent not yet written on this connection."""
        async with self._lock:
            while (ws := self._ws) is not None and self._to_write:
                intent_id, frame = self._to_write.popleft()
                if intent_id not in self.unconfirmed:
                    continue  # confirmed meanwhile
                if intent_id in self._ever_written:
                    self.resent += 1
                self._ever_written.add(intent_id)
                try:
                    await ws.send(frame)
                except websockets.ConnectionClosed:
                    return  # the connection loop reconnects and resends

    async def _create_session(self) -> None:
        host, port = self.base_url.removeprefix("http://").split(":")
        http = RawHttpConnection(host, int(port))
        body = {
            "account_id": self.account,
            "auth_method": "account_session_key",
            "credentials": {"key": self.key},
        }
        try:
            status, answer = await http.request(
                "POST", "/ea-gateway/v1/sessions", orjson.dumps(body)
            )
        finally:
            await http.close()
        assert status == 201, answer
        self._token = orjson.loads(answer)["session_token"]

    async def _run(self, ready: asyncio.Future[None]) -> None:
        """Connect, resend, read until closed; back off as told; again."""
        first = True
        while True:
            headers = {"Authorization": f"Bearer {self._token}"}
            delay = DEFAULT_BACKOFF_S
            try:
                async with websockets.connect(
                    self.ws_url, additional_headers=headers, compression=None, ping_interval=None
                ) as ws:
                    if not first:
                        self.reconnects += 1
                    await self._open(ws)
                    if not ready.done():
                        ready.set_result(None)
                    first = False
                    self._retry_after_s = DEFAULT_BACKOFF_S
                    await self._read(ws)
                    delay = self._retry_after_s
                    code = ws.close_code
            except (OSError, websockets.InvalidHandshake):
                code = None
            except websockets.ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else None
                delay = self._retry_after_s
            finally:
                self._ws = None
            self.heartbeat_timeouts += code == HEARTBEAT_TIMEOUT_CODE
            if code in SESSION_CLOSED_CODES:
                await self._create_session()
                self.new_sessions += 1
            await asyncio.sleep(delay)

    async def _open(self, ws: ClientConnection) -> None:
        """InitRequest (receipts, ack_seq) -> InitAck, then resend what is unconfirmed."""
        payload = {**INIT_EXTRA, "ack_seq": self._acked, "receipts": True}
        init = {"type": "InitRequest", "id": f"m-init-{time.time()}", "ts": 1, "payload": payload}
        await ws.send(orjson.dumps(init).decode())
        while True:
            message = orjson.loads(await ws.recv(decode=False))
            self._note_seq(message)
            if message.get("type") == "InitAck":
                break
        # a heartbeat ahead of the resent intents: after a refusal nothing more is read,
        # so heartbeats queued behind refused intents would let the session time out
        await ws.send(self._heartbeat())
        self._to_write = deque(self.unconfirmed.items())
        self._ws = ws
        await self._flush()

    async def _read(self, ws: ClientConnection) -> None:
        """Receipts confirm intents; `overloaded` sets the back-off; heartbeats with acks."""
        beater = asyncio.create_task(self._beat(ws))
        try:
            async for raw in ws:
                message = orjson.loads(raw)
                self._note_seq(message)
                kind = message.get("type")
                if kind == "Receipt":
                    for intent_id in message["payload"]["ids"]:
                        if self.unconfirmed.pop(intent_id, None) is not None:
                            self.confirmed += 1
                    if not self.unconfirmed:
                        self._all_confirmed.set()
                elif kind == "ErrorAlert" and message["payload"].get("code") == "overloaded":
                    self.refusals += 1
                    retry = message["payload"].get("retry") or {}
                    self._retry_after_s = retry.get("after_ms", 1000) / 1000
                    self._ws = None  # nothing more is read here: stop writing
        finally:
            beater.cancel()

    async def _beat(self, ws: ClientConnection) -> None:
        """A heartbeat every 5 s (the first went out with the InitRequest)."""
        while True:
            await asyncio.sleep(5)
            with contextlib.suppress(websockets.ConnectionClosed):
                await ws.send(self._heartbeat())

    def _heartbeat(self) -> str:
        hb = {"type": "StatusHeartbeat", "id": f"m-hb-{time.time()}", "ts": 1}
        return orjson.dumps({**hb, "payload": {"ack_seq": self._acked}}).decode()

    def _note_seq(self, message: dict[str, Any]) -> None:
        seq = message.get("seq")
        if isinstance(seq, int) and seq > self._acked:
            self._acked = seq
