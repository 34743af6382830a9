"""What the store recorded during a fault-suite run, read back after it.

* every entry of the copier's streams (the messages the gateway *accepted*, with
  the session each came from), in stream order, for the run's accounts;
* every session record of the run's accounts (generation, creation, close).

`bench._chaos_check` checks the fencing invariants on them: at most one live
session per account at every instant, no message accepted from a stale
generation. Stream names are found by type (``SCAN ... TYPE stream``), so a
partitioned layout reads the same way.
"""

from __future__ import annotations

from typing import Any, cast

import orjson
import redis.asyncio as aioredis

from bench._chaos_check import Accepted, SessionSpan
from gateway.store.session_creation import session_from_hash

__all__ = ["copier_streams", "evidence", "read_store_history"]

_SCAN_COUNT = 1000


async def copier_streams(client: aioredis.Redis, prefix: str) -> list[str]:
    """The streams under `prefix` that have consumer groups (the copier reads them)."""
    out = []
    async for raw in client.scan_iter(match=f"{prefix}:*", count=_SCAN_COUNT, _type="stream"):
        if await client.xinfo_groups(raw):
            out.append(raw.decode())
    return sorted(out)


def _envelope_id(body: bytes | None) -> str:
    try:
        value = orjson.loads(body or b"{}").get("id", "")
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


async def read_store_history(
    redis_url: str, prefix: str, run: str, accounts: set[str], since_ms: int
) -> tuple[list[Accepted], list[SessionSpan]]:
    """Accepted messages since `since_ms` and session records of `run`'s accounts.

    `run` is the accounts' common id prefix (``c<seed>``): session keys are
    found with one ``SCAN`` over ``<prefix>:{<run>-*}:session:*``.
    """
    client = aioredis.Redis.from_url(redis_url)
    try:
        accepted: list[Accepted] = []
        for name in await copier_streams(client, prefix):
            entries: list[tuple[Any, dict[bytes, bytes]]] = cast(
                Any, await client.xrange(name, min=f"{since_ms}-0")
            )
            for _entry_id, fields in entries:
                account = fields.get(b"account_id", b"").decode()
                if account in accounts:
                    accepted.append(
                        Accepted(
                            name,
                            account,
                            fields.get(b"session_id", b"").decode(),
                            _envelope_id(fields.get(b"body")),
                        )
                    )
        sessions: list[SessionSpan] = []
        pattern = f"{prefix}:{{{run}-*}}:session:*"
        async for key in client.scan_iter(match=pattern, count=_SCAN_COUNT):
            raw_record: dict[bytes, bytes] = cast(Any, await client.hgetall(key))
            if not raw_record or b"token_hash" not in raw_record:
                continue
            record = session_from_hash(raw_record)
            if record.account_id in accounts:
                sessions.append(
                    SessionSpan(
                        record.account_id,
                        record.session_id,
                        record.generation,
                        record.created_ms,
                        record.closed_ms,
                        record.closed_reason,
                    )
                )
        return accepted, sessions
    finally:
        await client.aclose()


async def evidence(
    redis_url: str,
    prefix: str,
    base_url: str,
    admin_token: str,
    broken: list[tuple[str, str, int]],
    since_ms: int,
) -> list[dict[str, object]]:
    """For position violations (follower, master, master ticket): the master's stream
    entries since `since_ms` and the follower's copy records, to debug a failing seed
    after its deployment is gone."""
    import httpx

    client = aioredis.Redis.from_url(redis_url)
    out: list[dict[str, object]] = []
    try:
        masters = {master for _f, master, _t in broken}
        intents: dict[str, list[dict[str, Any]]] = {m: [] for m in masters}
        for raw in await copier_streams(client, prefix):
            entries: list[tuple[Any, dict[bytes, bytes]]] = cast(
                Any, await client.xrange(raw, min=f"{since_ms}-0")
            )
            for entry_id, fields in entries:
                account = fields.get(b"account_id", b"").decode()
                if account in masters:
                    body = orjson.loads(fields.get(b"body") or b"{}")
                    intents[account].append(
                        {
                            "stream": raw.rsplit(":", 1)[-1],
                            "entry": entry_id.decode(),
                            "session": fields.get(b"session_id", b"").decode()[:6],
                            "type": body.get("type"),
                            "id": body.get("id"),
                            "ts": body.get("ts"),
                            "payload": body.get("payload"),
                        }
                    )
    finally:
        await client.aclose()
    async with httpx.AsyncClient(timeout=5) as http:
        for follower, master, ticket in broken[:4]:
            rows: Any = []
            try:
                response = await http.get(
                    f"{base_url}/admin/v1/accounts/{follower}/copies",
                    params={"limit": 500},
                    headers={"authorization": f"Bearer {admin_token}"},
                )
                rows = response.json()
            except (httpx.HTTPError, ValueError):
                pass
            copies = rows if isinstance(rows, list) else rows.get("copies", [])
            out.append(
                {
                    "follower": follower,
                    "master": master,
                    "ticket": ticket,
                    "copies": [c for c in copies if c.get("master_id") == master],
                    "master_entries": intents.get(master, []),
                }
            )
    return out
