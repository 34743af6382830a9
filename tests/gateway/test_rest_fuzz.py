"""No request a client can send makes the REST API answer 500 (property-based)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.app import create_app
from gateway.settings import Settings

T = TypeVar("T")
ADMIN = {"Authorization": "Bearer fuzz-admin"}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(
    [
        "account_id",
        "auth_method",
        "credentials",
        "key",
        "client",
        "messages",
        "ack_seq",
        "wait_ms",
        "tenant_id",
        "role",
        "label",
        "message",
        "type",
        "id",
        "ts",
        "payload",
    ]
)
bodies = st.one_of(
    json_values,
    st.dictionaries(field_names, json_values, max_size=6),
    st.fixed_dictionaries(
        {
            "account_id": st.text(max_size=70),
            "auth_method": st.sampled_from(["account_session_key", "x"]),
            "credentials": st.dictionaries(st.just("key"), json_values),
        }
    ),
)
paths = st.sampled_from(
    [
        ("POST", "/ea-gateway/v1/sessions"),
        ("POST", "/ea-gateway/v1/sessions/{sid}/exchange"),
        ("DELETE", "/ea-gateway/v1/sessions/{sid}"),
        ("POST", "/ea-gateway/v1/sessions/{sid}/close"),
        ("PUT", "/admin/v1/accounts/{account}"),
        ("POST", "/admin/v1/accounts/{account}/keys"),
        ("POST", "/admin/v1/accounts/{account}/messages"),
        ("POST", "/admin/v1/keys/{key}/approve"),
        ("POST", "/admin/v1/tenants/{account}/tokens"),
        ("GET", "/admin/v1/sessions"),
        ("GET", "/admin/v1/keys"),
    ]
)
path_params = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="/?#%"),
    min_size=1,
    max_size=70,
)


class AppThread:
    """The real app (embedded store) on its own event loop thread, like a server."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.app = create_app(
            Settings(
                admin_token="fuzz-admin",
                argon2_memory_kib=8,
                argon2_time_cost=1,
                session_create_limit=10**9,
            )
        )
        self.lifespan = self.app.router.lifespan_context(self.app)
        self.run(self.lifespan.__aenter__())
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://gw"
        )

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def close(self) -> None:
        self.run(self.client.aclose())
        self.run(self.lifespan.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture(scope="module")
def app_thread() -> Iterator[AppThread]:
    thread = AppThread()
    yield thread
    thread.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(route=paths, body=bodies, param=path_params, admin=st.booleans(), raw=st.booleans())
def test_no_client_input_causes_a_server_error(
    app_thread: AppThread,
    route: tuple[str, str],
    body: object,
    param: str,
    admin: bool,
    raw: bool,
) -> None:
    method, template = route
    path = template.format(sid=param, account=param, key=param)
    content = json.dumps(body).encode() if not raw else str(body).encode()
    headers = {"content-type": "application/json", **(ADMIN if admin else {})}
    response = app_thread.run(
        app_thread.client.request(method, path, content=content, headers=headers)
    )
    assert response.status_code < 500, (method, path, body, response.text)
    if response.status_code >= 400:
        assert isinstance(response.json()["error"]["code"], str)
