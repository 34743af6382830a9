"""Reconnecting with a verified key: one store call, and every rule still holds.

The fast path (`SessionStore.create_with_key`) re-authenticates the key by its
fingerprint and creates the session in the same call; these tests check, over the
wire, that it still rate-limits, refuses revoked keys, preempts the older session
on another node, and hands the WebSocket its session at once.
"""

from __future__ import annotations

from tests.e2e.conftest import ServerFactory
from tests.e2e.harness import EA, Admin, Server, init_request


async def provisioned_key(admin: Admin, account_id: str) -> tuple[str, str]:
    """(key id, secret) of a new back-office key."""
    response = await admin.request("POST", f"/admin/v1/accounts/{account_id}/keys")
    assert response.status_code == 201, response.text
    return response.json()["key_id"], response.json()["key"]


async def test_verified_key_reconnects_count_against_the_rate_limit(
    start_server: ServerFactory,
) -> None:
    server = start_server(COPYGATE_SESSION_CREATE_LIMIT="3", COPYGATE_SESSION_CREATE_WINDOW_S="30")
    _, key = await provisioned_key(Admin(server.base_url), "acct-rl-known")
    ea = EA(server.base_url, "acct-rl-known", key=key)
    for _ in range(3):
        await ea.create_session()

    refused = await ea.create_session(expect=429)

    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1


async def test_revoked_key_is_refused_on_reconnect(server: Server, admin: Admin) -> None:
    key_id, key = await provisioned_key(admin, "acct-revoke")
    ea = EA(server.base_url, "acct-revoke", key=key)
    await ea.create_session()  # verified: from now on known by its fingerprint
    revoked = await admin.request("POST", f"/admin/v1/keys/{key_id}/revoke")
    assert revoked.status_code == 200, revoked.text

    refused = await ea.create_session(expect=401)

    assert refused.json()["error"]["code"] == "invalid_credentials"
    assert key not in refused.text


async def test_reconnect_on_another_node_preempts_the_session_on_the_first(
    start_server: ServerFactory,
) -> None:
    first_node, second_node = start_server(), start_server()
    _, key = await provisioned_key(Admin(first_node.base_url), "acct-two-nodes")
    before = EA(first_node.base_url, "acct-two-nodes", key=key)
    await before.create_session()
    async with before.websocket(first_node.ws_url) as old:
        await old.send(init_request())
        await old.recv_type("InitAck")

        after = EA(second_node.base_url, "acct-two-nodes", key=key)
        await after.create_session()

        assert (await old.recv_type("ShutdownNotice"))["payload"]["reason"] == "preempted"
        assert await old.wait_closed() == 4001
    assert after.session["state"] == "authenticated"


async def test_reconnected_websocket_is_answered_with_the_accounts_role(
    server: Server, admin: Admin
) -> None:
    await admin.put_account("acct-role", "master")
    _, key = await provisioned_key(admin, "acct-role")
    ea = EA(server.base_url, "acct-role", key=key)
    await ea.create_session()
    await ea.create_session()  # the reconnect

    async with ea.websocket(server.ws_url) as ws:
        await ws.send(init_request())
        ack = await ws.recv_type("InitAck")

    assert ack["payload"]["role"] == "master"
