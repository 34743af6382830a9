"""REST error responses: always JSON `{"error": {"code", "message", "details"}}`.

Foreign exceptions are translated here, at the HTTP edge; nothing a client can
send produces a 500.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import (
    Conflict,
    FencingError,
    InvalidCredentials,
    InvalidToken,
    LimitExceeded,
    NotFound,
    StoreUnavailable,
    UnsupportedAuthMethod,
)
from schemas.codes import ErrorCode

__all__ = [
    "ApiError",
    "error_response",
    "exception_handlers",
    "json_response",
    "read_body",
]

_log = logging.getLogger("copygate.http")
ModelT = TypeVar("ModelT", bound=BaseModel)

#: Largest REST body accepted (the poll transport carries up to 500 messages).
MAX_REST_BODY = 1024 * 1024


class ApiError(Exception):
    """Raise anywhere in a route to answer with a JSON error."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status  #: HTTP status
        self.code = code  #: stable `error.code`
        self.message = message  #: human readable
        self.details = details  #: structured details (e.g. field errors)
        self.headers = headers or {}  #: extra headers (Retry-After, WWW-Authenticate)


def json_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response serialised with orjson."""
    return Response(
        orjson.dumps(content), status_code=status, headers=headers, media_type="application/json"
    )


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The one shape of every REST error."""
    body = {"error": {"code": code, "message": message, "details": details}}
    return json_response(body, status, headers)


def _field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": [str(p) for p in err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


async def read_body(request: Request, model: type[ModelT]) -> ModelT:
    """Read and validate a JSON body; 413 when too large, 400 malformed, 422 invalid."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_REST_BODY:
        raise ApiError(413, ErrorCode.PAYLOAD_TOO_LARGE, f"body exceeds {MAX_REST_BODY} bytes")
    raw = await request.body()
    if len(raw) > MAX_REST_BODY:
        raise ApiError(413, ErrorCode.PAYLOAD_TOO_LARGE, f"body exceeds {MAX_REST_BODY} bytes")
    try:
        data = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, ErrorCode.MALFORMED_JSON, f"body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, ErrorCode.MALFORMED_JSON, "body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(
            422,
            ErrorCode.VALIDATION_ERROR,
            "request body failed validation",
            details=_field_errors(exc),
        ) from exc


def _retry_headers(seconds: int) -> dict[str, str]:
    return {"Retry-After": str(max(1, seconds))}


async def _on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(
        exc.status, exc.code, exc.message, details=exc.details, headers=exc.headers
    )


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED}.get(
        exc.status_code, ErrorCode.VALIDATION_ERROR
    )
    return error_response(
        exc.status_code, code, str(exc.detail), headers=dict(exc.headers) if exc.headers else None
    )


async def _on_gateway_error(request: Request, exc: Exception) -> Response:
    match exc:
        case LimitExceeded():
            headers = _retry_headers(exc.retry_after_s)
            return error_response(429, exc.error_code, str(exc), headers=headers)
        case StoreUnavailable():
            _log.warning("store unavailable: %s", exc)
            return error_response(
                503,
                ErrorCode.STORE_UNAVAILABLE,
                "the session store is unavailable; retry shortly",
                headers=_retry_headers(2),
            )
        case UnsupportedAuthMethod():
            return error_response(
                422,
                ErrorCode.UNSUPPORTED_AUTH_METHOD,
                str(exc),
                details=[{"loc": ["auth_method"], "msg": str(exc)}],
            )
        case InvalidCredentials():
            return error_response(401, ErrorCode.INVALID_CREDENTIALS, str(exc))
        case InvalidToken():
            return error_response(
                401, ErrorCode.INVALID_TOKEN, str(exc), headers={"WWW-Authenticate": "Bearer"}
            )
        case NotFound():
            return error_response(404, ErrorCode.NOT_FOUND, str(exc))
        case Conflict():
            return error_response(409, ErrorCode.CONFLICT, str(exc))
        case FencingError():
            return error_response(410, exc.reason or ErrorCode.CONFLICT, str(exc))
    return await _on_unexpected(request, exc)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    _log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, ErrorCode.INTERNAL_ERROR, "internal error")


def exception_handlers() -> dict[Any, Any]:
    """The Starlette exception handler table."""
    from gateway.errors import GatewayError

    return {
        ApiError: _on_api_error,
        HTTPException: _on_http_exception,
        GatewayError: _on_gateway_error,
        Exception: _on_unexpected,
    }
