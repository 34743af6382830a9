"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os

import pytest

REDIS_URL = os.environ.get("COPYGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def real_redis_url() -> str:
    """URL of the real Redis the integration tests use (must be reachable)."""
    return REDIS_URL
