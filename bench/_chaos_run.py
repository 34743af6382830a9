"""One run of the fault suite: the demo's cast trading through a `LocalDeployment`
while a seeded schedule of faults breaks it; returns the history and its violations.

The run reuses `copygate demo`'s machinery (cast, simulated terminals, settle,
summary and position check) against HAProxy instead of an embedded gateway, with
three additions: EAs connect through a `FaultProxy`, their clients can duplicate
and reorder what they send, and every intent, execution and session-table sample
is recorded for `bench._chaos_check.check`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import time
from typing import Any

import httpx
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from rich.console import Console

from bench._chaos_check import Fault, History, check
from bench._chaos_history import copier_streams, evidence, read_store_history
from bench._chaos_sim import ChaosSimEA, MessageChaos
from bench._chaos_takeover import take_over
from bench._deployment import ADMIN_TOKEN, LocalDeployment
from bench._fault_proxy import FaultProxy
from copier.keys import CopierKeys
from gateway.client import ClientConfig, ReconnectPolicy
from gateway.client.sim.runner import SimEA
from gateway.client.sim.terminal import SimTerminal
from gateway.demo.run import Demo, DemoOptions
from gateway.demo.scenario import FollowerSpec, MasterSpec, cast

__all__ = ["ChaosRun", "MessageChaos", "run_once"]

#: How often the drain looks at the copier's consumer groups and the EAs.
DRAIN_POLL_S = 0.5
#: A node reads its clock before the script that stamps a session runs; on one
#: host that gap is all that can make a close look later than its successor's start.
CLOCK_SLACK_MS = 1000


def _renamed(prefix: str) -> tuple[list[MasterSpec], list[FollowerSpec]]:
    """The demo's cast with account ids unique to one run."""
    masters, followers = cast()

    def name(account_id: str) -> str:
        return account_id.replace("demo-", f"{prefix}-", 1)

    return (
        [dataclasses.replace(m, account_id=name(m.account_id)) for m in masters],
        [
            dataclasses.replace(
                f,
                account_id=name(f.account_id),
                subscriptions={name(k): v for k, v in f.subscriptions.items()},
            )
            for f in followers
        ],
    )


