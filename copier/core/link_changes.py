"""Which links of a follower's book changed since it was read from the store. Pure.

A commit writes only the link fields that changed (`copier.worker.codec.encode_changes`).
Comparing the whole book to find them costs a Python step per link, and a
follower keeps every link it ever had (closed ones too): hundreds after a day of
trading, on every commit. So a book read from the store carries `PutSinceRead`:
the links mapping as read and the keys put over it since. `LinkBook`'s updates
(`put`, `track`, `reissue`) add their key and keep every other link as the very
object it was, and nothing removes a link, so two books that share the mapping
they were read from can differ only at the keys either of them put
(`changed_keys`). A book built any other way carries nothing and is compared
whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["PutSinceRead", "changed_keys"]

#: (master account id, root master ticket), as `copier.core.links.LinkKey`.
_Key = tuple[str, int]


@dataclass(frozen=True, slots=True)
class PutSinceRead:
    """The links mapping a book was read as, and the keys put over it since."""

    stored: Mapping[_Key, object]  #: the mapping as read (its identity is what is compared)
    keys: frozenset[_Key] = frozenset()  #: keys put since (new or replaced links)

    def plus(self, key: _Key) -> PutSinceRead:
        """This with `key` put as well."""
        return self if key in self.keys else PutSinceRead(self.stored, self.keys | {key})


def changed_keys(before: PutSinceRead | None, after: PutSinceRead | None) -> frozenset[_Key] | None:
    """The only keys at which two books' links may differ, or None when unknown.

    Known when both were read as the same mapping: every other key holds the
    same link object in both.
    """
    if before is None or after is None or before.stored is not after.stored:
        return None
    return before.keys | after.keys
