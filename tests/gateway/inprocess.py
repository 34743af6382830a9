"""The real app on the embedded store, driven in-process over ASGI (no sockets).

`Api` speaks REST as an operator or an EA would; tokens are plain strings so the
tests can name who is calling (`api.bo`, a tenant token, none, a wrong one).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx

from gateway.settings import Settings

__all__ = ["BACKOFFICE", "Api", "rules_settings"]

BACKOFFICE = "admin-rules-backoffice"


@dataclass
class Api:
    """An in-process client of one app, with helpers for the usual set-up steps."""

    client: httpx.AsyncClient  #: ASGI client of the app
    bo: str = BACKOFFICE  #: the back-office token
    tenants: dict[str, str] = field(default_factory=dict)  #: tenant -> its admin token

    async def call(
        self, method: str, path: str, token: str | None = BACKOFFICE, **kwargs: Any
    ) -> httpx.Response:
        """One request; `token=None` sends no Authorization header."""
        headers = {} if token is None else {"authorization": f"Bearer {token}"}
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def tenant(self, tenant_id: str) -> str:
        """A tenant-admin token of `tenant_id` (issued once, then reused)."""
        if tenant_id not in self.tenants:
            issued = await self.call("POST", f"/admin/v1/tenants/{tenant_id}/tokens", json={})
            assert issued.status_code == 201, issued.text
            self.tenants[tenant_id] = issued.json()["token"]
        return self.tenants[tenant_id]

    async def account(self, account_id: str, role: str, tenant: str = "t1") -> None:
        """Configure an account (as the back-office)."""
        put = await self.call(
            "PUT", f"/admin/v1/accounts/{account_id}", json={"tenant_id": tenant, "role": role}
        )
        assert put.status_code == 200, put.text

    async def subscribe(
        self, follower: str, master: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        """PUT a subscription (as the back-office)."""
        return await self.call(
            "PUT", f"/admin/v1/accounts/{follower}/subscriptions/{master}", json=body or {}
        )

    async def first_launch(self, account_id: str) -> httpx.Response:
        """An EA presents a never-seen key: a pending key and a pending session."""
        return await self.client.post(
            "/ea-gateway/v1/sessions",
            json={
                "account_id": account_id,
                "auth_method": "account_session_key",
                "credentials": {"key": secrets.token_urlsafe(24)},
            },
        )

    async def keyed_session(self, account_id: str) -> dict[str, Any]:
        """A provisioned key and an authenticated session with it (session_id, session_token)."""
        key = (await self.call("POST", f"/admin/v1/accounts/{account_id}/keys")).json()["key"]
        created = await self.client.post(
            "/ea-gateway/v1/sessions",
            json={
                "account_id": account_id,
                "auth_method": "account_session_key",
                "credentials": {"key": key},
            },
        )
        assert created.status_code == 201, created.text
        session: dict[str, Any] = created.json()
        return session

    async def exchange(self, session: dict[str, Any], body: bytes) -> httpx.Response:
        """One poll exchange of `session` with a raw JSON body."""
        return await self.client.post(
            f"/ea-gateway/v1/sessions/{session['session_id']}/exchange",
            content=body,
            headers={
                "authorization": f"Bearer {session['session_token']}",
                "content-type": "application/json",
            },
        )

    async def pending_key(self, account_id: str) -> str:
        """The id of the account's pending key."""
        listed = await self.call("GET", "/admin/v1/keys", params={"status": "pending"})
        (key_id,) = [k["key_id"] for k in listed.json()["keys"] if k["account_id"] == account_id]
        return str(key_id)


def rules_settings(**overrides: Any) -> Settings:
    """Fast settings for in-process tests (tiny argon2, no rate limit in the way)."""
    values: dict[str, Any] = {
        "admin_token": BACKOFFICE,
        "argon2_memory_kib": 8,
        "argon2_time_cost": 1,
        "session_create_limit": 10**6,
        **overrides,
    }
    return Settings(**values)
