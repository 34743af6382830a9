"""Secret hashing: argon2id off the event loop, and keyed re-auth fingerprints.

`SecretHasher` owns a small thread pool: argon2id at the OWASP parameters costs
tens of milliseconds of CPU and 19 MiB of memory per call, which must never run on
the event loop. The pool size (`Settings.argon2_threads`) bounds both the CPU and
the memory argon2 can take at once; further calls queue.

`fingerprint` is the re-authentication fast path's lookup key: an HMAC-SHA256,
keyed by the server pepper, of the account id and the secret. See ``docs/auth.md``.
Nothing in this module logs a secret, a hash or a fingerprint.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import SecretStr

from gateway.settings import Settings

__all__ = ["SecretHasher", "fingerprint", "fingerprints_equal"]

_log = logging.getLogger("copygate.auth")

#: Domain separation: a fingerprint can never equal an HMAC computed for another use.
_FINGERPRINT_CONTEXT = b"copygate/account-session-key/v1"


def fingerprint(pepper: SecretStr | str | bytes, account_id: str, secret: str) -> str:
    """The keyed fingerprint of an account's secret (64 hex chars).

    HMAC-SHA256 keyed by the server pepper over a length-prefixed encoding of the
    account id and the secret, so that ("ab", "c") and ("a", "bc") differ and a
    fingerprint only ever matches for one account.

    Args:
        pepper: the server-side secret (`Settings.auth_pepper`); never stored in Redis.
        account_id: the account the secret is presented for.
        secret: the presented secret.
    """
    if isinstance(pepper, SecretStr):
        pepper = pepper.get_secret_value()
    key = pepper.encode() if isinstance(pepper, str) else pepper
    mac = hmac.new(key, _FINGERPRINT_CONTEXT, hashlib.sha256)
    for part in (account_id.encode(), secret.encode()):
        mac.update(len(part).to_bytes(4, "big"))
        mac.update(part)
    return mac.hexdigest()


def fingerprints_equal(a: str, b: str) -> bool:
    """Compare two fingerprints (or token digests) in constant time."""
    return hmac.compare_digest(a.encode(), b.encode())


class SecretHasher:
    """argon2id hashing and verification, run in a bounded thread pool.

    Args:
        settings: reads `argon2_memory_kib`, `argon2_time_cost`,
            `argon2_parallelism` and `argon2_threads`.
    """

    def __init__(self, settings: Settings) -> None:
        #: the argon2-cffi hasher, argon2id with the configured cost
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        #: where hash/verify run; its size bounds concurrent argon2 work
        self._executor = ThreadPoolExecutor(
            max_workers=settings.argon2_threads, thread_name_prefix="argon2"
        )

    @property
    def parameters(self) -> tuple[int, int, int]:
        """(memory KiB, time cost, parallelism) that new hashes get."""
        return (
            self._hasher.memory_cost,
            self._hasher.time_cost,
            self._hasher.parallelism,
        )

    async def hash(self, secret: str) -> str:
        """The argon2id PHC string of `secret` (random salt), computed off the loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._hasher.hash, secret)

    async def verify(self, secret_hash: str, secret: str) -> bool:
        """Whether `secret` matches the PHC string, computed off the loop.

        A malformed stored hash counts as no match (and is logged, without the
        secret); it never raises.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._verify_sync, secret_hash, secret)

    def close(self) -> None:
        """Stop the thread pool (waits for running hashes)."""
        self._executor.shutdown(wait=True)

    def _verify_sync(self, secret_hash: str, secret: str) -> bool:
        """Blocking verify; runs on a pool thread."""
        try:
            return self._hasher.verify(secret_hash, secret)
        except VerifyMismatchError:
            return False
        except (InvalidHashError, VerificationError):
            _log.warning("stored secret hash is malformed or unusable; treated as no match")
            return False