class ChaosRun(Demo):
    """The demo against a deployment, with faults."""

    def __init__(
        self,
        deployment: LocalDeployment,
        proxy: FaultProxy,
        faults: list[Fault],
        *,
        seed: int,
        duration_s: float,
    ) -> None:
        super().__init__(
            DemoOptions(duration_s=duration_s, seed=seed, view=False, tick_ms=100),
            Console(quiet=True),
        )
        self.admin_token = ADMIN_TOKEN
        self.base_url = deployment.base_url
        self.deployment = deployment  #: what the faults break
        self.proxy = proxy  #: EAs connect through it
        self.faults = faults  #: the schedule
        self.history = History()  #: what the check reads
        self.chaos = MessageChaos(random.Random(f"chaos:{seed}:messages"))  #: dup/reorder
        self.applied: list[dict[str, Any]] = []  #: faults as applied (with timings)
        self.master_specs, self.follower_specs = _renamed(f"c{seed}")
        self.history.subscriptions = {
            f.account_id: list(f.subscriptions) for f in self.follower_specs
        }
        self.settle_quiet_s = 1.5
        self.settle_max_s = 30.0
        self.takeovers: list[str] = []  #: outcome of each `preempt` fault
        self.streams: list[str] = []  #: the copier's streams (those with consumer groups)

    def new_sim(
        self,
        terminal: SimTerminal,
        config: ClientConfig,
        http: httpx.AsyncClient,
        policy: ReconnectPolicy,
    ) -> SimEA:
        config = dataclasses.replace(config, base_url=self.proxy.base_url, poll_wait_ms=2000)
        return ChaosSimEA(terminal, config, self.history, self.chaos, http=http, policy=policy)

    async def _trade(self, feed: Any, admin: Any, live: Any) -> None:
        accounts = {s.account_id for s in self.master_specs} | {
            s.account_id for s in self.follower_specs
        }
        tasks = [
            asyncio.create_task(self._inject()),
            asyncio.create_task(self._sample_sessions(accounts)),
        ]
        try:
            await super()._trade(feed, admin, live)
            await tasks[0]
        finally:
            tasks[1].cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tasks[1]

    async def _settle(self, admin: Any, live: Any) -> None:
        """The demo's drain (masters stop, prices freeze, until nothing moves), then until,
        for `settle_quiet_s` on end, every EA is authenticated with nothing queued,
        unconfirmed or in hand, every copier consumer group has read and acknowledged
        everything, and nothing moves."""
        await super()._settle(admin, live)
        deadline = time.monotonic() + self.settle_max_s
        quiet_since: float | None = None
        last = self._activity()
        while time.monotonic() < deadline:
            for sim in self._sims():
                await sim.revive()
            now, activity = time.monotonic(), self._activity()
            calm = (
                activity == last
                and all(sim.client.settled for sim in self._sims())
                and await self._drained()
            )
            last = activity
            if not calm:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= self.settle_quiet_s:
                return
            await asyncio.sleep(DRAIN_POLL_S)

    def _sims(self) -> list[ChaosSimEA]:
        return [s for s in [*self.masters, *self.followers] if isinstance(s, ChaosSimEA)]

    async def _drained(self) -> bool:
        """Every consumer group of every copier stream has read and acked everything:
        nothing pending, and the last entry delivered is the stream's last (a group's
        `lag` is no help: after a failover the promoted replica's counter is off); and
        the copier's outbox is empty (a retry, or the cancel of a pending copy that the
        pending fill grace scheduled, may still be due)."""
        try:
            url = await asyncio.to_thread(lambda: self.deployment.redis_url)
        except RuntimeError:  # the sentinels name no primary right now
            return False
        client = aioredis.Redis.from_url(url)
        try:
            if not self.streams:
                self.streams = await copier_streams(client, self.deployment.prefix)
            if await client.zcard(CopierKeys(prefix=self.deployment.prefix).outbox_index()):
                return False
            for name in self.streams:
                last = (await client.xinfo_stream(name))["last-generated-id"]
                for group in await client.xinfo_groups(name):
                    if group["pending"] or group["last-delivered-id"] != last:
                        return False
            return bool(self.streams)
        except RedisError:
            return False
        finally:
            await client.aclose()

    async def _inject(self) -> None:
        for fault in self.faults:
            delay = self.started + fault.at_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            began = time.monotonic()
            error = None
            try:
                await self._apply(fault)
            except Exception as exc:  # a fault that could not be applied is recorded, not fatal
                error = f"{type(exc).__name__}: {exc}"
            self.applied.append(
                {
                    **dataclasses.asdict(fault),
                    "took_s": round(time.monotonic() - began, 3),
                    **({"error": error} if error else {}),
                }
            )

    async def _apply(self, fault: Fault) -> None:
        deployment, kind = self.deployment, fault.kind
        if kind in ("node_kill", "copier_kill", "redis_restart"):
            part = {
                "node_kill": lambda: deployment.nodes[fault.target],
                "copier_kill": lambda: deployment.copiers[fault.target % len(deployment.copiers)],
                "redis_restart": lambda: deployment.redis,
            }[kind]()
            await asyncio.to_thread(part.kill)
            await asyncio.sleep(fault.hold_s if kind != "redis_restart" else fault.hold_s / 4)
            await asyncio.to_thread(part.start)
        elif kind == "failover":
            await asyncio.to_thread(deployment.failover, fault.hold_s / 4)
        elif kind == "preempt":
            sims = self._sims()
            sim = sims[fault.target % len(sims)]
            outcome = await take_over(
                sim,
                deployment.base_url,
                fault.hold_s,
                self.history,
                master=sim in self.masters,
            )
            self.takeovers.append(outcome)
        elif kind == "cut":
            self.proxy.cut(fault.arg)
        elif kind == "latency":
            self.proxy.delay_ms, self.proxy.jitter_ms = fault.arg, fault.arg / 2
            await asyncio.sleep(fault.hold_s)
            self.proxy.delay_ms = self.proxy.jitter_ms = 0.0
        elif kind == "dup_reorder":
            self.chaos.active = True
            await asyncio.sleep(fault.hold_s)
            self.chaos.active = False
        else:
            raise ValueError(f"unknown fault {kind!r}")

    async def _sample_sessions(self, accounts: set[str]) -> None:
        """Read the session table (through HAProxy) every 200 ms while trading."""
        headers = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                    response = await http.get(
                        f"{self.deployment.base_url}/admin/v1/sessions", headers=headers
                    )
                    if response.status_code == 200:
                        self.history.session_samples.append(
                            [
                                (s["account_id"], s["state"])
                                for s in response.json()["sessions"]
                                if s["account_id"] in accounts
                            ]
                        )
                await asyncio.sleep(0.2)


