"""Starts real `copygate serve` processes and speaks the wire contract to them.

Deliberately uses only plain `websockets` and `httpx` clients, as an external
client written from the wire contract would.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import websockets
from websockets.asyncio.client import ClientConnection

ADMIN_TOKEN = "e2e-admin-token"
ROOT = Path(__file__).resolve().parents[2]
_ids = itertools.count(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def envelope(kind: str, payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": kind, "id": f"ea-{next(_ids)}", "ts": now_ms(), "payload": payload, **extra}


def heartbeat(ack_seq: int = 0) -> dict[str, Any]:
    return envelope("StatusHeartbeat", {"ack_seq": ack_seq, "balance": 1000, "equity": 1000})


def init_request(ack_seq: int = 0) -> dict[str, Any]:
    return envelope(
        "InitRequest",
        {
            "ack_seq": ack_seq,
            "account": {"balance": 1000, "equity": 1000, "currency": "USD", "leverage": 100},
        },
    )


def order_command(ticket: int = 1, command_id: str | None = None) -> dict[str, Any]:
    return {
        "type": "OrderCommand",
        "payload": {
            "command_id": command_id or f"cmd-{secrets.token_hex(4)}",
            "action": "open",
            "symbol": "EURUSD",
            "side": "buy",
            "order_type": "market",
            "volume": 0.1,
            "master_ticket": ticket,
        },
    }


@dataclass
class Server:
    """One `copygate serve` process."""

    port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ea-gateway/v1/stream"

    def start(self, log_dir: Path) -> None:
        self.log_path = log_dir / f"server-{self.port}-{secrets.token_hex(2)}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gateway",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/healthz", timeout=0.5).status_code == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"server did not become ready:\n{self.log_path.read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def logs(self) -> str:
        return self.log_path.read_text() if self.log_path else ""


def server_env(redis_url: str | None, prefix: str, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYGATE_")}
    env.update(
        {
            "COPYGATE_ADMIN_TOKEN": ADMIN_TOKEN,
            "COPYGATE_HEARTBEAT_INTERVAL_S": "1",
            "COPYGATE_HEARTBEAT_TIMEOUT_S": "3",
            "COPYGATE_KEY_PREFIX": prefix,
            "COPYGATE_AUTH_PEPPER": "e2e-pepper-" + prefix,
            "COPYGATE_ARGON2_MEMORY_KIB": "1024",
            "COPYGATE_ARGON2_TIME_COST": "1",
            "COPYGATE_LOG_LEVEL": "INFO",
        }
    )
    if redis_url:
        env["COPYGATE_REDIS_URL"] = redis_url
    env.update(overrides)
    return env


@dataclass
class Admin:
    """Back-office client."""

    base_url: str
    token: str = ADMIN_TOKEN

    def _client(self) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.AsyncClient(base_url=self.base_url, timeout=10, headers=headers)

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async with self._client() as client:
            return await client.request(method, path, **kwargs)

    async def pending_key_id(self, account_id: str) -> str:
        response = await self.request("GET", "/admin/v1/keys", params={"status": "pending"})
        keys = [k for k in response.json()["keys"] if k["account_id"] == account_id]
        assert keys, f"no pending key for {account_id}: {response.text}"
        key_id: str = keys[-1]["key_id"]
        return key_id

    async def approve(self, key_id: str) -> httpx.Response:
        return await self.request("POST", f"/admin/v1/keys/{key_id}/approve")

    async def provision(self, account_id: str) -> str:
        response = await self.request("POST", f"/admin/v1/accounts/{account_id}/keys")
        assert response.status_code == 201, response.text
        key: str = response.json()["key"]
        return key

    async def put_account(self, account_id: str, role: str, tenant: str = "t1") -> None:
        response = await self.request(
            "PUT", f"/admin/v1/accounts/{account_id}", json={"tenant_id": tenant, "role": role}
        )
        assert response.status_code == 200, response.text

    async def queue(self, account_id: str, message: dict[str, Any]) -> dict[str, Any]:
        response = await self.request(
            "POST", f"/admin/v1/accounts/{account_id}/messages", json={"message": message}
        )
        assert response.status_code == 202, response.text
        body: dict[str, Any] = response.json()
        return body


@dataclass
class EA:
    """A minimal EA speaking the contract: session creation, then WS or poll."""

    base_url: str
    account_id: str
    key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    session: dict[str, Any] = field(default_factory=dict)

    async def create_session(self, expect: int = 201) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10) as client:
            response = await client.post(
                "/ea-gateway/v1/sessions",
                json={
                    "account_id": self.account_id,
                    "auth_method": "account_session_key",
                    "credentials": {"key": self.key},
                    "client": {"platform": "mt4", "ea_version": "1.0.0", "terminal_build": 1440},
                },
            )
        assert response.status_code == expect, response.text
        if response.status_code == 201:
            self.session = response.json()
        return response

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.session['session_token']}"}

    @contextlib.asynccontextmanager
    async def websocket(self, url: str) -> AsyncIterator[WsEA]:
        async with websockets.connect(
            url, additional_headers=self.auth, compression=None, max_size=2**20
        ) as ws:
            yield WsEA(ws)

    async def exchange(
        self, messages: list[dict[str, Any]] | None = None, ack_seq: int = 0, wait_ms: int = 0
    ) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=40) as client:
            return await client.post(
                f"/ea-gateway/v1/sessions/{self.session['session_id']}/exchange",
                headers=self.auth,
                json={"messages": messages or [], "ack_seq": ack_seq, "wait_ms": wait_ms},
            )


@dataclass
class WsEA:
    ws: ClientConnection

    async def send(self, message: dict[str, Any] | str | bytes) -> None:
        if isinstance(message, dict):
            await self.ws.send(orjson.dumps(message).decode())
        else:
            await self.ws.send(message)

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        message: dict[str, Any] = orjson.loads(raw)
        return message

    async def recv_type(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            message = await self.recv(max(remaining, 0.01))
            if message["type"] == kind:
                return message

    async def expect_silence(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            message = await asyncio.wait_for(self.ws.recv(), seconds)
            raise AssertionError(f"expected nothing, got {message!r}")

    async def wait_closed(self, timeout: float = 10.0) -> int | None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async with asyncio.timeout(timeout):
                while True:
                    await self.ws.recv()
        return self.ws.close_code
