"""The two REST calls of an EA: create a session, delete it."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from gateway.client.errors import ConnectionLost
from gateway.client.policy import CloseInfo
from gateway.client.transports import error_code, retry_after_s
from schemas.rest import SessionCreated

__all__ = ["ClientConfig", "create_session", "delete_session"]


@dataclass(frozen=True)
class ClientConfig:
    """Where and as whom an `EAClient` connects."""

    base_url: str  #: e.g. ``http://127.0.0.1:8080``
    account_id: str  #: the trading account
    key: str  #: the account session key (generated once, or provisioned)
    transport: Literal["websocket", "poll"] = "websocket"  #: how messages travel
    auth_method: str = "account_session_key"  #: the session's auth method
    client_info: dict[str, Any] = field(
        default_factory=lambda: {"platform": "python-sdk", "ea_version": "0.1.0"}
    )  #: telemetry sent at session creation
    poll_wait_ms: int = 25_000  #: long-poll hold of the poll transport
    snapshot_on_start: bool = True  #: send a SyncSnapshot after InitAck (needs a provider)
    request_timeout_s: float = 10.0  #: REST timeout

    @property
    def ws_url(self) -> str:
        """The stream endpoint."""
        base = self.base_url.rstrip("/")
        scheme, _, rest = base.partition("://")
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ea-gateway/v1/stream"


async def create_session(http: httpx.AsyncClient, config: ClientConfig) -> SessionCreated:
    """`POST /ea-gateway/v1/sessions`.

    Raises:
        ConnectionLost: the server refused (`info.http_status`) or was unreachable.
    """
    body = {
        "account_id": config.account_id,
        "auth_method": config.auth_method,
        "credentials": {"key": config.key},
        "client": config.client_info,
    }
    try:
        response = await http.post(
            f"{config.base_url.rstrip('/')}/ea-gateway/v1/sessions",
            json=body,
            timeout=config.request_timeout_s,
        )
    except httpx.HTTPError as exc:
        raise ConnectionLost(CloseInfo.network(f"{type(exc).__name__}: {exc}")) from exc
    if response.status_code != 201:
        info = CloseInfo.http(response.status_code, error_code(response), retry_after_s(response))
        raise ConnectionLost(info)
    return SessionCreated.model_validate(response.json())


async def delete_session(
    http: httpx.AsyncClient, config: ClientConfig, session: SessionCreated
) -> None:
    """`DELETE /ea-gateway/v1/sessions/{id}`: end our own session (errors ignored)."""
    with contextlib.suppress(httpx.HTTPError):
        await http.delete(
            f"{config.base_url.rstrip('/')}/ea-gateway/v1/sessions/{session.session_id}",
            headers={"Authorization": f"Bearer {session.session_token}"},
            timeout=config.request_timeout_s,
        )
