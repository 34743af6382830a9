"""Fixtures of the gateway tests that drive the real app in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.app import create_app
from tests.gateway.inprocess import Api, rules_settings


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    """The app (embedded store) with its lifespan running, and a client of it."""
    app = create_app(rules_settings())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            yield Api(client)
