"""Who may call which admin route: every route x every caller, from the route table.

The cases are generated from the app's Starlette route table, so a route added
without an expectation here fails `test_every_route_has_an_expectation` (and its
matrix cases fail with "no expectation"). Callers: the back-office, a tenant admin
of the tenant owning the accounts in the path (t1), one of another tenant (t2), no
token, a malformed/unknown token, and a revoked tenant token. Each case runs on a
fresh app, so destructive calls (DELETE) never see another case's effects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.routing import Mount, Route, WebSocketRoute

from gateway.app import create_app
from tests.gateway.inprocess import Api, rules_settings

CALLERS = ("backoffice", "owner", "other_tenant", "no_token", "bad_token", "revoked_token")


@dataclass(frozen=True)
class Expect:
    """A route's concrete request and the status each allowed caller gets.

    The three unauthenticated callers always get 401.
    """

    path: str  #: the path with this world's ids filled in
    backoffice: int
    owner: int
    other_tenant: int
    body: dict[str, Any] | None = None
    params: dict[str, str] = field(default_factory=dict)

    def status(self, caller: str) -> int:
        if caller in ("no_token", "bad_token", "revoked_token"):
            return 401
        status: int = getattr(self, caller)
        return status


SYNC = {"message": {"type": "SyncSnapshot", "payload": {"request_id": "r1"}}}
F1 = {"tenant_id": "t1", "role": "follower"}

#: (method, route path) -> the request made and the statuses expected.
EXPECTED: dict[tuple[str, str], Expect] = {
    ("GET", "/admin/v1/keys"): Expect("/admin/v1/keys", 200, 200, 200),
    ("POST", "/admin/v1/keys/{key_id}/{decision}"): Expect(
        "/admin/v1/keys/{key_id}/approve", 200, 200, 403
    ),
    ("POST", "/admin/v1/accounts/{account_id}/keys"): Expect(
        "/admin/v1/accounts/f1/keys", 201, 201, 403
    ),
    ("PUT", "/admin/v1/accounts/{account_id}"): Expect("/admin/v1/accounts/f1", 200, 200, 403, F1),
    ("GET", "/admin/v1/accounts/{account_id}"): Expect("/admin/v1/accounts/f1", 200, 200, 403),
    ("POST", "/admin/v1/accounts/{account_id}/messages"): Expect(
        "/admin/v1/accounts/f1/messages", 202, 202, 403, SYNC
    ),
    ("GET", "/admin/v1/sessions"): Expect("/admin/v1/sessions", 200, 200, 200),
    ("DELETE", "/admin/v1/sessions/{session_id}"): Expect(
        "/admin/v1/sessions/{session_id}", 200, 200, 403
    ),
    ("POST", "/admin/v1/tenants/{tenant_id}/tokens"): Expect(
        "/admin/v1/tenants/t1/tokens", 201, 403, 403, {}
    ),
    ("DELETE", "/admin/v1/tenants/{tenant_id}/tokens/{token_id}"): Expect(
        "/admin/v1/tenants/t1/tokens/{spare_token_id}", 204, 403, 403
    ),
    ("PUT", "/admin/v1/accounts/{follower_id}/subscriptions/{master_id}"): Expect(
        "/admin/v1/accounts/f1/subscriptions/m1", 200, 200, 403, {}
    ),
    ("GET", "/admin/v1/accounts/{follower_id}/subscriptions/{master_id}"): Expect(
        "/admin/v1/accounts/f1/subscriptions/m1", 200, 200, 403
    ),
    ("DELETE", "/admin/v1/accounts/{follower_id}/subscriptions/{master_id}"): Expect(
        "/admin/v1/accounts/f1/subscriptions/m1", 204, 204, 403
    ),
    ("GET", "/admin/v1/accounts/{follower_id}/subscriptions"): Expect(
        "/admin/v1/accounts/f1/subscriptions", 200, 200, 403
    ),
    ("GET", "/admin/v1/accounts/{follower_id}/copies"): Expect(
        "/admin/v1/accounts/f1/copies", 200, 200, 403
    ),
    ("GET", "/admin/v1/audit"): Expect(
        "/admin/v1/audit", 200, 200, 403, params={"account_id": "f1"}
    ),
    ("GET", "/admin/v1/accounts"): Expect("/admin/v1/accounts", 200, 200, 200),
    ("GET", "/admin/v1/health"): Expect("/admin/v1/health", 200, 200, 200),
    ("GET", "/admin/v1/copier/backlog"): Expect("/admin/v1/copier/backlog", 200, 403, 403),
    ("GET", "/admin/v1/copier/dead-letters"): Expect(
        "/admin/v1/copier/dead-letters", 200, 403, 403
    ),
}

#: Routes that are not admin routes (their own auth, or public), by (method, path).
NOT_ADMIN = {
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/metrics.json"),
    ("GET", "/openapi.json"),
    ("GET", "/asyncapi.json"),
    ("GET", "/docs"),
    ("POST", "/ea-gateway/v1/sessions/{session_id}/close"),
    ("GET", "/console"),  # the page; it calls the admin API with the signed-in token
    ("MOUNT", "/console/static"),
    # an endless event stream: its 401s and tenant scope are tested in
    # tests/e2e/test_console_api.py
    ("GET", "/admin/v1/console/events"),
    ("POST", "/ea-gateway/v1/sessions"),
    ("DELETE", "/ea-gateway/v1/sessions/{session_id}"),
    ("POST", "/ea-gateway/v1/sessions/{session_id}/exchange"),
    ("WS", "/ea-gateway/v1/stream"),
}


def route_table() -> list[tuple[str, str]]:
    """(method, path) of every route of the app, as Starlette lists them."""
    found: list[tuple[str, str]] = []
    for route in create_app(rules_settings()).routes:
        if isinstance(route, WebSocketRoute):
            found.append(("WS", route.path))
        elif isinstance(route, Route):
            methods = sorted((route.methods or {"GET"}) - {"HEAD"})
            found += [(method, route.path) for method in methods]
        elif isinstance(route, Mount):
            found.append(("MOUNT", route.path))
        else:
            found.append((type(route).__name__, getattr(route, "path", "?")))
    return found


ADMIN_ROUTES = [r for r in route_table() if r not in NOT_ADMIN]


def test_every_route_has_an_expectation() -> None:
    unclassified = [r for r in route_table() if r not in NOT_ADMIN and r not in EXPECTED]
    assert unclassified == [], f"add these routes to EXPECTED or NOT_ADMIN: {unclassified}"
    stale = [r for r in EXPECTED if r not in route_table()]
    assert stale == [], f"EXPECTED names routes the app no longer has: {stale}"


async def world(api: Api) -> dict[str, str]:
    """Two tenants' accounts, a subscription, a key, a live session, tokens."""
    await api.account("f1", "follower", tenant="t1")
    await api.account("m1", "master", tenant="t1")
    await api.account("x2", "follower", tenant="t2")
    assert (await api.subscribe("f1", "m1")).status_code == 200
    provisioned = await api.call("POST", "/admin/v1/accounts/f1/keys")
    key_id, key = provisioned.json()["key_id"], provisioned.json()["key"]
    session = await api.client.post(
        "/ea-gateway/v1/sessions",
        json={
            "account_id": "f1",
            "auth_method": "account_session_key",
            "credentials": {"key": key},
        },
    )
    tokens: dict[str, str] = {}
    for name, tenant in (
        ("owner", "t1"),
        ("other_tenant", "t2"),
        ("revoked", "t1"),
        ("spare", "t1"),
    ):
        issued = (await api.call("POST", f"/admin/v1/tenants/{tenant}/tokens", json={})).json()
        tokens[name], tokens[f"{name}_id"] = issued["token"], issued["token_id"]
    revoked = await api.call("DELETE", f"/admin/v1/tenants/t1/tokens/{tokens['revoked_id']}")
    assert revoked.status_code == 204
    return {
        "key_id": key_id,
        "session_id": session.json()["session_id"],
        "spare_token_id": tokens["spare_id"],
        "backoffice": api.bo,
        "owner": tokens["owner"],
        "other_tenant": tokens["other_tenant"],
        "bad_token": "not-a-token",
        "revoked_token": tokens["revoked"],
    }


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=[f"{m} {p}" for m, p in ADMIN_ROUTES])
async def test_admin_route_answers_each_caller_as_expected(
    api: Api, route: tuple[str, str], caller: str
) -> None:
    expect = EXPECTED.get(route)
    if expect is None:
        pytest.fail(f"no expectation for {route}: add it to EXPECTED")
    ids = await world(api)
    token = None if caller == "no_token" else ids[caller]
    method = route[0]
    response = await api.call(
        method,
        expect.path.format(**ids),
        token,
        json=expect.body,
        params=expect.params,
    )
    assert response.status_code == expect.status(caller), (caller, route, response.text)
    if response.status_code >= 400:
        assert set(response.json()["error"]) >= {"code", "message"}
