"""`DecodeCache`: decoded values kept next to what identifies the stored form they came from.

Decoding a follower's record (its link book: dozens of links, Decimals, enums)
costs more than everything else the worker does per follower. The record only
changes when a commit changes it, so the worker keeps the decoded value with a
key of its stored form and decodes again only when Redis holds another one. For
follower records that key is (version, epoch): every write raises the version
and a re-created record gets a new random epoch (see `copier.worker.store`), so
a hit can never hand out a value that differs from decoding what Redis holds
now; values are immutable, so sharing them is safe.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["DecodeCache"]

V = TypeVar("V")


class DecodeCache(Generic[V]):
    """Key -> (raw, decoded value), bounded (the oldest entry goes first)."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._max = max_entries  #: entries kept at most
        self._data: dict[str, tuple[Hashable, V]] = {}  #: key -> (raw, value)

    def get(self, key: str, raw: Hashable) -> V | None:
        """The value decoded from the stored form `raw` identifies for `key`, if kept."""
        hit = self._data.get(key)
        if hit is None or hit[0] != raw:
            return None
        return hit[1]

    def put(self, key: str, raw: Hashable, value: V) -> None:
        """Keep `value` as the decoding of the stored form `raw` identifies for `key`."""
        self._data.pop(key, None)
        if len(self._data) >= self._max:
            del self._data[next(iter(self._data))]
        self._data[key] = (raw, value)

    def __len__(self) -> int:
        return len(self._data)
