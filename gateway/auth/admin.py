"""Admin bearer authentication for the back-office and tenant-admin REST API.

``Authorization: Bearer <token>`` resolves to an `AdminPrincipal`:

- the bootstrap token (``COPYGATE_ADMIN_TOKEN``), compared in constant time, is
  the ``backoffice`` role with rights over every tenant;
- any other token is looked up by its sha256 in the `AdminTokenStore`; tokens
  issued with `AdminAuthenticator.issue_tenant_token` are ``tenant_admin`` of one
  tenant.

Token secrets are high-entropy random strings, so a plain sha256 is a sound
at-rest verifier (no argon2 needed: there is nothing to brute-force). Secrets are
never logged or stored; only their digests are.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Self

from pydantic import SecretStr

from gateway.auth.hashing import fingerprints_equal
from gateway.errors import InvalidToken
from gateway.settings import Settings
from gateway.store.ports import AdminTokenStore
from gateway.store.records import AdminTokenRecord
from schemas.codes import AdminRole

__all__ = [
    "BOOTSTRAP_TOKEN_ID",
    "AdminAuthenticator",
    "AdminPrincipal",
    "parse_bearer",
    "token_hash",
]

_log = logging.getLogger("copygate.auth")

#: `token_id` of the principal the bootstrap token resolves to.
BOOTSTRAP_TOKEN_ID = "bootstrap"
#: Longest bearer token accepted (characters).
_TOKEN_MAX_LENGTH = 512


@dataclass(frozen=True, slots=True)
class AdminPrincipal:
    """Who is calling the admin API, and over which tenants."""

    role: AdminRole  #: backoffice (everything) or tenant_admin (one tenant)
    tenant_id: str | None  #: the tenant of a tenant_admin; None for backoffice
    token_id: str  #: public id of the token used (for audit fields like `decided_by`)

    @property
    def is_backoffice(self) -> bool:
        """Whether this principal has rights over every tenant."""
        return self.role is AdminRole.BACKOFFICE

    def can_access_tenant(self, tenant_id: str) -> bool:
        """Whether this principal may read or change resources of `tenant_id`."""
        if self.role is AdminRole.BACKOFFICE:
            return True
        return self.tenant_id is not None and self.tenant_id == tenant_id


def token_hash(token: str) -> str:
    """The at-rest verifier of an admin token: sha256 hex of its secret."""
    return hashlib.sha256(token.encode()).hexdigest()


def parse_bearer(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header value.

    Raises:
        InvalidToken: the header is missing, not a Bearer one, or the token is
            empty or too long.
    """
    if not authorization:
        raise InvalidToken("missing Authorization header (expected 'Bearer <token>')")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise InvalidToken("Authorization header must be 'Bearer <token>'")
    if len(token) > _TOKEN_MAX_LENGTH or any(ch.isspace() for ch in token):
        raise InvalidToken("malformed bearer token")
    return token


class AdminAuthenticator:
    """Resolves admin bearer tokens to principals, and issues tenant tokens.

    Args:
        tokens: stored (hashed) admin tokens.
        bootstrap_token: the ``backoffice`` token from the environment, if any.
    """

    def __init__(self, tokens: AdminTokenStore, *, bootstrap_token: SecretStr | None) -> None:
        #: tenant-admin and extra back-office tokens, by sha256
        self._tokens = tokens
        #: sha256 of the bootstrap token (compared in constant time); None if unset
        self._bootstrap_hash = (
            token_hash(bootstrap_token.get_secret_value())
            if bootstrap_token is not None and bootstrap_token.get_secret_value()
            else None
        )

    @classmethod
    def from_settings(cls, tokens: AdminTokenStore, settings: Settings) -> Self:
        """The authenticator with the bootstrap token of `settings`."""
        return cls(tokens, bootstrap_token=settings.admin_token)

    async def authenticate(self, authorization: str | None) -> AdminPrincipal:
        """The principal of an ``Authorization`` header value.

        Raises:
            InvalidToken: missing, malformed or unknown token (-> 401).
            StoreUnavailable: the token store cannot be reached.
        """
        return await self.authenticate_token(parse_bearer(authorization))

    async def authenticate_token(self, token: str) -> AdminPrincipal:
        """The principal of a bare token (already taken out of its header).

        Raises:
            InvalidToken: unknown token (-> 401).
            StoreUnavailable: the token store cannot be reached.
        """
        digest = token_hash(token)
        if self._bootstrap_hash is not None and fingerprints_equal(digest, self._bootstrap_hash):
            return AdminPrincipal(AdminRole.BACKOFFICE, None, BOOTSTRAP_TOKEN_ID)
        record = await self._tokens.find_token(digest)
        if record is None:
            raise InvalidToken("unknown admin token")
        if record.role is AdminRole.BACKOFFICE:
            return AdminPrincipal(AdminRole.BACKOFFICE, None, record.token_id)
        if record.tenant_id is None:  # a tenant admin of no tenant can do nothing
            _log.warning("admin token %s has no tenant; refused", record.token_id)
            raise InvalidToken("admin token is not bound to a tenant")
        return AdminPrincipal(record.role, record.tenant_id, record.token_id)

    async def issue_tenant_token(
        self, tenant_id: str, label: str | None, now_ms: int
    ) -> tuple[str, str]:
        """Create a ``tenant_admin`` token for one tenant.

        Returns:
            (token_id, token). Only the token's sha256 is stored: show it once.
        """
        token = "cgt_" + secrets.token_urlsafe(32)
        record = AdminTokenRecord(
            token_id="t_" + secrets.token_urlsafe(9),
            role=AdminRole.TENANT_ADMIN,
            tenant_id=tenant_id,
            label=label,
            created_ms=now_ms,
        )
        await self._tokens.add_token(token_hash(token), record)
        _log.info("issued tenant_admin token %s for tenant %s", record.token_id, tenant_id)
        return record.token_id, token

    async def revoke_tenant_token(self, tenant_id: str, token_id: str) -> AdminTokenRecord | None:
        """Revoke one of a tenant's tokens (refused from then on); None if it has no such
        token. The bootstrap token is configuration and cannot be revoked here."""
        record = await self._tokens.revoke_token(token_id, tenant_id)
        if record is not None:
            _log.info("revoked admin token %s of tenant %s", token_id, tenant_id)
        return record
