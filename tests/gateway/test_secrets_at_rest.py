"""No secret is ever stored or logged in clear.

A full scenario runs on the real app (embedded store, and real Redis under a
prefix of its own): the bootstrap admin token, a tenant-admin token (issued,
used, revoked), a provisioned key and a first-launch key (pending, approved by
the tenant), EA sessions and their tokens, a reconnect on the fast path, an OAuth
client-credentials session (its access token, and a client secret a careless EA
also sent), copy traffic over the poll transport. Then every key of the store is
dumped, whatever its type, and every log record at DEBUG level is formatted: no
secret may appear in either, as sent or lower-cased.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from gateway.app import create_app
from gateway.auth.oauth import OAuthClientCredentialsStrategy, TokenIntrospection
from tests.copier.worker.world import EURUSD
from tests.gateway.inprocess import BACKOFFICE, rules_settings

ACCESS_TOKEN = "oauth-access-" + secrets.token_urlsafe(24)
CLIENT_SECRET = "oauth-client-secret-" + secrets.token_urlsafe(24)
PEPPER = "pepper-" + secrets.token_urlsafe(24)


class Introspector:
    """The identity provider: knows one access token, issued to client o1."""

    async def introspect(self, token: str) -> TokenIntrospection:
        return TokenIntrospection(active=token == ACCESS_TOKEN, client_id="o1")


async def dump(redis: aioredis.Redis, prefix: str) -> bytes:
    """Every key name and value under `prefix`, whatever its type, as one blob."""
    parts: list[bytes] = []
    async for name in redis.scan_iter(match=f"{prefix}:*", count=1000):
        kind = (await redis.type(name)).decode()
        parts.append(name)
        if kind == "string":
            parts.append(await redis.get(name) or b"")
        elif kind == "hash":
            parts += [b for pair in (await redis.hgetall(name)).items() for b in pair]
        elif kind == "list":
            parts += await redis.lrange(name, 0, -1)
        elif kind == "set":
            parts += list(await redis.smembers(name))
        elif kind == "zset":
            parts += [m for m, _ in await redis.zrange(name, 0, -1, withscores=True)]
        elif kind == "stream":
            for _, fields in await redis.xrange(name):
                parts += [b for pair in fields.items() for b in pair]
        else:
            pytest.fail(f"unexpected key type {kind} of {name!r}")
    return b"\n".join(parts)


class Scenario:
    """The app and what the scenario handed out."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.secrets: dict[str, str] = {"bootstrap admin token": BACKOFFICE, "pepper": PEPPER}

    async def call(self, method: str, path: str, token: str = BACKOFFICE, **kw: Any) -> Any:
        response = await self.client.request(
            method, path, headers={"authorization": f"Bearer {token}"}, **kw
        )
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    async def session(
        self, account: str, method: str, credentials: dict[str, str]
    ) -> dict[str, Any]:
        created = await self.client.post(
            "/ea-gateway/v1/sessions",
            json={"account_id": account, "auth_method": method, "credentials": credentials},
        )
        assert created.status_code == 201, created.text
        body: dict[str, Any] = created.json()
        self.secrets[f"session token of {account} ({len(self.secrets)})"] = body["session_token"]
        return body

    async def exchange(
        self, session: dict[str, Any], *messages: dict[str, Any], wait_ms: int = 0
    ) -> Any:
        return await self.call(
            "POST",
            f"/ea-gateway/v1/sessions/{session['session_id']}/exchange",
            session["session_token"],
            json={"messages": list(messages), "wait_ms": wait_ms},
        )

    async def run(self) -> None:
        tenant = await self.call("POST", "/admin/v1/tenants/t1/tokens", json={"label": "ops"})
        self.secrets["tenant token"] = tenant["token"]
        await self.call(
            "PUT",
            "/admin/v1/accounts/m1",
            tenant["token"],
            json={"tenant_id": "t1", "role": "master"},
        )
        await self.call(
            "PUT",
            "/admin/v1/accounts/f1",
            tenant["token"],
            json={"tenant_id": "t1", "role": "follower"},
        )
        await self.call("PUT", "/admin/v1/accounts/f1/subscriptions/m1", tenant["token"], json={})
        provisioned = await self.call("POST", "/admin/v1/accounts/m1/keys", tenant["token"])
        self.secrets["provisioned key"] = provisioned["key"]
        first_launch = "ea-generated-" + secrets.token_urlsafe(24)
        self.secrets["first-launch key"] = first_launch
        follower = await self.session("f1", "account_session_key", {"key": first_launch})
        pending = await self.call("GET", "/admin/v1/keys", params={"status": "pending"})
        await self.call(
            "POST", f"/admin/v1/keys/{pending['keys'][0]['key_id']}/approve", tenant["token"]
        )
        master = await self.session("m1", "account_session_key", {"key": provisioned["key"]})
        master = await self.session(
            "m1", "account_session_key", {"key": provisioned["key"]}
        )  # fast path
        self.secrets["oauth access token"] = ACCESS_TOKEN
        self.secrets["oauth client secret"] = CLIENT_SECRET
        await self.session(
            "o1",
            "oauth_client_credentials",
            {"access_token": ACCESS_TOKEN, "client_secret": CLIENT_SECRET},
        )
        init = {
            "type": "InitRequest",
            "id": "i1",
            "ts": 1,
            "payload": {
                "ack_seq": 0,
                "account": {"balance": 1000, "equity": 1000},
                "symbols": [EURUSD],
            },
        }
        await self.exchange(master, {**init, "id": "i-m"})
        await self.exchange(follower, {**init, "id": "i-f"})
        intent = {
            "type": "OrderIntent",
            "id": "o1",
            "ts": 1,
            "payload": {
                "action": "open",
                "ticket": 1,
                "symbol": "EURUSD",
                "side": "buy",
                "order_type": "market",
                "volume": 0.1,
                "price": 1.1,
            },
        }
        await self.exchange(master, intent)
        command = None
        for _ in range(50):
            got = await self.exchange(follower, wait_ms=200)
            command = next((m for m in got["messages"] if m["type"] == "OrderCommand"), None)
            if command:
                break
        assert command is not None, "the copy never arrived"
        report = {
            "type": "ExecutionReport",
            "id": "r1",
            "ts": 1,
            "payload": {
                "command_id": command["payload"]["command_id"],
                "status": "filled",
                "ticket": 9,
                "volume": 0.1,
                "price": 1.1,
            },
        }
        await self.exchange(follower, report)
        await self.call("DELETE", f"/admin/v1/tenants/t1/tokens/{tenant['token_id']}")
        await asyncio.sleep(0.2)  # the copier applies the report