async def run_once(
    deployment: LocalDeployment, faults: list[Fault], *, seed: int, duration_s: float
) -> dict[str, Any]:
    """One run; the result has `violations` (empty when every invariant held)."""
    proxy = FaultProxy(deployment.lb_port, random.Random(f"chaos:{seed}:proxy"))
    await proxy.start()
    run = ChaosRun(deployment, proxy, faults, seed=seed, duration_s=duration_s)
    began = time.monotonic()
    since_ms = int(time.time() * 1000) - 1000
    stopped: dict[str, str] = {}
    try:
        summary = await run.play()
    finally:
        await proxy.close()
    accounts = {s.account_id for s in run.master_specs} | {s.account_id for s in run.follower_specs}
    run.history.accepted, run.history.sessions = await read_store_history(
        await asyncio.to_thread(lambda: deployment.redis_url),
        deployment.prefix,
        f"c{seed}",
        accounts,
        since_ms,
    )
    run.history.clock_slack_ms = CLOCK_SLACK_MS
    for sim in [*run.masters, *run.followers]:
        if sim.client.stopped is not None and sim.client.stopped.reason != "client_shutdown":
            stopped[sim.terminal.account_id] = sim.client.stopped.reason
    run.history.mismatches = {
        account: follower["mismatches"]
        for account, follower in summary["followers"].items()
        if follower["mismatches"]
    }
    violations = check(run.history)
    broken: list[tuple[str, str, int]] = []
    for follower, mismatches in sorted(run.history.mismatches.items()):
        broken += [
            (follower, str(m.get("master")), int(m.get("master_ticket") or 0)) for m in mismatches
        ]
    for violation in violations:  # "<master> #<ticket>: intent i executed after intent j"
        if violation.invariant == "order":
            master, _, rest = violation.detail.partition(" #")
            broken.append((violation.account, master, int(rest.split(":", 1)[0])))
    found: list[dict[str, object]] = []
    if broken:
        with contextlib.suppress(Exception):  # evidence is best effort
            found = await evidence(
                await asyncio.to_thread(lambda: deployment.redis_url),
                deployment.prefix,
                deployment.base_url,
                ADMIN_TOKEN,
                broken,
                since_ms,
            )
    return {
        "seed": seed,
        "seconds": round(time.monotonic() - began, 2),
        "faults": run.applied,
        "violations": [dataclasses.asdict(v) for v in violations],
        "totals": summary["totals"],
        "messages": {"duplicated": run.chaos.duplicated, "reordered": run.chaos.reordered},
        "proxy": dataclasses.asdict(proxy.stats),
        "session_samples": len(run.history.session_samples),
        "sessions": len(run.history.sessions),
        "accepted": len(run.history.accepted),
        "stale_probes": [p.status for p in run.history.stale_probes],
        "takeovers": run.takeovers,
        "clients_stopped": stopped,
        "evidence": found,
        "master_intents": [  # what the broken masters' EAs sent, in order
            dataclasses.asdict(intent)
            for intent in run.history.intents
            if intent.master in {master for _f, master, _t in broken}
        ],
        "master_sessions": [
            dataclasses.asdict(span)
            for span in run.history.sessions
            if span.account in {master for _f, master, _t in broken}
        ],
    }
