"""`SecretHasher` (argon2id off the loop) and the keyed fingerprints."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from gateway.auth.hashing import SecretHasher, fingerprint, fingerprints_equal
from gateway.settings import Settings


@pytest.fixture
def owasp_hasher() -> Iterator[SecretHasher]:
    """A hasher with the default (OWASP) settings."""
    hasher = SecretHasher(Settings())
    yield hasher
    hasher.close()


async def test_hasher_applies_the_owasp_defaults(owasp_hasher: SecretHasher) -> None:
    assert owasp_hasher.parameters == (19 * 1024, 2, 1)
    phc = await owasp_hasher.hash("a-secret-of-sufficient-length")
    assert phc.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await owasp_hasher.verify(phc, "a-secret-of-sufficient-length")


async def test_hasher_runs_argon2_off_the_event_loop(owasp_hasher: SecretHasher) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await owasp_hasher.hash("a-secret-of-sufficient-length")
    task.cancel()
    assert ticks > 1  # the loop kept running while argon2 worked


async def test_hasher_uses_the_configured_cost() -> None:
    hasher = SecretHasher(Settings(argon2_memory_kib=8, argon2_time_cost=1))
    try:
        assert "$m=8,t=1,p=1$" in await hasher.hash("a-secret-of-sufficient-length")
    finally:
        hasher.close()


async def test_verify_is_false_for_another_secret(settings: Settings) -> None:
    hasher = SecretHasher(settings)
    try:
        phc = await hasher.hash("the-right-secret-0001")
        assert phc != await hasher.hash("the-right-secret-0001")  # salted
        assert not await hasher.verify(phc, "the-wrong-secret-0001")
    finally:
        hasher.close()


async def test_verify_treats_a_malformed_hash_as_no_match_without_logging_the_secret(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hasher = SecretHasher(settings)
    try:
        assert not await hasher.verify("not-a-phc-string", "the-secret-to-hide-0001")
    finally:
        hasher.close()
    assert "malformed" in caplog.text
    assert "the-secret-to-hide-0001" not in caplog.text


def test_fingerprint_is_a_deterministic_hmac_hex_digest() -> None:
    first = fingerprint(SecretStr("pepper"), "demo-1", "secret-secret-secret")
    assert first == fingerprint("pepper", "demo-1", "secret-secret-secret")
    assert first == fingerprint(b"pepper", "demo-1", "secret-secret-secret")
    assert len(first) == 64
    int(first, 16)


@pytest.mark.parametrize(
    ("pepper", "account_id", "secret"),
    [
        ("other-pepper", "demo-1", "secret-secret-secret"),  # another server
        ("pepper", "demo-2", "secret-secret-secret"),  # another account
        ("pepper", "demo-1", "secret-secret-secreT"),  # another secret
        ("pepper", "demo-1s", "ecret-secret-secret"),  # same bytes, other split
    ],
)
def test_fingerprint_changes_with_pepper_account_and_secret(
    pepper: str, account_id: str, secret: str
) -> None:
    base = fingerprint("pepper", "demo-1", "secret-secret-secret")
    assert fingerprint(pepper, account_id, secret) != base


def test_fingerprints_equal_compares_values() -> None:
    a = fingerprint("p", "demo-1", "secret-secret-secret")
    assert fingerprints_equal(a, str(a))
    assert not fingerprints_equal(a, fingerprint("p", "demo-1", "secret-secret-other"))
