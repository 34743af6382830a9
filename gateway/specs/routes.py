"""`GET /openapi.json`, `GET /asyncapi.json` and `GET /docs`.

The documents are the ones `schemas.generate` commits to `schemas/json/`, built
from the same models when the app is created; `/docs` renders the OpenAPI as one
self-contained HTML page (jinja2, inline CSS, nothing fetched from elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from schemas.api_docs import asyncapi_document, openapi_document

__all__ = ["ApiPage", "OperationView", "spec_routes"]

_METHOD_ORDER = ("get", "put", "post", "delete")


@dataclass(frozen=True)
class OperationView:
    """One operation of the OpenAPI, as the page shows it."""

    method: str  #: upper-case HTTP method
    path: str  #: path template
    summary: str  #: one line
    auth: str  #: "admin token", "session token" or "none"
    ok_status: str  #: the success status
    request_schema: str | None  #: request body model name
    response_schema: str | None  #: success body model name
    query: tuple[str, ...]  #: documented query parameters


def _model_name(content: dict[str, Any] | None) -> str | None:
    if not content:
        return None
    ref: str | None = content.get("application/json", {}).get("schema", {}).get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def _auth(operation: dict[str, Any]) -> str:
    for requirement in operation.get("security", []):
        if "adminToken" in requirement:
            return "admin token"
        if "sessionToken" in requirement:
            return "session token"
    return "none"


def _views(openapi: dict[str, Any]) -> list[OperationView]:
    views = []
    for path, methods in openapi["paths"].items():
        for method in sorted(methods, key=_METHOD_ORDER.index):
            operation = methods[method]
            ok = next(s for s in operation["responses"] if s.startswith("2"))
            views.append(
                OperationView(
                    method=method.upper(),
                    path=path,
                    summary=operation["summary"],
                    auth=_auth(operation),
                    ok_status=ok,
                    request_schema=_model_name(operation.get("requestBody", {}).get("content")),
                    response_schema=_model_name(operation["responses"][ok].get("content")),
                    query=tuple(
                        p["name"] for p in operation.get("parameters", []) if p["in"] == "query"
                    ),
                )
            )
    return views


def _message_names(asyncapi: dict[str, Any], operation: str) -> list[str]:
    return [m["$ref"].rsplit("/", 1)[-1] for m in asyncapi["operations"][operation]["messages"]]


class ApiPage:
    """The served documents, rendered once per process."""

    def __init__(self) -> None:
        self._templates = Environment(
            loader=PackageLoader("gateway.specs", "templates"),
            autoescape=select_autoescape(["html"]),
        )  #: jinja2 environment over gateway/specs/templates

    @cached_property
    def openapi(self) -> bytes:
        """The OpenAPI 3.1 document as JSON bytes."""
        return orjson.dumps(openapi_document())

    @cached_property
    def asyncapi(self) -> bytes:
        """The AsyncAPI 3.0 document as JSON bytes."""
        return orjson.dumps(asyncapi_document())

    @cached_property
    def html(self) -> str:
        """The human-readable API page."""
        openapi = openapi_document()
        asyncapi = asyncapi_document()
        schemas = {
            name: orjson.dumps(schema, option=orjson.OPT_INDENT_2).decode()
            for name, schema in sorted(openapi["components"]["schemas"].items())
        }
        return self._templates.get_template("api.html").render(
            info=openapi["info"],
            operations=_views(openapi),
            schemas=schemas,
            stream=asyncapi["channels"]["stream"]["address"],
            sent=[
                m["$ref"].rsplit("/", 1)[-1]
                for m in asyncapi["operations"]["sendFromEA"]["messages"]
            ],
            received=[
                m["$ref"].rsplit("/", 1)[-1]
                for m in asyncapi["operations"]["receiveFromServer"]["messages"]
            ],
        )


def spec_routes() -> list[BaseRoute]:
    """The three documentation routes (no authentication: they hold no data)."""
    page = ApiPage()

    async def openapi(request: Request) -> Response:
        return Response(page.openapi, media_type="application/json")

    async def asyncapi(request: Request) -> Response:
        return Response(page.asyncapi, media_type="application/json")

    async def docs(request: Request) -> Response:
        return HTMLResponse(page.html)

    return [
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/asyncapi.json", asyncapi, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
    ]
