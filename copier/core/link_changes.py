"""Which links of a follower's book changed since it was read from the store. Pure.

A commit writes only the link fields that changed (`copier.worker.codec.encode_changes`).
Comparing the whole book to find them costs a Python step per link, and a
follower keeps every link it ever had (closed ones too): hundreds after a day of
trading, on every commit. So a book read from the store (`LinkBook.as_read`)
carries the links mapping it was read as (`read_as`) and the keys put over it
since (`put_since`). `LinkBook`'s updates (`put`, `track`, `reissue`) add their
key and keep every other link as the very object it was, and nothing removes a
link, so two books read as the same mapping can differ only at the keys either
of them put (`changed_keys`). A book built any other way has no `read_as` and is
compared whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from copier.core.links import LinkBook, LinkKey

__all__ = ["changed_keys"]


def changed_keys(before: LinkBook, after: LinkBook) -> set[LinkKey] | None:
    """The only keys at which two books' links may differ, or None when unknown.

    Known when both were read as the same mapping: every other key holds the
    same link object in both.
    """
    if before.read_as is None or before.read_as is not after.read_as:
        return None
    return {*before.put_since, *after.put_since}
