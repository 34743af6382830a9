"""Issue 13, item 6: unknown accounts are 404 everywhere; key decisions are idempotent."""

from __future__ import annotations

import pytest

from tests.gateway.inprocess import Api


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "/admin/v1/accounts/nobody", None),
        ("GET", "/admin/v1/accounts/nobody/copies", None),
        ("GET", "/admin/v1/accounts/nobody/subscriptions", None),
        ("GET", "/admin/v1/sessions", {"account_id": "nobody"}),
        ("GET", "/admin/v1/audit", {"account_id": "nobody"}),
        ("POST", "/admin/v1/accounts/nobody/messages", None),
    ],
)
async def test_backoffice_gets_404_for_an_account_that_exists_in_no_form(
    api: Api, method: str, path: str, params: dict[str, str] | None
) -> None:
    body = {"message": {"type": "SyncSnapshot", "payload": {}}}
    response = await api.call(method, path, params=params, json=body)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"


async def test_sessions_of_an_unconfigured_ea_are_listed_for_the_backoffice(api: Api) -> None:
    await api.first_launch("ea-only")
    listed = await api.call("GET", "/admin/v1/sessions", params={"account_id": "ea-only"})
    assert listed.status_code == 200
    assert [s["state"] for s in listed.json()["sessions"]] == ["pending"]


async def test_repeating_a_key_decision_keeps_the_first_decision_time(api: Api) -> None:
    await api.first_launch("ea-decide")
    key_id = await api.pending_key("ea-decide")
    first = await api.call("POST", f"/admin/v1/keys/{key_id}/approve")
    assert first.status_code == 200
    again = await api.call("POST", f"/admin/v1/keys/{key_id}/approve", await api.tenant("t9"))
    assert again.status_code == 403  # (not the tenant's account: nothing is told)
    again = await api.call("POST", f"/admin/v1/keys/{key_id}/approve")
    assert again.status_code == 200
    assert again.json()["decided_ms"] == first.json()["decided_ms"]
    assert again.json()["decided_by"] == first.json()["decided_by"]


@pytest.mark.parametrize(
    ("decisions", "last_status"),
    [
        (["reject", "approve"], 409),  # a refusal is final
        (["approve", "revoke", "approve"], 409),
        (["approve", "revoke", "reject"], 409),  # ... also against the other word
        (["reject", "revoke"], 409),
        (["approve", "reject"], 200),  # refusing an approved key is allowed
        (["revoke"], 200),  # and so is revoking a pending one
        (["approve", "revoke", "revoke"], 200),  # repeating is idempotent
        (["reject", "reject"], 200),
    ],
)
async def test_contradicting_key_decision_answers_409_and_changes_nothing(
    api: Api, decisions: list[str], last_status: int
) -> None:
    await api.first_launch("ea-conflict")
    key_id = await api.pending_key("ea-conflict")
    for decision in decisions[:-1]:
        assert (await api.call("POST", f"/admin/v1/keys/{key_id}/{decision}")).status_code == 200
    before = await api.call("GET", "/admin/v1/keys")
    last = await api.call("POST", f"/admin/v1/keys/{key_id}/{decisions[-1]}")
    assert last.status_code == last_status, last.text
    if last_status == 409:
        assert last.json()["error"]["code"] == "conflict"
        assert (await api.call("GET", "/admin/v1/keys")).json() == before.json()
