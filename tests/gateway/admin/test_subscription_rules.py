"""Issue 13, items 2 and 3: subscriptions need a configured master and follower of
one tenant, and an account's role or tenant cannot change under its subscriptions."""

from __future__ import annotations

import pytest

from tests.gateway.inprocess import Api


@pytest.mark.parametrize(
    ("follower", "master", "status"),
    [
        ("nobody-f", "nobody-m", 404),  # neither exists
        ("f1", "nobody-m", 404),  # master unknown
        ("nobody-f", "m1", 404),  # follower unknown
        ("m1", "f1", 409),  # roles swapped
        ("f1", "m-other", 409),  # master of another tenant
    ],
)
async def test_subscription_is_refused_unless_master_and_follower_exist_in_one_tenant(
    api: Api, follower: str, master: str, status: int
) -> None:
    await api.account("f1", "follower")
    await api.account("m1", "master")
    await api.account("m-other", "master", tenant="t2")
    refused = await api.subscribe(follower, master)
    assert refused.status_code == status, refused.text
    assert refused.json()["error"]["code"] == ("not_found" if status == 404 else "conflict")


async def test_subscription_between_a_configured_master_and_follower_is_stored(api: Api) -> None:
    await api.account("f1", "follower")
    await api.account("m1", "master")
    assert (await api.subscribe("f1", "m1")).status_code == 200


@pytest.mark.parametrize(
    ("account", "change"),
    [
        ("f1", {"tenant_id": "t1", "role": "master"}),
        ("m1", {"tenant_id": "t1", "role": "follower"}),
        ("f1", {"tenant_id": "t2", "role": "follower"}),
        ("m1", {"tenant_id": "t2", "role": "master"}),
    ],
)
async def test_role_or_tenant_change_under_a_live_subscription_is_refused_with_409(
    api: Api, account: str, change: dict[str, str]
) -> None:
    await api.account("f1", "follower")
    await api.account("m1", "master")
    assert (await api.subscribe("f1", "m1")).status_code == 200
    refused = await api.call("PUT", f"/admin/v1/accounts/{account}", json=change)
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "conflict"
    assert error["details"] == [{"follower_id": "f1", "master_id": "m1"}]
    kept = await api.call("GET", f"/admin/v1/accounts/{account}")
    assert kept.json()["role"] == ("follower" if account == "f1" else "master")


async def test_role_change_is_allowed_once_the_subscription_is_deleted(api: Api) -> None:
    await api.account("f1", "follower")
    await api.account("m1", "master")
    await api.subscribe("f1", "m1")
    assert (await api.call("DELETE", "/admin/v1/accounts/f1/subscriptions/m1")).status_code == 204
    changed = await api.call(
        "PUT", "/admin/v1/accounts/f1", json={"tenant_id": "t1", "role": "master"}
    )
    assert changed.status_code == 200
    relabelled = await api.call(
        "PUT", "/admin/v1/accounts/m1", json={"tenant_id": "t1", "role": "master", "label": "x"}
    )
    assert relabelled.status_code == 200
