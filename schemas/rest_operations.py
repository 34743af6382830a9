"""The REST API's operations: which model each endpoint takes and answers, and how.

`api_docs.openapi_document` builds the OpenAPI document from these tables: one
`RestOperation` per method and path (`REST_OPERATIONS`), the links of their
successful answers (`RESPONSE_LINKS`), the schemas of query parameters
(`QUERY_SCHEMAS`) and the error answers every operation may give (`ERROR_RESPONSES`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from schemas import rest, subscriptions
from schemas.codes import KeyStatus

__all__ = [
    "ERROR_RESPONSES",
    "QUERY_SCHEMAS",
    "RESPONSE_LINKS",
    "REST_OPERATIONS",
    "RestOperation",
]


@dataclass(frozen=True)
class RestOperation:
    """One REST endpoint: method, path, auth, success status, body models, query parameters."""

    method: str
    path: str
    summary: str
    auth: str | None  # "session" | "admin" | None
    status: int = 200
    request: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    query: tuple[str, ...] = ()  # optional string query parameters

    @property
    def operation_id(self) -> str:
        """``put_admin_v1_accounts_account_id`` and the like: method and path."""
        words = [w.strip("{}") for w in self.path.split("/") if w]
        return "_".join([self.method, *words]).replace("-", "_").replace(".", "_")


#: Links of a successful answer (OpenAPI 3.1 link objects): operation id of the source
#: -> link name -> (target operation id, parameters as runtime expressions). They tell
#: clients (and the stateful fuzzer, bench/fuzz_rest.py) which call follows which.
RESPONSE_LINKS: dict[str, dict[str, tuple[str, dict[str, str]]]] = {
    "put_admin_v1_accounts_account_id": {
        "GetAccount": (
            "get_admin_v1_accounts_account_id",
            {"account_id": "$request.path.account_id"},
        ),
        "ProvisionKey": (
            "post_admin_v1_accounts_account_id_keys",
            {"account_id": "$request.path.account_id"},
        ),
        "QueueMessage": (
            "post_admin_v1_accounts_account_id_messages",
            {"account_id": "$request.path.account_id"},
        ),
        "ListCopies": (
            "get_admin_v1_accounts_follower_id_copies",
            {"follower_id": "$request.path.account_id"},
        ),
        "ListSubscriptions": (
            "get_admin_v1_accounts_follower_id_subscriptions",
            {"follower_id": "$request.path.account_id"},
        ),
    },
    "post_admin_v1_accounts_account_id_keys": {
        name.capitalize() + "Key": (
            f"post_admin_v1_keys_key_id_{name}",
            {"key_id": "$response.body#/key_id"},
        )
        for name in ("approve", "reject", "revoke")
    },
    "post_ea_gateway_v1_sessions": {
        "CloseSession": (
            "delete_admin_v1_sessions_session_id",
            {"session_id": "$response.body#/session_id"},
        ),
    },
    "post_admin_v1_tenants_tenant_id_tokens": {
        "RevokeToken": (
            "delete_admin_v1_tenants_tenant_id_tokens_token_id",
            {"tenant_id": "$request.path.tenant_id", "token_id": "$response.body#/token_id"},
        ),
    },
    "put_admin_v1_accounts_follower_id_subscriptions_master_id": {
        verb.capitalize() + "Subscription": (
            f"{verb}_admin_v1_accounts_follower_id_subscriptions_master_id",
            {"follower_id": "$request.path.follower_id", "master_id": "$request.path.master_id"},
        )
        for verb in ("get", "delete")
    },
}


#: Every REST endpoint, in the order of the OpenAPI document.
REST_OPERATIONS = (
    RestOperation(
        "post",
        "/ea-gateway/v1/sessions",
        "Create an EA session",
        None,
        201,
        rest.SessionCreateRequest,
        rest.SessionCreated,
    ),
    RestOperation(
        "delete", "/ea-gateway/v1/sessions/{session_id}", "The EA closes its own session", "session"
    ),
    RestOperation(
        "post",
        "/ea-gateway/v1/sessions/{session_id}/close",
        "The EA closes its own session (POST form of the DELETE, for MT4's WebRequest)",
        "session",
    ),
    RestOperation(
        "post",
        "/ea-gateway/v1/sessions/{session_id}/exchange",
        "Poll transport: send messages, acknowledge, receive",
        "session",
        200,
        rest.ExchangeRequest,
        rest.ExchangeResponse,
    ),
    RestOperation(
        "get",
        "/admin/v1/keys",
        "List keys (filter with ?status=)",
        "admin",
        response=rest.KeyList,
        query=("status",),
    ),
    RestOperation(
        "post",
        "/admin/v1/keys/{key_id}/approve",
        "Approve a key; its pending sessions are promoted",
        "admin",
    ),
    RestOperation(
        "post",
        "/admin/v1/keys/{key_id}/reject",
        "Reject a key; its sessions close with 4003",
        "admin",
    ),
    RestOperation(
        "post",
        "/admin/v1/keys/{key_id}/revoke",
        "Revoke a key; its sessions close with 4003",
        "admin",
    ),
    RestOperation(
        "post",
        "/admin/v1/accounts/{account_id}/keys",
        "Provision a pre-shared key (shown once)",
        "admin",
        201,
        response=rest.ProvisionedKey,
    ),
    RestOperation(
        "put",
        "/admin/v1/accounts/{account_id}",
        "Create or update an account",
        "admin",
        200,
        rest.AccountUpsert,
        rest.AccountView,
    ),
    RestOperation(
        "get", "/admin/v1/accounts/{account_id}", "An account", "admin", response=rest.AccountView
    ),
    RestOperation(
        "post",
        "/admin/v1/accounts/{account_id}/messages",
        "Queue an OrderCommand or SyncSnapshot request for the EA",
        "admin",
        202,
        rest.AdminCommandRequest,
        rest.AdminCommandQueued,
    ),
    RestOperation(
        "get",
        "/admin/v1/sessions",
        "Live sessions (?account_id=)",
        "admin",
        response=rest.SessionList,
        query=("account_id",),
    ),
    RestOperation("delete", "/admin/v1/sessions/{session_id}", "Close a session", "admin"),
    RestOperation("get", "/admin/v1/accounts", "Accounts in the caller's scope", "admin"),
    RestOperation(
        "get",
        "/admin/v1/health",
        "Replication health in the caller's scope (copies/min, p50/p99, rejections, backlog)",
        "admin",
    ),
    RestOperation(
        "get",
        "/admin/v1/console/events",
        "Server-Sent Events: a console snapshot of the caller's scope every second",
        "admin",
    ),
    RestOperation(
        "post",
        "/admin/v1/tenants/{tenant_id}/tokens",
        "Issue a tenant-admin token (backoffice only)",
        "admin",
        201,
        rest.TenantTokenRequest,
        rest.TenantTokenCreated,
    ),
    RestOperation(
        "delete",
        "/admin/v1/tenants/{tenant_id}/tokens/{token_id}",
        "Revoke a tenant-admin token (backoffice only); 204",
        "admin",
        204,
    ),
    RestOperation(
        "put",
        "/admin/v1/accounts/{follower_id}/subscriptions/{master_id}",
        "Create or replace a subscription",
        "admin",
        200,
        subscriptions.SubscriptionSettings,
        subscriptions.SubscriptionView,
    ),
    RestOperation(
        "get",
        "/admin/v1/accounts/{follower_id}/subscriptions/{master_id}",
        "One subscription",
        "admin",
        response=subscriptions.SubscriptionView,
    ),
    RestOperation(
        "delete",
        "/admin/v1/accounts/{follower_id}/subscriptions/{master_id}",
        "Delete a subscription; 204",
        "admin",
        204,
    ),
    RestOperation(
        "get",
        "/admin/v1/accounts/{follower_id}/subscriptions",
        "A follower's subscriptions",
        "admin",
        response=subscriptions.SubscriptionList,
    ),
    RestOperation(
        "get",
        "/admin/v1/accounts/{follower_id}/copies",
        "A follower's copy records, newest first, with the latency split",
        "admin",
        query=("master_id", "limit"),
    ),
    RestOperation(
        "get",
        "/admin/v1/audit",
        "Audit trail of subscription changes (?account_id=; without it: backoffice only)",
        "admin",
        query=("account_id", "limit"),
    ),
    RestOperation(
        "get",
        "/admin/v1/copier/dead-letters",
        "Intents the copier gave up on (backoffice only)",
        "admin",
        query=("limit",),
    ),
    RestOperation(
        "get",
        "/admin/v1/copier/backlog",
        "What waits in the copier's streams: unread, pending, oldest age (backoffice only)",
        "admin",
    ),
)

#: Schemas of the query parameters that are not plain strings.
QUERY_SCHEMAS: dict[str, dict[str, Any]] = {
    "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
    "status": {"type": "string", "enum": [status.value for status in KeyStatus]},
}

#: The error answers of every operation (status -> description; the body is an ErrorBody).
ERROR_RESPONSES = {
    "400": "Malformed JSON",
    "401": "Bad or missing credentials",
    "403": "Not allowed for this role or tenant",
    "404": "Unknown resource (or unknown account, see docs/admin-rules.md)",
    "405": "Method not allowed on this path",
    "409": "Conflicts with the stored state (role change under subscriptions, refused key)",
    "410": "Session closed (error.code is the close reason)",
    "413": "Body too large",
    "422": "Validation failed (details name the fields)",
    "429": "Rate limited (see Retry-After)",
    "503": "Store unavailable",
}
