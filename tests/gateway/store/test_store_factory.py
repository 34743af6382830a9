"""`open_store`: Redis when a URL is configured, else the embedded store (loudly)."""

from __future__ import annotations

import logging
import secrets

import pytest

from gateway.errors import StoreUnavailable
from gateway.settings import Settings
from gateway.store.factory import open_store
from schemas.codes import SessionState


async def test_open_store_without_redis_url_is_embedded_and_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="copygate.store"):
        bundle = await open_store(Settings(redis_url=None))
    try:
        assert bundle.embedded
        assert any("EMBEDDED" in r.getMessage() for r in caplog.records)
        created = await bundle.sessions.create_session(
            account_id="demo-1",
            session_id="s1",
            token_hash="t",
            key_id=None,
            authenticated=True,
            now_ms=1,
            heartbeat_timeout_ms=1000,
            max_pending_sessions=1,
        )
        assert created.session.state is SessionState.AUTHENTICATED
        assert (await bundle.delivery.enqueue("demo-1", "m1", b'{"id":"m1"}')).seq == 1
    finally:
        await bundle.aclose()


async def test_open_store_with_redis_url_shares_state_between_bundles(real_redis_url: str) -> None:
    prefix = f"cgtest-{secrets.token_hex(4)}"
    settings = Settings(redis_url=real_redis_url, key_prefix=prefix)
    first, second = await open_store(settings), await open_store(settings)
    try:
        assert not first.embedded
        await first.delivery.next_seq("demo-1")
        assert await second.delivery.next_seq("demo-1") == 2
    finally:
        async for name in first.redis.scan_iter(match=f"{prefix}:*"):
            await first.redis.delete(name)
        await first.aclose()
        await second.aclose()


async def test_open_store_with_unreachable_redis_raises_store_unavailable() -> None:
    with pytest.raises(StoreUnavailable):
        await open_store(Settings(redis_url="redis://127.0.0.1:1/0"))
