"""A Redis outage gives EAs a clear error, never a crash, and service resumes after it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import httpx

from tests.e2e.conftest import ServerFactory
from tests.e2e.harness import EA, Admin, free_port, heartbeat, init_request


@contextlib.contextmanager
def private_redis(port: int) -> Iterator[str]:
    """A throw-away redis-server of our own on `port`, so the test can stop it."""
    args = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        tempfile.mkdtemp(prefix="cg-redis-"),
    ]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.1):
                break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def shutdown_redis(port: int) -> None:
    subprocess.run(
        ["redis-cli", "-p", str(port), "shutdown", "nosave"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )


async def test_redis_outage_gives_clear_errors_and_service_resumes(
    start_server: ServerFactory,
) -> None:
    port = free_port()
    with private_redis(port) as url:
        await _outage_then_recovery(start_server, url, port)


async def _outage_then_recovery(start_server: ServerFactory, url: str, port: int) -> None:
    server = start_server(COPYGATE_REDIS_URL=url)
    admin = Admin(server.base_url)
    key = await admin.provision("acct-outage")
    ea = EA(server.base_url, "acct-outage", key=key)
    await ea.create_session()
    async with ea.websocket(server.ws_url) as ws:
        await ws.send(init_request())
        await ws.recv_type("InitAck")
        shutdown_redis(port)
        await asyncio.sleep(0.2)
        await ws.send(heartbeat())
        notice = await ws.recv_type("ShutdownNotice")
        assert notice["payload"]["reason"] == "store_unavailable"
        assert notice["payload"]["reconnect_after_s"] > 0
        assert await ws.wait_closed() == 4004

    response = await EA(server.base_url, "acct-outage", key=key).create_session(expect=503)
    assert response.json()["error"]["code"] == "store_unavailable"
    assert int(response.headers["Retry-After"]) >= 1
    poll = await ea.exchange([heartbeat()])
    assert poll.status_code == 503
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        assert (await client.get("/healthz")).status_code == 200  # the process is alive

    with private_redis(port):
        # state was lost with that Redis (no persistence), but the gateway serves again
        key2 = await admin.provision("acct-outage")
        again = EA(server.base_url, "acct-outage", key=key2)
        await again.create_session()
        assert again.session["state"] == "authenticated"
