"""Which decisions a key's status allows (approve, reject, revoke). Pure."""

from __future__ import annotations

from schemas.codes import KeyStatus

__all__ = ["KEY_DECISIONS_FROM", "key_decision"]


#: The statuses each key decision may be taken from (besides repeating it).
KEY_DECISIONS_FROM: dict[KeyStatus, frozenset[KeyStatus]] = {
    KeyStatus.APPROVED: frozenset({KeyStatus.PENDING}),
    KeyStatus.REJECTED: frozenset({KeyStatus.PENDING, KeyStatus.APPROVED}),
    KeyStatus.REVOKED: frozenset({KeyStatus.PENDING, KeyStatus.APPROVED}),
}


def key_decision(current: KeyStatus, wanted: KeyStatus) -> str:
    """What deciding `wanted` on a key in `current` does: ``apply``, ``same`` or ``conflict``.

    Decisions are idempotent: repeating the one already taken changes nothing (the
    first decision's time and author stay). A pending key may be approved; a
    pending or approved key may be refused (rejected or revoked: both close its
    sessions and refuse it from then on). A refusal is final: approving a refused
    key, or refusing it with the other word, contradicts the stored decision.
    """
    if current is wanted:
        return "same"
    return "apply" if current in KEY_DECISIONS_FROM.get(wanted, frozenset()) else "conflict"
