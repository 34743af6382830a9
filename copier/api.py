"""Admin endpoints of the copier: subscriptions, copy records, audit, dead letters.

- ``PUT/GET/DELETE /admin/v1/accounts/{follower_id}/subscriptions/{master_id}``
- ``GET /admin/v1/accounts/{follower_id}/subscriptions``
- ``GET /admin/v1/accounts/{follower_id}/copies?master_id=&limit=``
- ``GET /admin/v1/audit?account_id=&limit=`` (without account_id: backoffice only)
- ``GET /admin/v1/copier/dead-letters?limit=`` (backoffice only)
- ``GET /admin/v1/copier/backlog`` (backoffice only): `copier.backlog.read_backlog`

Authorisation follows `gateway.admin.routes.AdminRoutes` (docs/admin-rules.md):
an account without a record is 404; the backoffice may do everything else; a
tenant admin only touches accounts of its own tenant (403). A subscription needs
a configured follower (role follower) and master (role master) of one tenant
(409 otherwise).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import redis.asyncio as aioredis
from starlette.requests import Request
from starlette.responses import Response

from copier.backlog import read_backlog
from copier.keys import CopierKeys
from copier.subscriptions import SubscriptionStore
from copier.worker.state import CopyRecord
from copier.worker.store import FollowerStore
from gateway.auth.admin import AdminAuthenticator, AdminPrincipal
from gateway.clock import Clock
from gateway.errors import NotFound
from gateway.http_errors import ApiError, json_response, read_body
from gateway.store.keys import RedisKeys
from gateway.store.ports import AccountStore
from gateway.store.records import AccountRecord
from gateway.store.redis_errors import map_redis_errors
from schemas.codes import AdminRole, ErrorCode, Role
from schemas.subscriptions import SubscriptionSettings
from schemas.types import decimal_to_json_number

__all__ = ["CopierRoutes", "copy_view"]

#: Largest `limit` query parameter accepted.
MAX_LIMIT = 1000


def _forbidden(message: str) -> ApiError:
    return ApiError(403, ErrorCode.FORBIDDEN, message)


def _invalid(loc: list[str], message: str) -> ApiError:
    return ApiError(
        422, ErrorCode.VALIDATION_ERROR, message, details=[{"loc": loc, "msg": message}]
    )


def _number(value: Decimal | None) -> float | int | None:
    return None if value is None else decimal_to_json_number(value)


def _delta(later: int | None, earlier: int | None) -> int | None:
    return None if later is None or earlier is None else later - earlier


def copy_view(
    record: CopyRecord, queued_ms: int | None, delivered_ms: int | None
) -> dict[str, Any]:
    """The JSON answer for one copy record (with slippage and the latency split)."""
    slippage = (
        None
        if record.filled_price is None or record.requested_price is None
        else record.filled_price - record.requested_price
    )
    received = record.intent_received_ms
    return {
        "command_id": record.command_id,
        "current_command_id": record.current_command_id,
        "master_id": record.master_id,
        "intent_id": record.intent_id,
        "action": record.action.value,
        "symbol": record.symbol,
        "master_ticket": record.master_ticket,
        "follower_ticket": record.follower_ticket,
        "status": record.status,
        "reason": record.reason,
        "message": record.message,
        "attempts": record.attempts,
        "requested_volume": _number(record.requested_volume),
        "filled_volume": _number(record.filled_volume),
        "requested_price": _number(record.requested_price),
        "filled_price": _number(record.filled_price),
        "slippage": _number(slippage),
        "times": {
            "intent_received_ms": received,
            "command_queued_ms": queued_ms,
            "command_delivered_ms": delivered_ms,
            "execution_reported_ms": record.reported_ms,
        },
        "latency_ms": {
            "received_to_queued": _delta(queued_ms, received),
            "queued_to_delivered": _delta(delivered_ms, queued_ms),
            "delivered_to_reported": _delta(record.reported_ms, delivered_ms),
            "total": _delta(record.reported_ms, received),
        },
    }


class CopierRoutes:
    """Handlers of the copier's admin endpoints."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: CopierKeys,
        followers: FollowerStore,
        accounts: AccountStore,
        authenticator: AdminAuthenticator,
        clock: Clock,
    ) -> None:
        self._redis = redis  #: bytes-mode client (dead letters)
        self._keys = keys  #: copier key names
        #: the gateway's key names (the streams), in the same layout
        self._gateway_keys = keys.layout or RedisKeys(keys.prefix)
        self.subscriptions = SubscriptionStore(redis, keys)  #: subscriptions + audit
        self.followers = followers  #: copy records
        self.accounts = accounts  #: tenants and roles
        self.authenticator = authenticator  #: bearer token -> principal
        self.clock = clock  #: epoch ms

    # ---- authorisation ---------------------------------------------------------------
    async def _principal(self, request: Request) -> AdminPrincipal:
        return await self.authenticator.authenticate(request.headers.get("authorization"))

    async def _require(self, request: Request, *account_ids: str) -> AdminPrincipal:
        principal, _records = await self._configured(request, *account_ids)
        return principal

    async def _configured(
        self, request: Request, *account_ids: str
    ) -> tuple[AdminPrincipal, list[AccountRecord]]:
        """The caller and the accounts' records: 404 if one is not configured, 403 if it
        belongs to another tenant than a tenant admin's (docs/admin-rules.md)."""
        principal = await self._principal(request)
        records: list[AccountRecord] = []
        for account_id in account_ids:
            account = await self.accounts.get_account(account_id)
            if account is None:
                raise NotFound(f"unknown account {account_id}")
            if not principal.can_access_tenant(account.tenant_id):
                raise _forbidden(f"account {account_id} is outside tenant {principal.tenant_id}")
            records.append(account)
        return principal, records

    @staticmethod
    def _account(request: Request, name: str) -> str:
        value: str = request.path_params[name]
        if (
            not 0 < len(value) <= 64
            or not value.isascii()
            or not all(c.isalnum() or c in "._:-" for c in value)
        ):
            raise _invalid(["path", name], "1-64 chars of [A-Za-z0-9._:-]")
        return value

    @staticmethod
    def _limit(request: Request, default: int = 100) -> int:
        raw = request.query_params.get("limit")
        if raw is None:
            return default
        if not raw.isdigit() or not 0 < int(raw) <= MAX_LIMIT:
            raise _invalid(["query", "limit"], f"an integer from 1 to {MAX_LIMIT}")
        return int(raw)

    def _pair(self, request: Request) -> tuple[str, str]:
        follower = self._account(request, "follower_id")
        master = self._account(request, "master_id")
        if follower == master:
            raise _invalid(["path", "master_id"], "an account cannot follow itself")
        return follower, master

    @staticmethod
    def _check_pair(follower: AccountRecord, master: AccountRecord) -> None:
        """A subscription joins a follower and a master of one tenant (409 otherwise)."""
        for record, wanted in ((follower, Role.FOLLOWER), (master, Role.MASTER)):
            if record.role is not wanted:
                raise ApiError(
                    409,
                    ErrorCode.CONFLICT,
                    f"account {record.account_id} has role {record.role.value}, not {wanted.value}",
                )
        if follower.tenant_id != master.tenant_id:
            raise ApiError(
                409,
                ErrorCode.CONFLICT,
                f"follower {follower.account_id} (tenant {follower.tenant_id}) and master "
                f"{master.account_id} (tenant {master.tenant_id}) are in different tenants",
            )

    # ---- subscriptions -----------------------------------------------------------
    async def put_subscription(self, request: Request) -> Response:
        """`PUT /admin/v1/accounts/{follower_id}/subscriptions/{master_id}`."""
        follower, master = self._pair(request)
        principal, (follower_record, master_record) = await self._configured(
            request, follower, master
        )
        settings = await read_body(request, SubscriptionSettings)
        self._check_pair(follower_record, master_record)
        _before, after = await self.subscriptions.put(
            follower, master, settings, actor=principal.token_id, now_ms=self.clock()
        )
        return json_response(after.model_dump(mode="json"))

    async def get_subscription(self, request: Request) -> Response:
        """`GET /admin/v1/accounts/{follower_id}/subscriptions/{master_id}`."""
        follower, master = self._pair(request)
        await self._require(request, follower, master)
        view = await self.subscriptions.get(follower, master)
        if view is None:
            raise NotFound(f"{follower} does not follow {master}")
        return json_response(view.model_dump(mode="json"))

    async def delete_subscription(self, request: Request) -> Response:
        """`DELETE /admin/v1/accounts/{follower_id}/subscriptions/{master_id}` -> 204."""
        follower, master = self._pair(request)
        principal = await self._require(request, follower, master)
        deleted = await self.subscriptions.delete(
            follower, master, actor=principal.token_id, now_ms=self.clock()
        )
        if deleted is None:
            raise NotFound(f"{follower} does not follow {master}")
        return Response(status_code=204)

    async def list_subscriptions(self, request: Request) -> Response:
        """`GET /admin/v1/accounts/{follower_id}/subscriptions`."""
        follower = self._account(request, "follower_id")
        await self._require(request, follower)
        views = await self.subscriptions.list_for_follower(follower)
        return json_response({"subscriptions": [v.model_dump(mode="json") for v in views]})

    # ---- copy records, audit, dead letters ------------------------------------------
    async def list_copies(self, request: Request) -> Response:
        """`GET /admin/v1/accounts/{follower_id}/copies`: newest first."""
        follower = self._account(request, "follower_id")
        await self._require(request, follower)
        master = request.query_params.get("master_id") or None
        rows = await self.followers.copy_store.copies(
            follower, limit=self._limit(request), master_id=master
        )
        return json_response({"copies": [copy_view(*row) for row in rows]})

    async def audit(self, request: Request) -> Response:
        """`GET /admin/v1/audit?account_id=`: subscription changes, newest first."""
        account = request.query_params.get("account_id") or None
        if account is None:
            principal = await self._principal(request)
            if principal.role is not AdminRole.BACKOFFICE:
                raise _invalid(["query", "account_id"], "tenant admins must name an account")
        else:
            await self._require(request, account)
        entries = await self.subscriptions.audit(account, limit=self._limit(request))
        return json_response({"entries": entries})

    async def _backoffice(self, request: Request) -> None:
        principal = await self._principal(request)
        if principal.role is not AdminRole.BACKOFFICE:
            raise _forbidden("this operation needs the backoffice role")

    async def backlog(self, request: Request) -> Response:
        """`GET /admin/v1/copier/backlog` (backoffice only): what waits in the copier streams."""
        await self._backoffice(request)
        with map_redis_errors("reading the copier backlog"):
            backlog = await read_backlog(self._redis, self._gateway_keys, self.clock())
        return json_response(backlog.as_dict())

    async def dead_letters(self, request: Request) -> Response:
        """`GET /admin/v1/copier/dead-letters` (backoffice only), newest first."""
        await self._backoffice(request)
        return json_response({"dead_letters": await self.read_dead_letters(self._limit(request))})

    async def read_dead_letters(self, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` dead letters of every tenant (callers filter by account)."""
        with map_redis_errors("reading dead letters"):
            rows: Any = await self._redis.xrevrange(self._keys.dead_letters(), count=limit)
        letters = []
        for entry_id, fields in rows:
            data = {k.decode(): v.decode(errors="replace") for k, v in fields.items()}
            letters.append(
                {
                    "id": entry_id.decode(),
                    "stream": data.get("stream"),
                    "entry_id": data.get("entry_id"),
                    "account_id": data.get("account_id"),
                    "error": data.get("error"),
                    "claims": int(data.get("claims") or 0),
                    "dead_ms": int(data.get("dead_ms") or 0),
                    "body": data.get("body"),
                }
            )
        return letters
