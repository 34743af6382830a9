"""Exceptions of the `schemas` package.

Tree::

    SchemaError
     └── EnvelopeError      an inbound frame could not become an envelope
"""

from __future__ import annotations

from typing import Any

from schemas.codes import ErrorCode

__all__ = ["EnvelopeError", "SchemaError"]


class SchemaError(Exception):
    """Root of every exception raised by `schemas`."""


class EnvelopeError(SchemaError):
    """An inbound frame is malformed JSON, of an unknown type, or fails validation."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        ref_id: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        #: `malformed_json`, `unknown_type` or `validation_error`.
        self.code = code
        #: Human readable reason.
        self.message = message
        #: The offending envelope's `id`, when one could be read.
        self.ref_id = ref_id
        #: Field-level problems (pydantic error dicts without input values).
        self.details = details or []
