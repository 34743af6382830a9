"""The admin and EA routes of the real application, for reference-coverage tests."""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.routing import Route, WebSocketRoute

from gateway.app import create_app

__all__ = ["WEBSOCKET", "api_routes", "documented"]

#: The "method" of a WebSocket route in `api_routes`.
WEBSOCKET = "WEBSOCKET"

_PARAM = re.compile(r"\{[^}]+\}")
_ANY_SEGMENT = r"(?:\{[^}/]+\}|[A-Za-z0-9_.:-]+)"


def api_routes() -> list[tuple[str, str]]:
    """Every (METHOD, path template) of the Starlette table under /admin/ or /ea-gateway/."""
    found = []
    for route in create_app().routes:
        if not route.path.startswith(("/admin/", "/ea-gateway/")):
            continue
        if isinstance(route, WebSocketRoute):
            methods = {WEBSOCKET}
        else:
            assert isinstance(route, Route) and route.methods
            methods = route.methods - {"HEAD"}
        found += [(method, route.path) for method in sorted(methods)]
    return sorted(set(found))


def documented(path: str, documented_paths: Iterable[str]) -> bool:
    """Whether some documented path matches `path`'s template.

    A parameter of the route matches a parameter or a literal segment of the
    documented path (`/keys/{key_id}/{decision}` is documented by
    `/keys/{key_id}/approve`); names of parameters may differ.
    """
    segments = [
        _ANY_SEGMENT if _PARAM.fullmatch(part) else re.escape(part) for part in path.split("/")
    ]
    pattern = re.compile("/".join(segments) + "$")
    return any(pattern.match(candidate) for candidate in documented_paths)
