"""A small in-process fake of the gateway's EA endpoints (poll transport only).

It exists so the EA can be exercised end to end *today*, before `copygate
serve` is complete. It follows the wire contract for the parts the EA uses and
validates every EA message with the real models (``schemas``), so a test that
passes here proves the EA speaks valid envelopes. It is not the gateway: the
session rules it implements are the minimum the tests need (pending/promotion,
preemption, closing with a reason, seq/ack_seq re-delivery, holds).
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from schemas import EnvelopeError, parse_client_envelope
from schemas.rest import ExchangeRequest, SessionCreateRequest

__all__ = ["FakeGateway", "FakeSession"]

_ids = itertools.count(1)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class FakeSession:
    """One EA session."""

    session_id: str
    token: str
    account_id: str
    key: str
    state: str  # pending | authenticated | closed
    closed_reason: str | None = None
    client: dict[str, Any] | None = None


@dataclass
class _Account:
    seq: int = 0
    outbox: list[dict[str, Any]] = field(default_factory=list)  # envelopes with seq
    held: list[dict[str, Any]] = field(default_factory=list)  # waiting for promotion
    received: list[dict[str, Any]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # time.monotonic() per received entry
    acked: int = 0


class FakeGateway:
    """Threaded HTTP fake of ``/ea-gateway/v1/...``; use as a context manager."""

    def __init__(self, *, heartbeat_interval_s: float = 1.0, auto_approve: bool = True) -> None:
        self.heartbeat_interval_s = heartbeat_interval_s
        self.auto_approve = auto_approve  #: unknown keys authenticate at once
        self.rejected_keys: set[str] = set()
        self.sessions: list[FakeSession] = []
        self.invalid: list[str] = []  #: EA messages the models rejected
        self.requests: list[tuple[str, str]] = []  #: (method, path)
        #: exchange bodies larger than this are answered 413 (None: no limit)
        self.max_body_bytes: int | None = None
        self.exchanges: list[tuple[int, int]] = []  #: (HTTP status, messages in the body)
        #: account -> Retry-After seconds of its next refusals: an exchange body with an
        #: OrderIntent gets 429 `overloaded` (what precedes the intent is applied)
        self.overload_intents: dict[str, list[int]] = {}
        #: (monotonic time, intent id) of every intent refused as overloaded (poll)
        self.refused: list[tuple[float, str]] = []
        self._accounts: dict[str, _Account] = {}
        self._cond = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # ------------------------------------------------------------ life cycle
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeGateway:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------ test API
    def account(self, account_id: str) -> _Account:
        with self._cond:
            return self._accounts.setdefault(account_id, _Account())

    def queue(self, account_id: str, env_type: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue a server->EA envelope (held while the account has no authenticated session)."""
        env = {"type": env_type, "id": f"srv-{next(_ids)}", "ts": _now_ms(), "payload": payload}
        with self._cond:
            acc = self._accounts.setdefault(account_id, _Account())
            held = not self.auto_approve and self._live(account_id, "authenticated") is None
            if held and env_type == "OrderCommand":
                acc.held.append(env)
            else:
                self._append(acc, env)
            self._cond.notify_all()
        return env

    def queue_together(self, account_id: str, items: list[tuple[str, dict[str, Any]]]) -> None:
        """Queue several envelopes at once, so they arrive in one poll answer."""
        with self._cond:
            acc = self._accounts.setdefault(account_id, _Account())
            for env_type, payload in items:
                self._append(acc, self._env(env_type, payload))
            self._cond.notify_all()

    def redeliver(self, account_id: str, env: dict[str, Any]) -> None:
        """Send an already-sent envelope again under a new seq (a duplicate delivery)."""
        with self._cond:
            self._append(self._accounts[account_id], {k: v for k, v in env.items() if k != "seq"})
            self._cond.notify_all()

    def promote(self, account_id: str) -> None:
        """Approve the pending key: SessionStateChange, InitAck, then the held backlog."""
        with self._cond:
            session = self._live(account_id, "pending")
            assert session is not None, "no pending session"
            self._preempt_others(session)
            session.state = "authenticated"
            acc = self._accounts[account_id]
            self._append(acc, self._env("SessionStateChange", {"state": "authenticated"}))
            self._append(acc, self._init_ack(session))
            for env in acc.held:
                self._append(acc, env)
            acc.held.clear()
            self._cond.notify_all()

    def close(self, account_id: str, reason: str) -> None:
        """Close the live session: its token then gets 410 with ``reason``."""
        with self._cond:
            for s in self.sessions:
                if s.account_id == account_id and s.state != "closed":
                    s.state = "closed"
                    s.closed_reason = reason
            self._cond.notify_all()

    def received(self, account_id: str, env_type: str | None = None) -> list[dict[str, Any]]:
        with self._cond:
            got = list(self._accounts.setdefault(account_id, _Account()).received)
        return [e for e in got if env_type is None or e["type"] == env_type]

    def arrived(self, account_id: str, env_type: str) -> list[tuple[float, dict[str, Any]]]:
        """``(time.monotonic() of arrival, envelope)`` of every ``env_type`` received."""
        with self._cond:
            acc = self._accounts.setdefault(account_id, _Account())
            pairs = list(zip(acc.arrivals, acc.received, strict=True))
        return [(at, e) for at, e in pairs if e["type"] == env_type]

    def wait_for(
        self,
        account_id: str,
        env_type: str,
        where: Callable[[dict[str, Any]], bool] = lambda _e: True,
        timeout: float = 10.0,
        count: int = 1,
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` envelopes of ``env_type`` matching ``where`` arrived."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                acc = self._accounts.setdefault(account_id, _Account())
                found = [e for e in acc.received if e["type"] == env_type and where(e["payload"])]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    kinds = [e["type"] for e in acc.received]
                    raise AssertionError(f"no {count}x {env_type} for {account_id}; got {kinds}")
                self._cond.wait(min(left, 0.1))

    def sessions_of(self, account_id: str) -> list[FakeSession]:
        with self._cond:
            return [s for s in self.sessions if s.account_id == account_id]

    # ------------------------------------------------------------ internals
    def _env(self, env_type: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {"type": env_type, "id": f"srv-{next(_ids)}", "ts": _now_ms(), "payload": payload}

    def _init_ack(self, session: FakeSession) -> dict[str, Any]:
        return self._env(
            "InitAck",
            {
                "session_id": session.session_id,
                "role": "unassigned",
                "heartbeat_interval_s": self.heartbeat_interval_s,
                "heartbeat_timeout_s": self.heartbeat_interval_s * 3,
            },
        )

    def _append(self, acc: _Account, env: dict[str, Any]) -> None:
        acc.seq += 1
        acc.outbox.append({**env, "seq": acc.seq})

    def _live(self, account_id: str, state: str) -> FakeSession | None:
        for s in self.sessions:
            if s.account_id == account_id and s.state == state:
                return s
        return None

    def _preempt_others(self, winner: FakeSession) -> None:
        for s in self.sessions:
            if s is not winner and s.account_id == winner.account_id and s.state != "closed":
                s.state = "closed"
                s.closed_reason = "preempted"

    def _create(self, body: bytes) -> tuple[int, dict[str, Any]]:
        req = SessionCreateRequest.model_validate_json(body)
        key = str(req.credentials.get("key", ""))
        if key in self.rejected_keys:
            return 401, {"error": {"code": "invalid_credentials", "message": "key rejected"}}
        with self._cond:
            session = FakeSession(
                session_id=secrets.token_hex(8),
                token=secrets.token_hex(16),
                account_id=req.account_id,
                key=key,
                state="authenticated" if self.auto_approve else "pending",
                client=req.client.model_dump() if req.client else None,
            )
            self.sessions.append(session)
            self._accounts.setdefault(req.account_id, _Account())
            if session.state == "authenticated":
                self._preempt_others(session)
        return 201, {
            "session_id": session.session_id,
            "state": session.state,
            "session_token": session.token,
            "heartbeat_interval_s": self.heartbeat_interval_s,
            "heartbeat_timeout_s": self.heartbeat_interval_s * 3,
        }

    def _session_for(self, headers: Any, session_id: str | None) -> FakeSession | None:
        auth = headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip()
        for s in self.sessions:
            if s.token == token and (session_id is None or s.session_id == session_id):
                return s
        return None

    def _exchange(self, session: FakeSession, body: bytes) -> tuple[int, dict[str, Any]]:
        req = ExchangeRequest.model_validate_json(body)
        with self._cond:
            acc = self._accounts[session.account_id]
            for raw in req.messages:
                try:
                    env = parse_client_envelope(raw)
                except EnvelopeError as exc:
                    self.invalid.append(f"{exc}: {json.dumps(raw)[:300]}")
                    continue
                refusals = self.overload_intents.get(session.account_id)
                if env.type == "OrderIntent" and refusals:
                    self.refused.append((time.monotonic(), env.id))
                    error = {"code": "overloaded", "message": "copier backlog full"}
                    return 429, {"error": error, "_retry_after_s": refusals.pop(0)}
                acc.received.append(json.loads(env.model_dump_json(exclude_none=True)))
                acc.arrivals.append(time.monotonic())
                if env.type == "InitRequest" and session.state == "authenticated":
                    self._append(acc, self._init_ack(session))
            acc.acked = max(acc.acked, req.ack_seq)
            self._cond.notify_all()
            deadline = time.monotonic() + req.wait_ms / 1000
            while True:
                if session.state == "closed":
                    return 410, {"error": {"code": session.closed_reason, "message": "closed"}}
                due = (
                    []
                    if session.state == "pending"
                    else [e for e in acc.outbox if e["seq"] > req.ack_seq]
                )
                left = deadline - time.monotonic()
                if due or left <= 0:
                    return 200, {"state": session.state, "messages": due}
                self._cond.wait(left)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _reply(self, status: int, obj: dict[str, Any]) -> None:
                retry_after = obj.pop("_retry_after_s", None)
                data = json.dumps(obj).encode()
                self.send_response(status)
                if retry_after is not None:
                    self.send_header("Retry-After", str(retry_after))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length", "0")))

            def do_POST(self) -> None:
                gateway.requests.append(("POST", self.path))
                body = self._body()
                parts = self.path.strip("/").split("/")
                if self.path == "/ea-gateway/v1/sessions":
                    self._reply(*gateway._create(body))
                    return
                if len(parts) == 5 and parts[-1] == "exchange":
                    session = gateway._session_for(self.headers, parts[3])
                    if session is None:
                        self._reply(401, {"error": {"code": "invalid_token", "message": "no"}})
                        return
                    count = len(json.loads(body).get("messages", []))
                    limit = gateway.max_body_bytes
                    if limit is not None and len(body) > limit:
                        gateway.exchanges.append((413, count))
                        too_large = {"code": "payload_too_large", "message": "body too large"}
                        self._reply(413, {"error": too_large})
                        return
                    status, answer = gateway._exchange(session, body)
                    gateway.exchanges.append((status, count))
                    self._reply(status, answer)
                    return
                if len(parts) == 5 and parts[-1] == "close":
                    self._close(parts[3])
                    return
                self._reply(404, {"error": {"code": "not_found", "message": self.path}})

            def do_DELETE(self) -> None:
                gateway.requests.append(("DELETE", self.path))
                self._body()
                self._close(self.path.rsplit("/", 1)[-1])

            def _close(self, session_id: str) -> None:
                session = gateway._session_for(self.headers, session_id)
                if session is None:
                    self._reply(401, {"error": {"code": "invalid_token", "message": "no"}})
                    return
                with gateway._cond:
                    session.state = "closed"
                    session.closed_reason = "client_shutdown"
                    gateway._cond.notify_all()
                self._reply(200, {})

        return Handler


class FakeStream:
    """WebSocket endpoint ``/ea-gateway/v1/stream`` beside a :class:`FakeGateway`.

    Runs a `websockets` server on its own event loop thread; tokens are checked
    against the gateway's sessions. Received envelopes land in the gateway's
    per-account ``received`` list, so the same ``wait_for`` works.
    """

    def __init__(self, gateway: FakeGateway) -> None:
        self.gateway = gateway
        self.port = 0
        self._loop: Any = None
        self._server: Any = None
        self._conns: dict[str, Any] = {}  # account -> live connection
        #: accounts whose next ExecutionReport is lost with the connection (dropped unread)
        self.drop_next_report: set[str] = set()
        #: accounts whose reports/intents are recorded but never confirmed with a Receipt
        self.withhold_receipts: set[str] = set()
        self.receipts_sent: list[str] = []  #: EA envelope ids confirmed with a Receipt
        #: account -> retry.after_ms of its next refusals: its next OrderIntent gets
        #: ErrorAlert{overloaded} and close 1008, unrecorded, nothing after it read
        self.refuse_intents: dict[str, list[int]] = {}
        #: (monotonic time, intent id) of every intent refused as overloaded
        self.refused: list[tuple[float, str]] = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ea-gateway/v1/stream"

    def __enter__(self) -> FakeStream:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        import asyncio

        async def stop() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def send(self, account_id: str, env_type: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a server envelope (with the account's next seq) on the live connection."""
        import asyncio

        env = self.gateway._env(env_type, payload)
        with self.gateway._cond:
            acc = self.gateway._accounts[account_id]
            self.gateway._append(acc, env)
            env = acc.outbox[-1]
        conn = self._conns[account_id]
        asyncio.run_coroutine_threadsafe(conn.send(json.dumps(env)), self._loop).result(5)
        return env

    def close(self, account_id: str, code: int, reason: str = "") -> None:
        import asyncio

        conn = self._conns[account_id]
        asyncio.run_coroutine_threadsafe(conn.close(code, reason), self._loop).result(5)

    async def _refuse(
        self, connection: Any, account_id: str, intent_id: str, after_ms: int
    ) -> None:
        """As the gateway: ErrorAlert{overloaded, retry: resend_after}, then close 1008."""
        self.refused.append((time.monotonic(), intent_id))
        payload = {
            "code": "overloaded",
            "severity": "warning",
            "message": "copier backlog full",
            "ref_id": intent_id,
            "retry": {"policy": "resend_after", "after_ms": after_ms},
        }
        with self.gateway._cond:  # a reply: numbered, not kept in the delivery log
            acc = self.gateway._accounts[account_id]
            acc.seq += 1
            alert = {**self.gateway._env("ErrorAlert", payload), "seq": acc.seq}
        await connection.send(json.dumps(alert))
        await connection.close(1008, "overloaded")

    def _run(self) -> None:
        import asyncio

        from websockets.asyncio.server import serve

        gateway = self.gateway

        def check_token(connection: Any, request: Any) -> Any:
            session = gateway._session_for(request.headers, None)
            if session is None or session.state == "closed":
                return connection.respond(401, "invalid token\n")
            return None

        async def handler(connection: Any) -> None:
            session = gateway._session_for(connection.request.headers, None)
            assert session is not None
            self._conns[session.account_id] = connection
            receipts = False
            async for raw in connection:
                try:
                    env = parse_client_envelope(raw)
                except EnvelopeError as exc:
                    gateway.invalid.append(f"{exc}: {str(raw)[:300]}")
                    continue
                if env.type == "ExecutionReport" and session.account_id in self.drop_next_report:
                    self.drop_next_report.discard(session.account_id)
                    connection.transport.abort()  # the frame dies with the connection
                    return
                if env.type == "InitRequest":
                    receipts = bool(env.payload.receipts)  # type: ignore[union-attr]
                refusals = self.refuse_intents.get(session.account_id)
                if env.type == "OrderIntent" and refusals:
                    await self._refuse(connection, session.account_id, env.id, refusals.pop(0))
                    return
                replies = []
                with gateway._cond:
                    acc = gateway._accounts[session.account_id]
                    acc.received.append(json.loads(env.model_dump_json(exclude_none=True)))
                    acc.arrivals.append(time.monotonic())
                    gateway._cond.notify_all()
                    backlog = []
                    if env.type == "InitRequest":
                        # a new connection gets what the EA has not acknowledged yet
                        ack_seq = env.payload.ack_seq  # type: ignore[union-attr]
                        backlog = [e for e in acc.outbox if e["seq"] > ack_seq]
                        replies.append(gateway._init_ack(session))
                    withheld = session.account_id in self.withhold_receipts
                    if receipts and not withheld and env.type in ("ExecutionReport", "OrderIntent"):
                        replies.append(gateway._env("Receipt", {"ids": [env.id]}))
                        self.receipts_sent.append(env.id)
                    for reply in replies:
                        gateway._append(acc, reply)
                    replies = backlog + acc.outbox[len(acc.outbox) - len(replies) :]
                for reply in replies:
                    await connection.send(json.dumps(reply))

        async def main() -> None:
            self._server = await serve(handler, "127.0.0.1", 0, process_request=check_token)
            self.port = self._server.sockets[0].getsockname()[1]
            self._ready.set()

        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(main())
        self._loop.run_forever()
        self._loop.close()
