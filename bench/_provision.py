"""Provision benchmark accounts through the admin API: roles, subscriptions, keys."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import orjson
from _servers import GatewayServer, RawHttpConnection, progress

__all__ = ["ADMIN_HEADERS", "CHEAP_ARGON2", "provision", "provisioned_gateway"]

#: The bench gateways' back-office token (see `_servers.gateway_env`).
ADMIN_HEADERS = {"Authorization": "Bearer bench-admin"}


async def provision(
    base_url: str,
    accounts: list[str],
    *,
    role: str | None = None,
    master: str | None = None,
    concurrency: int = 16,
    label: str = "provisioning",
) -> list[tuple[str, str]]:
    """For each account: PUT the account (when `role`), subscribe it to `master` (mirror
    x1, defaults), and provision an approved key. Returns (account, key) in order."""
    host, port = base_url.removeprefix("http://").split(":")
    keys: dict[str, str] = {}
    todo = list(accounts)

    async def call(conn: RawHttpConnection, method: str, path: str, body: bytes) -> bytes:
        status, answer = await conn.request(method, path, body, ADMIN_HEADERS)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {answer[:200]!r}")
        return answer

    async def worker() -> None:
        conn = RawHttpConnection(host, int(port))
        try:
            while todo:
                account = todo.pop()
                if role is not None:
                    body = orjson.dumps({"tenant_id": "bench", "role": role})
                    await call(conn, "PUT", f"/admin/v1/accounts/{account}", body)
                if master is not None:
                    path = f"/admin/v1/accounts/{account}/subscriptions/{master}"
                    await call(conn, "PUT", path, b"{}")
                answer = await call(conn, "POST", f"/admin/v1/accounts/{account}/keys", b"")
                keys[account] = orjson.loads(answer)["key"]
                if len(keys) % 100 == 0 or len(keys) == len(accounts):
                    progress(label, len(keys), len(accounts))
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return [(a, keys[a]) for a in accounts]


#: argon2id parameters of the provisioning run only (keys are hashed once there; the
#: measured run never verifies a hash: every session takes the fingerprint fast path).
CHEAP_ARGON2 = {"COPYGATE_ARGON2_MEMORY_KIB": "1024", "COPYGATE_ARGON2_TIME_COST": "1"}


@contextlib.contextmanager
def provisioned_gateway(redis_url: str, n: int) -> Iterator[tuple[GatewayServer, list[Any]]]:
    """A gateway with `n` accounts holding provisioned keys, restarted fresh for measuring.

    Keys are provisioned by a first run of the process with cheap argon2 parameters
    (10,000 OWASP hashes would take minutes); then the process is restarted with the
    defaults (OWASP argon2id, same prefix and pepper), which is what gets measured.
    """
    server = GatewayServer(redis_url)
    try:
        server.start(**CHEAP_ARGON2)
        accounts = [f"ea{i:05d}" for i in range(n)]
        eas = asyncio.run(provision(server.base_url, accounts, concurrency=32, label="keys"))
        server.stop()
        server.start()
        yield server, eas
    finally:
        server.stop()
        server.cleanup()
