"""Back-office and tenant-admin endpoints.

Every route resolves the bearer token to an `AdminPrincipal` first. The bootstrap
token (`COPYGATE_ADMIN_TOKEN`) and tokens issued with role `backoffice` may do
everything; a `tenant_admin` token may only touch accounts of its own tenant
(403 otherwise, including accounts not yet assigned to any tenant).
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from gateway.admin.rules import SubscriptionLinks, conflicting_subscriptions
from gateway.admin.views import account_view, key_view, session_view
from gateway.auth.admin import AdminAuthenticator, AdminPrincipal
from gateway.auth.session_key import AccountSessionKeyStrategy
from gateway.errors import NotFound
from gateway.http_errors import ApiError, json_response, read_body
from gateway.sessions import SessionService, new_envelope_id
from gateway.store.records import AccountRecord
from schemas.codes import AdminRole, CloseReason, ErrorCode, KeyStatus
from schemas.envelope import OrderCommand, SyncSnapshotRequest, encode_envelope
from schemas.rest import (
    AccountUpsert,
    AdminCommandQueued,
    AdminCommandRequest,
    TenantTokenCreated,
    TenantTokenRequest,
)

__all__ = ["AdminRoutes"]

_KEY_DECISIONS: dict[str, tuple[KeyStatus, CloseReason | None]] = {
    "approve": (KeyStatus.APPROVED, None),
    "reject": (KeyStatus.REJECTED, CloseReason.KEY_REJECTED),
    "revoke": (KeyStatus.REVOKED, CloseReason.KEY_REVOKED),
}


def _forbidden(message: str) -> ApiError:
    return ApiError(403, ErrorCode.FORBIDDEN, message)


class AdminRoutes:
    """Handlers of `/admin/v1`."""

    def __init__(
        self,
        service: SessionService,
        authenticator: AdminAuthenticator,
        keys: AccountSessionKeyStrategy,
        links: SubscriptionLinks | None = None,
    ) -> None:
        self.service = service  #: sessions and store
        self.authenticator = authenticator  #: bearer token -> principal
        self.keys = keys  #: key provisioning
        self.links = links  #: subscriptions an account is part of (None: no copier)

    # ---- authorisation -------------------------------------------------------------
    async def _principal(self, request: Request) -> AdminPrincipal:
        return await self.authenticator.authenticate(request.headers.get("authorization"))

    async def _require_backoffice(self, request: Request) -> AdminPrincipal:
        principal = await self._principal(request)
        if principal.role is not AdminRole.BACKOFFICE:
            raise _forbidden("this operation needs the backoffice role")
        return principal

    async def _require_account(
        self,
        request: Request,
        account_id: str,
        *,
        configured: bool = False,
        creates: bool = False,
    ) -> AdminPrincipal:
        """The caller may act on `account_id` (docs/admin-rules.md, "unknown accounts").

        404 if the account exists in no form (or, with `configured`, has no
        record), unless the back-office calls a route that `creates` it; 403 if a
        tenant admin's tenant does not own it (an account that exists but is not
        configured belongs to no tenant: back-office only).
        """
        principal = await self._principal(request)
        accounts = self.service.store.accounts
        account = await accounts.get_account(account_id)
        if account is None:
            if creates and principal.role is AdminRole.BACKOFFICE:
                return principal
            if configured or not await accounts.account_exists(account_id):
                raise NotFound(f"unknown account {account_id}")
            if principal.role is not AdminRole.BACKOFFICE:
                raise _forbidden(f"account {account_id} is not assigned to a tenant")
            return principal
        if not principal.can_access_tenant(account.tenant_id):
            raise _forbidden(f"account {account_id} is outside tenant {principal.tenant_id}")
        return principal

    async def _tenant_accounts(self, principal: AdminPrincipal) -> set[str] | None:
        """Accounts a principal may see; None means all."""
        if principal.role is AdminRole.BACKOFFICE:
            return None
        records = await self.service.store.accounts.list_accounts(principal.tenant_id)
        return {record.account_id for record in records}

    # ---- keys ------------------------------------------------------------------------
    async def list_keys(self, request: Request) -> Response:
        """`GET /admin/v1/keys?status=`."""
        principal = await self._principal(request)
        raw_status = request.query_params.get("status")
        try:
            status = KeyStatus(raw_status) if raw_status else None
        except ValueError as exc:
            raise ApiError(
                422,
                ErrorCode.VALIDATION_ERROR,
                f"unknown status {raw_status!r}",
                details=[
                    {"loc": ["query", "status"], "msg": f"one of {[s.value for s in KeyStatus]}"}
                ],
            ) from exc
        visible = await self._tenant_accounts(principal)
        records = await self.service.store.key_store.list_by_status(status)
        keys = [key_view(r) for r in records if visible is None or r.account_id in visible]
        return json_response({"keys": keys})

    async def decide_key(self, request: Request) -> Response:
        """`POST /admin/v1/keys/{key_id}/approve|reject|revoke` (idempotent, see
        `gateway.store.key_decisions.key_decision`; a contradicting decision is 409)."""
        await self._principal(request)  # 401 before anything about the key is told
        key_id = request.path_params["key_id"]
        decision = _KEY_DECISIONS.get(request.path_params["decision"])
        if decision is None:
            raise NotFound(f"unknown key action {request.path_params['decision']!r}")
        status, close_reason = decision
        key = await self.service.store.key_store.get(key_id)
        if key is None:
            raise NotFound(f"unknown key {key_id}")
        principal = await self._require_account(request, key.account_id)
        updated = await self.service.store.key_store.set_status(
            key_id, status, by=principal.token_id, now_ms=self.service.clock()
        )
        if close_reason is None:
            affected = await self.service.promote_key_sessions(key.account_id, key_id)
        else:
            affected = await self.service.close_key_sessions(key.account_id, key_id, close_reason)
        return json_response({**key_view(updated), "sessions_affected": affected})

    async def provision_key(self, request: Request) -> Response:
        """`POST /admin/v1/accounts/{account_id}/keys` -> 201 with the key shown once."""
        account_id = self._account_id(request)
        principal = await self._require_account(request, account_id, creates=True)
        key_id, secret = await self.keys.provision_key(
            account_id, principal.token_id, self.service.clock()
        )
        return json_response(
            {"key_id": key_id, "key": secret}, status=201, headers={"Cache-Control": "no-store"}
        )

    # ---- accounts -------------------------------------------------------------------
    async def put_account(self, request: Request) -> Response:
        """`PUT /admin/v1/accounts/{account_id}`.

        The back-office may create any account and assign any account to any
        tenant. A tenant admin may update accounts of its own tenant, and create an
        account only if it exists in no form yet (no record, key, session, log):
        an EA that connected with a first-launch key, or a key the back-office
        provisioned, is never taken over by a tenant (403).
        """
        account_id = self._account_id(request)
        body = await read_body(request, AccountUpsert)
        principal = await self._principal(request)
        record = AccountRecord(
            account_id=account_id,
            tenant_id=body.tenant_id,
            role=body.role,
            label=body.label,
            updated_ms=self.service.clock(),
        )
        accounts = self.service.store.accounts
        existing = await accounts.get_account(account_id)
        if principal.role is not AdminRole.BACKOFFICE:
            if not principal.can_access_tenant(body.tenant_id) or (
                existing is not None and not principal.can_access_tenant(existing.tenant_id)
            ):
                raise _forbidden(f"tenant admins may only manage tenant {principal.tenant_id}")
            if existing is None:
                if not await accounts.create_account(record):
                    raise _forbidden(
                        f"account {account_id} already exists (a key, a session or a record); "
                        "only the back-office can assign it to a tenant"
                    )
                return json_response(account_view(record))
        await self._check_subscriptions(existing, record)
        record = await accounts.put_account(record)
        return json_response(account_view(record))

    async def _check_subscriptions(
        self, existing: AccountRecord | None, record: AccountRecord
    ) -> None:
        """409 naming the subscriptions a role or tenant change would contradict."""
        if existing is None or self.links is None:
            return
        if existing.role is record.role and existing.tenant_id == record.tenant_id:
            return
        links = await self.links.links(record.account_id)
        conflicts = conflicting_subscriptions(existing, record, links)
        if conflicts:
            named = ", ".join(f"{f} follows {m}" for f, m in conflicts)
            raise ApiError(
                409,
                ErrorCode.CONFLICT,
                f"account {record.account_id} keeps its role and tenant while it has "
                f"subscriptions ({named}); delete them first",
                details=[{"follower_id": f, "master_id": m} for f, m in conflicts],
            )

    async def get_account(self, request: Request) -> Response:
        """`GET /admin/v1/accounts/{account_id}`."""
        account_id = self._account_id(request)
        await self._require_account(request, account_id, configured=True)
        record = await self.service.store.accounts.get_account(account_id)
        if record is None:
            raise NotFound(f"unknown account {account_id}")
        numbered, held = await self.service.store.delivery.pending_count(account_id)
        return json_response(
            {**account_view(record), "delivery": {"unacknowledged": numbered, "held": held}}
        )

    # ---- sessions -------------------------------------------------------------------
    async def list_sessions(self, request: Request) -> Response:
        """`GET /admin/v1/sessions?account_id=`: live sessions with their state."""
        account_id = request.query_params.get("account_id") or None
        if account_id is not None:
            await self._require_account(request, account_id)
            visible = None
        else:
            visible = await self._tenant_accounts(await self._principal(request))
        records = await self.service.store.sessions.list_sessions(account_id)
        sessions = [session_view(r) for r in records if visible is None or r.account_id in visible]
        return json_response({"sessions": sessions})

    async def close_session(self, request: Request) -> Response:
        """`DELETE /admin/v1/sessions/{session_id}`: an operator ends a session."""
        await self._principal(request)  # 401 before anything about the session is told
        session_id = request.path_params["session_id"]
        record = await self.service.store.sessions.get_session(session_id)
        if record is None:
            raise NotFound(f"unknown session {session_id}")
        await self._require_account(request, record.account_id)
        closed = await self.service.close(session_id, CloseReason.CLOSED_BY_OPERATOR)
        final = closed or record
        return json_response(session_view(final))

    # ---- tenants --------------------------------------------------------------------
    async def issue_tenant_token(self, request: Request) -> Response:
        """`POST /admin/v1/tenants/{tenant_id}/tokens` (backoffice only) -> 201."""
        await self._require_backoffice(request)
        tenant_id = request.path_params["tenant_id"]
        body = await read_body(request, TenantTokenRequest)
        token_id, token = await self.authenticator.issue_tenant_token(
            tenant_id, body.label, self.service.clock()
        )
        created = TenantTokenCreated(
            token_id=token_id, token=token, tenant_id=tenant_id, role=AdminRole.TENANT_ADMIN
        )
        return json_response(
            created.model_dump(mode="json"), status=201, headers={"Cache-Control": "no-store"}
        )

    async def revoke_tenant_token(self, request: Request) -> Response:
        """`DELETE /admin/v1/tenants/{tenant_id}/tokens/{token_id}` (backoffice only) -> 204.

        The token is refused (401) from then on, on every node.
        """
        await self._require_backoffice(request)
        tenant_id = request.path_params["tenant_id"]
        token_id = request.path_params["token_id"]
        if await self.authenticator.revoke_tenant_token(tenant_id, token_id) is None:
            raise NotFound(f"unknown token {token_id} of tenant {tenant_id}")
        return Response(status_code=204)

    # ---- operator messages -----------------------------------------------------------
    async def queue_message(self, request: Request) -> Response:
        """`POST /admin/v1/accounts/{account_id}/messages`: queue an OrderCommand or a
        SyncSnapshot request for the EA (durable, delivered like copier commands)."""
        account_id = self._account_id(request)
        await self._require_account(request, account_id)
        body = await read_body(request, AdminCommandRequest)
        envelope = self._operator_envelope(body.message)
        result = await self.service.store.delivery.enqueue(
            account_id, envelope.id, encode_envelope(envelope)
        )
        queued = AdminCommandQueued(
            account_id=account_id, id=envelope.id, seq=result.seq, held=result.seq is None
        )
        return json_response(queued.model_dump(mode="json"), status=202)

    def _operator_envelope(self, message: dict[str, Any]) -> OrderCommand | SyncSnapshotRequest:
        data = {"id": new_envelope_id(), "ts": self.service.clock(), **message, "seq": None}
        model = OrderCommand if data.get("type") == "OrderCommand" else SyncSnapshotRequest
        if data.get("type") not in ("OrderCommand", "SyncSnapshot"):
            raise ApiError(
                422,
                ErrorCode.VALIDATION_ERROR,
                "message.type must be OrderCommand or SyncSnapshot",
                details=[{"loc": ["message", "type"], "msg": "unsupported type"}],
            )
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            details = orjson.loads(exc.json(include_url=False, include_input=False))
            raise ApiError(
                422, ErrorCode.VALIDATION_ERROR, "message failed validation", details=details
            ) from exc

    @staticmethod
    def _account_id(request: Request) -> str:
        account_id: str = request.path_params["account_id"]
        if (
            not 0 < len(account_id) <= 64
            or not all(c.isalnum() or c in "._:-" for c in account_id)
            or not account_id.isascii()
        ):
            raise ApiError(
                422,
                ErrorCode.VALIDATION_ERROR,
                "invalid account_id",
                details=[{"loc": ["path", "account_id"], "msg": "1-64 chars of [A-Za-z0-9._:-]"}],
            )
        return account_id
