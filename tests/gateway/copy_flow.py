"""One copied trade through the real app in-process (embedded store, in-process copier).

A master and a follower EA on the poll transport: the master reports an
OrderIntent, the copier queues an OrderCommand for the follower, the follower
answers with an ExecutionReport (filled). Used by the metrics and tracing tests.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import httpx

from tests.e2e.copier_harness import EURUSD
from tests.schemas.test_envelopes import intent as intent_envelope

__all__ = ["ADMIN", "EURUSD", "PollEA", "copy_one_trade"]

ADMIN = {"Authorization": "Bearer t0ken"}
_ids = itertools.count(1)


def _envelope(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": kind,
        "id": f"{kind}-{next(_ids)}",
        "ts": int(time.time() * 1000),
        "payload": payload,
    }


class PollEA:
    """An EA on the poll transport, acknowledging everything it receives."""

    def __init__(self, client: httpx.AsyncClient, account: str) -> None:
        self.client = client
        self.account = account
        self.session: dict[str, Any] = {}
        self.acked = 0

    async def provision(self, role: str) -> PollEA:
        put = {"tenant_id": "t1", "role": role}
        assert (
            await self.client.put(f"/admin/v1/accounts/{self.account}", json=put, headers=ADMIN)
        ).status_code == 200
        key = (
            await self.client.post(f"/admin/v1/accounts/{self.account}/keys", headers=ADMIN)
        ).json()["key"]
        body = {
            "account_id": self.account,
            "auth_method": "account_session_key",
            "credentials": {"key": key},
        }
        created = await self.client.post("/ea-gateway/v1/sessions", json=body)
        self.session = created.json()
        await self.exchange(
            [
                _envelope(
                    "InitRequest",
                    {
                        "ack_seq": 0,
                        "account": {"balance": 10_000, "equity": 10_000},
                        "symbols": [EURUSD],
                    },
                )
            ]
        )
        return self

    async def exchange(
        self, messages: list[dict[str, Any]], wait_ms: int = 0
    ) -> list[dict[str, Any]]:
        response = await self.client.post(
            f"/ea-gateway/v1/sessions/{self.session['session_id']}/exchange",
            headers={"Authorization": f"Bearer {self.session['session_token']}"},
            json={"messages": messages, "ack_seq": self.acked, "wait_ms": wait_ms},
        )
        assert response.status_code == 200, response.text
        received: list[dict[str, Any]] = response.json()["messages"]
        self.acked = max([self.acked, *(m.get("seq", 0) for m in received)])
        return received

    async def next_of(self, kind: str, timeout_s: float = 10) -> dict[str, Any]:
        async with asyncio.timeout(timeout_s):
            while True:
                for message in await self.exchange([], wait_ms=200):
                    if message["type"] == kind:
                        return message


async def copy_one_trade(client: httpx.AsyncClient) -> tuple[PollEA, PollEA, dict[str, Any]]:
    """Provision, subscribe, copy one open; returns master, follower and the command."""
    master = await PollEA(client, "m-1").provision("master")
    follower = await PollEA(client, "f-1").provision("follower")
    subscription = {"allocation": {"mode": "mirror", "multiplier": 1}}
    assert (
        await client.put(
            "/admin/v1/accounts/f-1/subscriptions/m-1", json=subscription, headers=ADMIN
        )
    ).status_code == 200
    intent = intent_envelope(volume=0.1, price=1.08)["payload"]
    await master.exchange([_envelope("OrderIntent", intent)])
    command = await follower.next_of("OrderCommand")
    payload = command["payload"]
    report = {
        "command_id": payload["command_id"],
        "status": "filled",
        "ticket": 9001,
        "symbol": "EURUSD",
        "volume": payload["volume"],
        "price": 1.0801,
    }
    await follower.exchange([_envelope("ExecutionReport", report)])
    return master, follower, command
