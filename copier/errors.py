"""Exceptions of the `copier` package.

The pure core (`copier.core`) reports every expected outcome as a value
(`Skip`, `WaitForLink`, ...), never as an exception. Exceptions are kept for
programming errors and inconsistent inputs that a caller must not produce.

Tree::

    CopierError
     ├── InvalidInput          an argument breaks a documented precondition
     └── SnapshotAhead         a master's SyncSnapshot reached the copier before
                               intents sent ahead of it were processed (retried)
"""

from __future__ import annotations

__all__ = ["CopierError", "InvalidInput", "SnapshotAhead"]


class CopierError(Exception):
    """Root of every exception raised by `copier`."""


class InvalidInput(CopierError):
    """An argument breaks a documented precondition (e.g. a non-positive lot step)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        #: the offending argument or field
        self.field = field
        #: what is wrong with it
        self.message = message


class SnapshotAhead(CopierError):
    """A master's SyncSnapshot came before intents the master sent ahead of it were
    processed; its stream entry stays pending and is tried again when claimed."""
