"""Issue 13, item 1: only the back-office assigns an existing account to a tenant."""

from __future__ import annotations

import pytest

from tests.gateway.inprocess import Api


async def test_tenant_admin_cannot_claim_an_account_that_has_a_pending_key(api: Api) -> None:
    await api.first_launch("ea-fresh")
    token = await api.tenant("t1")
    claim = await api.call(
        "PUT", "/admin/v1/accounts/ea-fresh", token, json={"tenant_id": "t1", "role": "master"}
    )
    assert claim.status_code == 403, claim.text
    assert claim.json()["error"]["code"] == "forbidden"
    assert (await api.call("GET", "/admin/v1/accounts/ea-fresh")).status_code == 404
    key_id = await api.pending_key("ea-fresh")
    decided = await api.call("POST", f"/admin/v1/keys/{key_id}/approve", token)
    assert decided.status_code == 403


async def test_tenant_admin_creates_an_account_that_exists_in_no_form(api: Api) -> None:
    token = await api.tenant("t1")
    created = await api.call(
        "PUT", "/admin/v1/accounts/brand-new", token, json={"tenant_id": "t1", "role": "master"}
    )
    assert created.status_code == 200, created.text
    assert created.json()["tenant_id"] == "t1"
    relabel = await api.call(
        "PUT",
        "/admin/v1/accounts/brand-new",
        token,
        json={"tenant_id": "t1", "role": "master", "label": "main"},
    )
    assert relabel.status_code == 200 and relabel.json()["label"] == "main"


@pytest.mark.parametrize("owner", ["t2", None])
async def test_tenant_admin_cannot_take_over_a_configured_account(
    api: Api, owner: str | None
) -> None:
    if owner is not None:
        await api.account("owned", "follower", tenant=owner)
    else:  # the back-office provisioned a key before configuring the account
        assert (await api.call("POST", "/admin/v1/accounts/owned/keys")).status_code == 201
    token = await api.tenant("t1")
    claim = await api.call(
        "PUT", "/admin/v1/accounts/owned", token, json={"tenant_id": "t1", "role": "follower"}
    )
    assert claim.status_code == 403, claim.text


async def test_backoffice_assigns_an_account_with_a_pending_key_to_a_tenant(api: Api) -> None:
    await api.first_launch("ea-assigned")
    await api.account("ea-assigned", "master", tenant="t1")
    token = await api.tenant("t1")
    key_id = await api.pending_key("ea-assigned")
    decided = await api.call("POST", f"/admin/v1/keys/{key_id}/approve", token)
    assert decided.status_code == 200, decided.text
