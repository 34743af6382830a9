"""Admin bearer authentication: bootstrap token, tenant tokens, tenant rights."""

from __future__ import annotations

import logging

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from gateway.auth.admin import AdminAuthenticator, AdminPrincipal, token_hash
from gateway.errors import InvalidToken
from gateway.settings import Settings
from gateway.store.admin_token_store import RedisAdminTokenStore
from gateway.store.keys import RedisKeys
from gateway.store.records import AdminTokenRecord
from schemas.codes import AdminRole

BOOTSTRAP = "bootstrap-admin-token-for-tests"


@pytest.fixture
def authenticator(
    admin_token_store: RedisAdminTokenStore, settings: Settings
) -> AdminAuthenticator:
    return AdminAuthenticator.from_settings(admin_token_store, settings)


async def test_bootstrap_token_is_backoffice(authenticator: AdminAuthenticator) -> None:
    principal = await authenticator.authenticate(f"Bearer {BOOTSTRAP}")
    assert principal == AdminPrincipal(AdminRole.BACKOFFICE, None, "bootstrap")
    assert principal.is_backoffice
    assert principal.can_access_tenant("any-tenant")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        BOOTSTRAP,
        f"Basic {BOOTSTRAP}",
        "Bearer ",
        "Bearer two words",
        "Bearer " + "x" * 513,
        "Bearer wrong-token",
    ],
)
async def test_missing_malformed_or_unknown_tokens_are_refused(
    authenticator: AdminAuthenticator, header: str | None
) -> None:
    with pytest.raises(InvalidToken):
        await authenticator.authenticate(header)


async def test_bearer_scheme_is_case_insensitive(authenticator: AdminAuthenticator) -> None:
    assert (await authenticator.authenticate(f"bearer {BOOTSTRAP}")).is_backoffice


@pytest.mark.parametrize("configured", [None, SecretStr("")])
async def test_without_a_bootstrap_token_nothing_is_backoffice_by_default(
    admin_token_store: RedisAdminTokenStore, configured: SecretStr | None
) -> None:
    authenticator = AdminAuthenticator(admin_token_store, bootstrap_token=configured)
    with pytest.raises(InvalidToken):
        await authenticator.authenticate("Bearer x")


async def test_issued_tenant_token_is_a_tenant_admin_of_that_tenant_only(
    authenticator: AdminAuthenticator,
) -> None:
    token_id, token = await authenticator.issue_tenant_token("acme", "ops", 1_000)
    principal = await authenticator.authenticate(f"Bearer {token}")
    assert principal == AdminPrincipal(AdminRole.TENANT_ADMIN, "acme", token_id)
    assert not principal.is_backoffice
    assert principal.can_access_tenant("acme")
    assert not principal.can_access_tenant("globex")


async def test_issued_tokens_are_stored_only_as_their_sha256(
    authenticator: AdminAuthenticator,
    admin_token_store: RedisAdminTokenStore,
    redis_client: aioredis.Redis,
    keys: RedisKeys,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    token_id, token = await authenticator.issue_tenant_token("acme", None, 1_000)
    record = await admin_token_store.find_token(token_hash(token))
    assert record is not None and record.token_id == token_id
    stored = await redis_client.hgetall(keys.admin_tokens())
    assert token.encode() not in b"".join(k + v for k, v in stored.items())
    assert token not in caplog.text


async def test_stored_backoffice_token_is_backoffice(
    authenticator: AdminAuthenticator, admin_token_store: RedisAdminTokenStore
) -> None:
    await admin_token_store.add_token(
        token_hash("second-backoffice"), AdminTokenRecord("t_bo", AdminRole.BACKOFFICE, None)
    )
    principal = await authenticator.authenticate("Bearer second-backoffice")
    assert principal == AdminPrincipal(AdminRole.BACKOFFICE, None, "t_bo")


async def test_tenant_admin_token_without_a_tenant_is_refused(
    authenticator: AdminAuthenticator, admin_token_store: RedisAdminTokenStore
) -> None:
    await admin_token_store.add_token(
        token_hash("orphan"), AdminTokenRecord("t_x", AdminRole.TENANT_ADMIN, None)
    )
    with pytest.raises(InvalidToken, match="not bound to a tenant"):
        await authenticator.authenticate("Bearer orphan")
