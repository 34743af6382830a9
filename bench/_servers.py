"""Helpers shared by the benchmarks: start servers in their own processes, percentiles."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of `values` (pct in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary_ms(samples_s: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples_s]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "p999_ms": round(percentile(ms, 99.9), 3),
        "max_ms": round(max(ms), 3) if ms else float("nan"),
    }


def wait_http(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=0.5).status_code < 500:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


@contextlib.contextmanager
def gateway_process(redis_url: str | None, **env: str) -> Iterator[tuple[str, dict[str, str]]]:
    """A `copygate serve` process on a free port; yields (base_url, its env)."""
    port = free_port()
    prefix = f"cgbench-{secrets.token_hex(3)}"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("COPYGATE_")}
    full_env.update(
        {
            "COPYGATE_ADMIN_TOKEN": "bench-admin",
            "COPYGATE_KEY_PREFIX": prefix,
            "COPYGATE_AUTH_PEPPER": "bench-pepper-" + prefix,
            "COPYGATE_SESSION_CREATE_LIMIT": "1000000",
            "COPYGATE_MAX_PENDING_KEYS_PER_ACCOUNT": "3",
            "COPYGATE_LOG_LEVEL": "WARNING",
        }
    )
    if redis_url:
        full_env["COPYGATE_REDIS_URL"] = redis_url
    full_env.update(env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
        env=full_env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}", full_env
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if redis_url:
            import redis

            client = redis.Redis.from_url(redis_url)
            for name in client.scan_iter(match=f"{prefix}:*", count=1000):
                client.delete(name)


@contextlib.contextmanager
def python_process(code: str, port: int) -> Iterator[None]:
    """Run a small floor server (Python source) in its own process on `port`."""
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        proc.wait(10)


class RawHttpConnection:
    """A minimal keep-alive HTTP/1.1 client: the load generator must cost far less than
    the server it measures (httpx does not, at hundreds of requests per second)."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host  #: server host
        self.port = port  #: server port
        self.reader: asyncio.StreamReader | None = None  #: open connection, read side
        self.writer: asyncio.StreamWriter | None = None  #: open connection, write side

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.host}",
            f"Content-Length: {len(body)}",
            "Content-Type: application/json",
        ]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
