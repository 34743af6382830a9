"""The `preempt` fault: a second terminal opens a session for an EA's account.

The second session is created authenticated (the key is provisioned), which
preempts the EA's session on whatever node holds it. Right after the creation
answer, a *probe* (an OrderIntent for a master, an ExecutionReport for a follower,
about nothing that exists) is sent with the preempted session's token: the
gateway must refuse it. The EA's client stops (the SDK never fights a
preemption); the second terminal holds the account for the fault's hold time and
closes its session; then the EA starts again from what it keeps on disk (journal
and unconfirmed messages). If the EA was reconnecting at that moment, its new
session preempts the second one instead and it simply carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import time
from typing import Any

import httpx

from bench._chaos_check import History, StaleProbe
from bench._chaos_sim import ChaosSimEA
from gateway.client.errors import ConnectionLost
from gateway.client.rest import create_session, delete_session
from schemas.rest import SessionCreated

__all__ = ["take_over"]

#: How long the second terminal keeps trying to open its session (Redis or a node
#: may be down at that moment).
OPEN_WITHIN_S = 8.0
#: How long the EA may take to notice it was preempted.
NOTICE_WITHIN_S = 6.0
_probes = itertools.count(1)


def _probe(master: bool) -> dict[str, Any]:
    number = next(_probes)
    if master:
        payload: dict[str, Any] = {
            "action": "close",
            "ticket": 900_000_000 + number,
            "symbol": "EURUSD",
            "side": "buy",
            "order_type": "market",
            "volume": 0.1,
            "price": 1.1,
        }
        kind = "OrderIntent"
    else:
        payload = {"command_id": f"stale-probe-{number}", "status": "rejected"}
        kind = "ExecutionReport"
    return {
        "type": kind,
        "id": f"stale-probe-{time.time_ns()}-{number}",
        "ts": int(time.time() * 1000),
        "payload": payload,
    }


async def _send_probe(
    http: httpx.AsyncClient, base_url: str, account: str, stale: SessionCreated, master: bool
) -> StaleProbe:
    probe = _probe(master)
    status: int | None = None
    with contextlib.suppress(httpx.HTTPError):
        response = await http.post(
            f"{base_url}/ea-gateway/v1/sessions/{stale.session_id}/exchange",
            json={"ack_seq": 0, "wait_ms": 0, "messages": [probe]},
            headers={"Authorization": f"Bearer {stale.session_token}"},
            timeout=5,
        )
        status = response.status_code
    return StaleProbe(account, stale.session_id, probe["id"], status)


async def take_over(
    sim: ChaosSimEA, base_url: str, hold_s: float, history: History, *, master: bool
) -> str:
    """Run the fault against `sim`'s account; returns what happened (for the record):
    ``taken_over`` (the EA stopped and started again), ``reclaimed`` (the EA's own
    reconnect preempted the second terminal) or ``no_session`` (none could be opened)."""
    old = sim.client
    stale = old.core.session
    sim.resume_at = time.monotonic() + hold_s + OPEN_WITHIN_S  # not before the hold ends
    config = dataclasses.replace(
        old.config, base_url=base_url, client_info={"platform": "chaos-second-terminal"}
    )
    second: SessionCreated | None = None
    deadline = time.monotonic() + OPEN_WITHIN_S
    while second is None and time.monotonic() < deadline:
        try:
            second = await create_session(sim.http, config)
        except ConnectionLost:
            await asyncio.sleep(0.1)
    if second is None:
        return "no_session"
    if stale is not None:
        history.stale_probes.append(
            await _send_probe(sim.http, base_url, config.account_id, stale, master)
        )
    began = time.monotonic()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(NOTICE_WITHIN_S):
            await old.wait_stopped()
    await asyncio.sleep(max(0.0, hold_s - (time.monotonic() - began)))
    await delete_session(sim.http, config, second)
    sim.resume_at = 0.0
    if old.stopped is None:
        return "reclaimed"  # or it notices later: `ChaosSimEA.revive` starts it again then
    await sim.revive()
    return "taken_over"