@pytest.fixture(params=["embedded", "redis"])
async def scenario(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture, real_redis_url: str
) -> AsyncIterator[tuple[Scenario, aioredis.Redis, str]]:
    """The scenario run on the embedded store, or on the real Redis under its own prefix."""
    caplog.set_level(logging.DEBUG)
    prefix = f"cgsecrets-{secrets.token_hex(4)}"
    redis_url = real_redis_url if request.param == "redis" else None
    app = create_app(rules_settings(auth_pepper=PEPPER, key_prefix=prefix, redis_url=redis_url))
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        runtime.auth.register(OAuthClientCredentialsStrategy(Introspector()))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            run = Scenario(client)
            await run.run()
            yield run, runtime.store.redis, prefix
            async for name in runtime.store.redis.scan_iter(match=f"{prefix}:*", count=1000):
                await runtime.store.redis.delete(name)


async def test_no_secret_is_stored_in_clear(
    scenario: tuple[Scenario, aioredis.Redis, str],
) -> None:
    run, redis, prefix = scenario
    stored = await dump(redis, prefix)
    assert len(stored) > 1000  # the scenario did store things
    leaked = [
        name
        for name, secret in run.secrets.items()
        if secret.encode() in stored or secret.lower().encode() in stored.lower()
    ]
    assert leaked == []


async def test_no_secret_is_logged(
    scenario: tuple[Scenario, aioredis.Redis, str], caplog: pytest.LogCaptureFixture
) -> None:
    run, _, _ = scenario
    records = caplog.get_records("setup") + caplog.get_records("call")
    lines = []
    for record in records:
        lines.append(record.getMessage())
        if record.exc_info:
            lines.append(logging.Formatter().formatException(record.exc_info))
    text = "\n".join(lines)
    assert len(records) > 10  # the scenario did log things
    leaked = [name for name, secret in run.secrets.items() if secret in text]
    assert leaked == []
