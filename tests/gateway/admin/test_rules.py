"""The pure role-change rule (`gateway.admin.rules.conflicting_subscriptions`)."""

from __future__ import annotations

import pytest

from gateway.admin.rules import conflicting_subscriptions
from gateway.store.key_decisions import key_decision
from gateway.store.records import AccountRecord
from schemas.codes import KeyStatus, Role

LINKS = [("a", "m1"), ("f9", "a")]  # account "a" follows m1 and is followed by f9


@pytest.mark.parametrize(
    ("before", "after", "links", "conflicts"),
    [
        (None, ("t1", Role.MASTER), LINKS, []),  # creation
        (("t1", Role.FOLLOWER), ("t1", Role.FOLLOWER), LINKS, []),  # label only
        (("t1", Role.FOLLOWER), ("t1", Role.MASTER), [], []),  # no subscriptions
        (("t1", Role.FOLLOWER), ("t1", Role.MASTER), LINKS, LINKS),
        (("t1", Role.MASTER), ("t2", Role.MASTER), LINKS, LINKS),  # tenant change
    ],
)
def test_account_change_conflicts_with_the_subscriptions_it_would_break(
    before: tuple[str, Role] | None,
    after: tuple[str, Role],
    links: list[tuple[str, str]],
    conflicts: list[tuple[str, str]],
) -> None:
    old = None if before is None else AccountRecord("a", before[0], before[1])
    new = AccountRecord("a", after[0], after[1], label="x")
    assert conflicting_subscriptions(old, new, links) == conflicts


@pytest.mark.parametrize(
    ("current", "wanted", "verdict"),
    [
        (KeyStatus.PENDING, KeyStatus.APPROVED, "apply"),
        (KeyStatus.PENDING, KeyStatus.REJECTED, "apply"),
        (KeyStatus.APPROVED, KeyStatus.REVOKED, "apply"),
        (KeyStatus.APPROVED, KeyStatus.APPROVED, "same"),
        (KeyStatus.REJECTED, KeyStatus.APPROVED, "conflict"),
        (KeyStatus.REVOKED, KeyStatus.REJECTED, "conflict"),
    ],
)
def test_key_decision_is_idempotent_and_a_refusal_is_final(
    current: KeyStatus, wanted: KeyStatus, verdict: str
) -> None:
    assert key_decision(current, wanted) == verdict
