"""What the console shows one admin principal: everything in its scope, in one snapshot.

A back-office principal sees every tenant; a tenant admin only the accounts of
its tenant, and the keys, sessions, copies, dead letters and audit entries of
those accounts. The snapshot reads the same stores the admin API reads.
"""

from __future__ import annotations

from typing import Any

from copier.api import CopierRoutes, copy_view
from gateway.admin.views import account_view, key_view, session_view
from gateway.auth.admin import AdminPrincipal
from gateway.console.health import health_summary
from gateway.sessions import SessionService
from schemas.codes import KeyStatus, Role

__all__ = ["ConsoleFeed"]

#: Copy records read per follower for one snapshot.
COPIES_PER_FOLLOWER = 50
#: Rows of each list in one snapshot.
ROWS = 100


class ConsoleFeed:
    """Builds console snapshots from the gateway's and the copier's stores."""

    def __init__(self, service: SessionService, copier: CopierRoutes) -> None:
        self.service = service  #: sessions, keys, accounts, delivery log
        self.copier = copier  #: subscriptions, copy records, audit, dead letters

    async def accounts(self, principal: AdminPrincipal) -> list[dict[str, Any]]:
        """The accounts `principal` may see, by id."""
        records = await self.service.store.accounts.list_accounts(
            None if principal.is_backoffice else principal.tenant_id
        )
        return sorted((account_view(r) for r in records), key=lambda a: a["account_id"])

    async def health(self, principal: AdminPrincipal) -> dict[str, Any]:
        """Replication health over the accounts `principal` may see."""
        accounts = await self.accounts(principal)
        copies = await self._copies(accounts)
        return await self._health(accounts, copies)

    async def snapshot(self, principal: AdminPrincipal) -> dict[str, Any]:
        """Everything the console renders, for `principal`."""
        store = self.service.store
        accounts = await self.accounts(principal)
        visible = {a["account_id"] for a in accounts}
        keys = [
            key_view(r)
            for r in await store.key_store.list_by_status(KeyStatus.PENDING)
            if principal.is_backoffice or r.account_id in visible
        ]
        sessions = [
            session_view(r)
            for r in await store.sessions.list_sessions()
            if principal.is_backoffice or r.account_id in visible
        ]
        copies = await self._copies(accounts)
        subscriptions: list[dict[str, Any]] = []
        for account in accounts:
            if account["role"] != Role.MASTER.value:
                views = await self.copier.subscriptions.list_for_follower(account["account_id"])
                subscriptions.extend(v.model_dump(mode="json") for v in views)
        letters = [
            letter
            for letter in await self.copier.read_dead_letters(ROWS)
            if principal.is_backoffice or letter["account_id"] in visible
        ]
        return {
            "principal": {"role": principal.role.value, "tenant_id": principal.tenant_id},
            "now_ms": self.service.clock(),
            "health": await self._health(accounts, copies),
            "keys": keys,
            "accounts": accounts,
            "sessions": sorted(sessions, key=lambda s: (s["account_id"], s["session_id"])),
            "subscriptions": subscriptions,
            "copies": copies[:ROWS],
            "dead_letters": letters,
            "audit": await self._audit(principal, accounts),
        }

    async def _copies(self, accounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Newest copy records of every follower in `accounts`, newest first."""
        rows: list[dict[str, Any]] = []
        for account in accounts:
            if account["role"] == Role.MASTER.value:
                continue
            follower = account["account_id"]
            for row in await self.copier.followers.copy_store.copies(
                follower, limit=COPIES_PER_FOLLOWER
            ):
                rows.append({"follower_id": follower, **copy_view(*row)})
        rows.sort(key=lambda c: -int(c["times"]["intent_received_ms"] or 0))
        return rows

    async def _health(
        self, accounts: list[dict[str, Any]], copies: list[dict[str, Any]]
    ) -> dict[str, Any]:
        backlog = 0
        for account in accounts:
            numbered, held = await self.service.store.delivery.pending_count(account["account_id"])
            backlog += numbered + held
        return health_summary(copies, now_ms=self.service.clock(), backlog=backlog)

    async def _audit(
        self, principal: AdminPrincipal, accounts: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        if principal.is_backoffice:
            return await self.copier.subscriptions.audit(None, limit=ROWS)
        entries: dict[tuple[Any, ...], dict[str, Any]] = {}
        for account in accounts:
            for entry in await self.copier.subscriptions.audit(account["account_id"], limit=ROWS):
                key = (entry["ts_ms"], entry["action"], entry["follower_id"], entry["master_id"])
                entries[key] = entry
        return sorted(entries.values(), key=lambda e: -int(e["ts_ms"]))[:ROWS]
