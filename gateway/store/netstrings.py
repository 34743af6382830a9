"""Netstrings: many values in one script argument. Pure.

``<length>:<bytes>`` per value, concatenated, with no separator: a script reads
them back with `string.find` and `string.sub` (see ``enqueue_many.lua``) without
parsing or unescaping the values (JSON documents themselves). One argument
instead of one per value spares the client the packing of each (redis-py
encodes and frames every argument on its own), which dominates a call that
carries thousands of small values. The copier's scripts read the same format.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["netstrings", "read_netstrings"]


def netstrings(values: Iterable[bytes]) -> bytes:
    """``<length>:<bytes>`` for each value, concatenated (what the scripts' `nxt` reads)."""
    return b"".join([b"%d:%s" % (len(value), value) for value in values])


def read_netstrings(blob: bytes) -> list[bytes]:
    """The values of a netstring sequence (the inverse of `netstrings`)."""
    values: list[bytes] = []
    pos = 0
    while pos < len(blob):
        colon = blob.index(b":", pos)
        length = int(blob[pos:colon])
        values.append(blob[colon + 1 : colon + 1 + length])
        pos = colon + 1 + length
    return values
