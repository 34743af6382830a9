"""Helpers shared by the benchmarks: servers in their own processes, /proc sampling, percentiles."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def gateway_env(redis_url: str | None, **env: str) -> dict[str, str]:
    """The environment of a benchmark gateway: a fresh key prefix and a stable pepper."""
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
    return full_env


class GatewayServer:
    """One `copygate serve` process that can be stopped and started again on its port.

    The key prefix and the pepper stay the same across restarts (a restart of the
    same deployment); `cleanup` deletes every key under the prefix.
    """

    def __init__(self, redis_url: str | None, **env: str) -> None:
        self.redis_url = redis_url  #: Redis of the gateway (None: embedded store)
        self.env = gateway_env(redis_url, **env)  #: its environment
        self.port = free_port()  #: its TCP port, kept across restarts
        self.proc: subprocess.Popen[bytes] | None = None  #: the running process
        #: the processes' stderr (warnings and errors), appended across restarts
        self.log_path = Path(tempfile.gettempdir()) / f"{self.env['COPYGATE_KEY_PREFIX']}.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ea-gateway/v1/stream"

    @property
    def prefix(self) -> str:
        return self.env["COPYGATE_KEY_PREFIX"]

    def start(self, **overrides: str) -> None:
        """Start the process (with env `overrides` for this run only) and wait for it."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--port", str(self.port)],
            env={**self.env, **overrides},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=self.log_path.open("ab"),
            preexec_fn=raise_fd_limit,
        )
        wait_http(f"{self.base_url}/healthz")

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM, wait for the exit (SIGKILL after `timeout`)."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def cleanup(self) -> None:
        if self.redis_url:
            import redis

            client = redis.Redis.from_url(self.redis_url)
            names = list(client.scan_iter(match=f"{self.prefix}:*", count=5000))
            for start in range(0, len(names), 1000):
                client.delete(*names[start : start + 1000])


@contextlib.contextmanager
def gateway_server(redis_url: str | None, **env: str) -> Iterator[GatewayServer]:
    """A started `GatewayServer`; stopped and its keys deleted afterwards."""
    server = GatewayServer(redis_url, **env)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        server.cleanup()


@contextlib.contextmanager
def gateway_process(redis_url: str | None, **env: str) -> Iterator[tuple[str, dict[str, str]]]:
    """A `copygate serve` process on a free port; yields (base_url, its env)."""
    with gateway_server(redis_url, **env) as server:
        yield server.base_url, server.env


def raise_fd_limit() -> None:
    """Raise this process's open-file limit to its hard limit (10,000 sockets need it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@dataclasses.dataclass(frozen=True)
class ProcSample:
    """RSS and CPU time of a process at one instant (from /proc)."""

    at: float  #: time.monotonic()
    rss_kib: int  #: VmRSS
    cpu_s: float  #: user + system CPU seconds so far


def proc_sample(pid: int) -> ProcSample:
    """Read /proc/<pid>/status and /proc/<pid>/stat."""
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return ProcSample(time.monotonic(), rss, ticks / os.sysconf("SC_CLK_TCK"))


def cpu_percent(before: ProcSample, after: ProcSample) -> float:
    """CPU used between two samples, in % of one core."""
    return 100 * (after.cpu_s - before.cpu_s) / (after.at - before.at)


def progress(label: str, done: int, total: int) -> None:
    """A one-line progress counter on stderr."""
    sys.stderr.write(f"\r{label}: {done}/{total}")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def machine() -> dict[str, object]:
    """Cores, memory, Python, platform and the load average at the start."""
    import platform

    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg": list(os.getloadavg()),
    }


@contextlib.contextmanager
def python_process(code: str, port: int) -> Iterator[None]:
    """Run a small floor server (Python source) in its own process on `port`."""
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=raise_fd_limit,
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


@contextlib.contextmanager
def standalone_copier(env: dict[str, str], workers: int = 1) -> Iterator[list[int]]:
    """A `copygate copier` process with a gateway's environment (same Redis and prefix);
    yields its pid (in a list, for CPU sampling)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "copier", "--workers", str(workers)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield [proc.pid]
    finally:
        proc.terminate()
        proc.wait(10)


def add_server_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """`--standalone-copier`, `--redis-url` and `--out` (bench/results/<name>.json)."""
    parser.add_argument(
        "--standalone-copier",
        action="store_true",
        help="plan in a `copygate copier` process instead of the gateway's",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--out", type=Path, default=Path(f"bench/results/{name}.json"))


def write_results(out: Path, results: dict[str, Any]) -> None:
    """Write a benchmark's results to `out` (as JSON) and print them."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


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
        if not status_line:  # a keep-alive connection the server has closed (a restart)
            self.reader = self.writer = None
            raise ConnectionResetError("server closed the keep-alive connection")
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


async def open_sessions(sessions: Any, accounts: list[str], *, now_ms: int = 1) -> None:
    """An active session (`s-<account>`, one hour of heartbeat timeout) for every account."""
    for account in accounts:
        await sessions.create_session(
            account_id=account,
            session_id=f"s-{account}",
            token_hash="h",
            key_id="k",
            authenticated=True,
            now_ms=now_ms,
            heartbeat_timeout_ms=3_600_000,
            max_pending_sessions=3,
        )
