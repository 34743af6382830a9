"""Store-port fakes: one that counts calls (then makes them), one that is unreachable."""

from __future__ import annotations

from typing import Any

from gateway.errors import StoreUnavailable

__all__ = ["Counted", "Unreachable"]


class Counted:
    """A store port that records every call made to it, then makes it (a fake)."""

    def __init__(self, name: str, port: Any, calls: list[str]) -> None:
        self._name = name  #: the port's name in `calls`
        self._port = port  #: the real port
        self._calls = calls  #: shared call log, "<port>.<method>"

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._port, attr)
        if not callable(value):
            return value

        def counted(*args: Any, **kwargs: Any) -> Any:
            self._calls.append(f"{self._name}.{attr}")
            return value(*args, **kwargs)

        return counted


class Unreachable:
    """A store port whose every call fails as if Redis were down (a fake)."""

    def __init__(self, port: Any) -> None:
        self._port = port  #: the real port (for its non-callable attributes)

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._port, attr)
        if not callable(value):
            return value

        async def unreachable(*args: Any, **kwargs: Any) -> Any:
            raise StoreUnavailable(f"{attr}: connection refused")

        return unreachable
