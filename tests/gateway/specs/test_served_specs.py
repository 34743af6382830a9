"""The gateway serves its OpenAPI, AsyncAPI and a readable API page, all from the models."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from gateway.app import create_app
from schemas.generate import JSON_DIR
from tests.route_table import WEBSOCKET, api_routes, documented


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield http


@pytest.mark.parametrize("name", ["openapi.json", "asyncapi.json"])
async def test_gateway_serves_the_committed_document_when_asked_for(
    client: httpx.AsyncClient, name: str
) -> None:
    response = await client.get(f"/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == orjson.loads((JSON_DIR / name).read_bytes())


async def test_api_page_lists_every_operation_and_schema(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    openapi = orjson.loads((JSON_DIR / "openapi.json").read_bytes())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    for path, methods in openapi["paths"].items():
        assert f'id="{next(iter(methods)).upper()}-{path}"' in response.text
    for name in openapi["components"]["schemas"]:
        assert f'id="schema-{name}"' in response.text


async def test_api_page_loads_nothing_from_other_hosts(client: httpx.AsyncClient) -> None:
    html = (await client.get("/docs")).text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "<script" not in html


@pytest.mark.parametrize(("method", "path"), api_routes())
def test_openapi_documents_the_route_when_the_app_serves(method: str, path: str) -> None:
    if method == WEBSOCKET:
        asyncapi = orjson.loads((JSON_DIR / "asyncapi.json").read_bytes())
        addresses = [channel["address"] for channel in asyncapi["channels"].values()]
        assert path in addresses
        return
    openapi = orjson.loads((JSON_DIR / "openapi.json").read_bytes())
    paths = [p for p, methods in openapi["paths"].items() if method.lower() in methods]
    assert documented(path, paths), f"{method} {path} is missing from the OpenAPI document"
