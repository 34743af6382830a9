"""Pure rules of the admin API (no I/O): what an account change may not break.

See docs/admin-rules.md for the whole rule set (404 rule, decision idempotency,
role changes, bounds).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gateway.store.records import AccountRecord

__all__ = ["SubscriptionLinks", "conflicting_subscriptions"]


class SubscriptionLinks(Protocol):
    """Which subscriptions an account is part of (the copier's `SubscriptionStore`)."""

    async def links(self, account_id: str) -> list[tuple[str, str]]:
        """Every (follower_id, master_id) pair the account is part of, sorted."""
        ...


def conflicting_subscriptions(
    before: AccountRecord | None, after: AccountRecord, links: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The subscriptions that `before` -> `after` would contradict (empty: allowed).

    A subscription joins a follower and a master of one tenant. So while an account
    is the follower of a subscription it stays a follower, while it is the master of
    one it stays a master, and while it has any it stays in its tenant. A label
    change never conflicts; neither does any change of an account with no
    subscription (delete them first).
    """
    if before is None:
        return []
    if before.tenant_id != after.tenant_id:
        return list(links)
    if before.role is after.role:
        return []
    account = after.account_id
    return [
        (follower, master)
        for follower, master in links
        if (follower == account) or (master == account)
    ]
