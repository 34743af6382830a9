"""Back-office and tenant-admin API, limits, and JSON errors for bad input."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import ServerFactory
from tests.e2e.harness import EA, Admin, Server


async def test_requests_without_a_valid_admin_token_get_401(server: Server) -> None:
    for token in ("", "wrong"):
        response = await Admin(server.base_url, token=token).request("GET", "/admin/v1/keys")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_token"


async def test_pending_keys_are_listed_with_telemetry_and_no_secret(
    server: Server, admin: Admin
) -> None:
    ea = EA(server.base_url, "acct-list")
    await ea.create_session()
    response = await admin.request("GET", "/admin/v1/keys", params={"status": "pending"})
    (key,) = [k for k in response.json()["keys"] if k["account_id"] == "acct-list"]
    assert key["status"] == "pending"
    assert key["first_seen_ms"] > 0
    assert key["client"]["platform"] == "mt4"
    assert ea.key not in response.text and "argon2" not in response.text


async def test_rejected_key_closes_its_sessions_with_4003_and_is_refused_after(
    server: Server, admin: Admin
) -> None:
    ea = EA(server.base_url, "acct-reject")
    await ea.create_session()
    async with ea.websocket(server.ws_url) as ws:
        key_id = await admin.pending_key_id("acct-reject")
        assert (await admin.request("POST", f"/admin/v1/keys/{key_id}/reject")).status_code == 200
        assert (await ws.recv_type("ShutdownNotice"))["payload"]["reason"] == "key_rejected"
        assert await ws.wait_closed() == 4003
    response = await ea.create_session(expect=401)
    assert response.json()["error"]["code"] == "invalid_credentials"


async def test_provisioned_key_authenticates_at_once(server: Server, admin: Admin) -> None:
    key = await admin.provision("acct-psk")
    ea = EA(server.base_url, "acct-psk", key=key)
    await ea.create_session()
    assert ea.session["state"] == "authenticated"


async def test_sessions_are_listed_and_can_be_closed_by_an_operator(
    server: Server, admin: Admin
) -> None:
    ea = EA(server.base_url, "acct-ops", key=await admin.provision("acct-ops"))
    await ea.create_session()
    listed = (
        await admin.request("GET", "/admin/v1/sessions", params={"account_id": "acct-ops"})
    ).json()["sessions"]
    assert [(s["session_id"], s["state"]) for s in listed] == [
        (ea.session["session_id"], "authenticated")
    ]
    closed = await admin.request("DELETE", f"/admin/v1/sessions/{ea.session['session_id']}")
    assert closed.status_code == 200
    assert (await ea.exchange()).json()["error"]["code"] == "closed_by_operator"


async def test_tenant_admin_is_confined_to_its_tenant(server: Server, admin: Admin) -> None:
    await admin.put_account("acct-t1", "follower", tenant="t1")
    await admin.put_account("acct-t2", "follower", tenant="t2")
    issued = await admin.request("POST", "/admin/v1/tenants/t1/tokens", json={"label": "ops"})
    assert issued.status_code == 201
    tenant = Admin(server.base_url, token=issued.json()["token"])
    assert (await tenant.request("POST", "/admin/v1/accounts/acct-t1/keys")).status_code == 201
    denied = await tenant.request("POST", "/admin/v1/accounts/acct-t2/keys")
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
    moved = await tenant.request(
        "PUT", "/admin/v1/accounts/acct-t2", json={"tenant_id": "t1", "role": "master"}
    )
    assert moved.status_code == 403
    minted = await tenant.request("POST", "/admin/v1/tenants/t1/tokens", json={})
    assert minted.status_code == 403
    listed = (await tenant.request("GET", "/admin/v1/sessions")).status_code
    assert listed == 200


async def test_rate_limited_session_creation_answers_429_with_retry_after(
    start_server: ServerFactory,
) -> None:
    # The window slides (issue 13, item 5): whenever the five requests are made, any
    # 30 s holds at most three; with epoch-aligned windows a boundary falling between
    # them let the fourth through.
    server = start_server(COPYGATE_SESSION_CREATE_LIMIT="3", COPYGATE_SESSION_CREATE_WINDOW_S="30")
    codes = []
    for n in range(5):
        response = await _create(server, f"acct-rl-{n}")
        codes.append(response.status_code)
        last = response
    assert codes[:3] == [201, 201, 201] and codes[3:] == [429, 429]
    assert 1 <= int(last.headers["Retry-After"]) <= 30
    assert last.json()["error"]["code"] == "rate_limited"


async def test_pending_sessions_per_account_are_limited(server: Server) -> None:
    codes = [(await _create(server, "acct-many")).status_code for _ in range(5)]
    assert codes.count(201) == 3
    assert 429 in codes


async def _create(server: Server, account: str, key: str = "k" * 32) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        return await client.post(
            "/ea-gateway/v1/sessions",
            json={
                "account_id": account,
                "auth_method": "account_session_key",
                "credentials": {"key": key},
            },
        )


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{", 400, "malformed_json"),
        (b"[]", 400, "malformed_json"),
        (
            b'{"account_id": "bad id!", "auth_method": "account_session_key", "credentials": {}}',
            422,
            "validation_error",
        ),
        (
            b'{"account_id": "a", "auth_method": "kerberos", "credentials": {"key": "x"}}',
            422,
            "unsupported_auth_method",
        ),
        (
            b'{"account_id": "a", "auth_method": "account_session_key", "credentials": {"key": 5}}',
            401,
            "invalid_credentials",
        ),
        (b'{"account_id": "a"}', 422, "validation_error"),
        (b"x" * (1024 * 1024 + 10), 413, "payload_too_large"),
    ],
)
async def test_bad_session_requests_get_json_errors_never_500(
    server: Server, body: bytes, status: int, code: str
) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        response = await client.post(
            "/ea-gateway/v1/sessions", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/nope", None),
        ("POST", "/admin/v1/keys/k_missing/approve", None),
        ("POST", "/admin/v1/keys/k_missing/explode", None),
        ("GET", "/admin/v1/keys?status=weird", None),
        ("PUT", "/admin/v1/accounts/a1", {"tenant_id": "t", "role": "boss"}),
        ("POST", "/admin/v1/accounts/a1/messages", {"message": {"type": "InitAck"}}),
        ("POST", "/admin/v1/accounts/a1/messages", {"message": {"type": "OrderCommand"}}),
        ("DELETE", "/admin/v1/sessions/unknown", None),
        ("POST", "/ea-gateway/v1/sessions/x/exchange", {"messages": []}),
        ("GET", "/ea-gateway/v1/sessions", None),
    ],
)
async def test_admin_and_gateway_errors_are_json_with_a_stable_code(
    server: Server, admin: Admin, method: str, path: str, body: object
) -> None:
    response = await admin.request(method, path, json=body)
    assert 400 <= response.status_code < 500, response.text
    assert isinstance(response.json()["error"]["code"], str)
