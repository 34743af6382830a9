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
import functools
import random
import time
from collections.abc import Sequence
from typing import Any

import httpx
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from rich.console import Console

from bench._chaos_check import Execution, Fault, History, Intent, check
from bench._deployment import ADMIN_TOKEN, LocalDeployment
from bench._fault_proxy import FaultProxy
from gateway.client import ClientConfig, ReconnectPolicy
from gateway.client.client import EAClient
from gateway.client.sim.runner import SimEA
from gateway.client.sim.terminal import SimTerminal
from gateway.client.transports import Connection
from gateway.demo.run import Demo, DemoOptions
from gateway.demo.scenario import FollowerSpec, MasterSpec, cast
from schemas.envelope import Envelope, ExecutionReport, OrderCommand, StatusHeartbeat
from schemas.messages import ExecutionReportPayload, OrderIntentPayload

__all__ = ["ChaosRun", "run_once"]

#: How often the drain looks at the copier's consumer groups.
DRAIN_POLL_S = 0.5


class MessageChaos:
    """Whether EA messages are currently duplicated and reordered (shared by all EAs)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng  #: seeded
        self.active = False  #: on while a `dup_reorder` fault holds
        self.duplicated = 0  #: envelopes sent twice
        self.reordered = 0  #: adjacent pairs swapped

    def mangle(self, envelopes: Sequence[Envelope]) -> list[Envelope]:
        """Duplicate some envelopes, swap adjacent reports/heartbeats (never intents)."""
        out = list(envelopes)
        if not self.active:
            return out
        swappable = (ExecutionReport, StatusHeartbeat)
        for i in range(len(out) - 1):
            if (
                isinstance(out[i], swappable)
                and isinstance(out[i + 1], swappable)
                and self.rng.random() < 0.5
            ):
                out[i], out[i + 1] = out[i + 1], out[i]
                self.reordered += 1
        doubled = []
        for envelope in out:
            doubled.append(envelope)
            if self.rng.random() < 0.3:
                doubled.append(envelope)
                self.duplicated += 1
        return doubled


class _ChaosConnection:
    """A transport whose `send` goes through `MessageChaos`."""

    def __init__(self, inner: Connection, chaos: MessageChaos) -> None:
        self.inner = inner
        self.chaos = chaos

    @property
    def close_info(self) -> Any:
        return self.inner.close_info

    async def send(self, envelopes: Sequence[Envelope]) -> None:
        await self.inner.send(self.chaos.mangle(envelopes))

    def frames(self) -> Any:
        return self.inner.frames()

    def unsent(self) -> list[Envelope]:
        return self.inner.unsent()

    def confirmed(self, ids: Sequence[str]) -> None:
        self.inner.confirmed(ids)

    async def close(self) -> None:
        await self.inner.close()


class _ChaosClient(EAClient):
    """An SDK client whose connections go through `MessageChaos`."""

    def __init__(self, *args: Any, chaos: MessageChaos, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.chaos = chaos

    async def _open(self, session_id: str, token: str) -> Connection:
        return _ChaosConnection(await super()._open(session_id, token), self.chaos)


class ChaosSimEA(SimEA):
    """A simulated EA whose client can mangle what it sends and whose work is recorded."""

    def __init__(
        self,
        terminal: SimTerminal,
        config: ClientConfig,
        history: History,
        chaos: MessageChaos,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            terminal, config, client_type=functools.partial(_ChaosClient, chaos=chaos), **kwargs
        )
        self.history = history  #: shared record of the run
        self.sent = 0  #: intents sent so far

    async def _execute(self, command: OrderCommand) -> ExecutionReportPayload:
        report = await super()._execute(command)
        self.history.executions.append(
            Execution(self.terminal.account_id, command.payload.command_id, report.status.value)
        )
        return report

    async def send_intent(self, intent: OrderIntentPayload) -> None:
        envelope = await self.client.send_intent(intent)
        self.history.intents.append(
            Intent(self.terminal.account_id, envelope.id, self.sent, intent.ticket)
        )
        self.sent += 1


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
        self.settle_quiet_s = 3.0
        self.settle_max_s = 30.0

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
        accounts = {s.account_id for s in [*self.master_specs, *self.follower_specs]}
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
        """The demo's drain, then until the copier's streams have nothing pending."""
        await super()._settle(admin, live)
        for _ in range(int(self.settle_max_s / DRAIN_POLL_S)):
            if await self._drained():
                break
            await asyncio.sleep(DRAIN_POLL_S)
        await super()._settle(admin, live)

    async def _drained(self) -> bool:
        """Every consumer group of every copier stream has read and acked everything."""
        client = aioredis.Redis(port=self.deployment.redis_port)
        try:
            async for name in client.scan_iter(match=f"{self.deployment.prefix}:*", _type="stream"):
                for group in await client.xinfo_groups(name):
                    if group.get("pending") or group.get("lag"):
                        return False
            return True
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
            await self._apply(fault)
            self.applied.append(
                {**dataclasses.asdict(fault), "took_s": round(time.monotonic() - began, 3)}
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
    stopped: dict[str, str] = {}
    try:
        summary = await run.play()
    finally:
        await proxy.close()
    for sim in [*run.masters, *run.followers]:
        if sim.client.stopped is not None and sim.client.stopped.reason != "client_shutdown":
            stopped[sim.terminal.account_id] = sim.client.stopped.reason
    run.history.mismatches = {
        account: follower["mismatches"]
        for account, follower in summary["followers"].items()
        if follower["mismatches"]
    }
    violations = check(run.history)
    return {
        "seed": seed,
        "seconds": round(time.monotonic() - began, 2),
        "faults": run.applied,
        "violations": [dataclasses.asdict(v) for v in violations],
        "totals": summary["totals"],
        "messages": {"duplicated": run.chaos.duplicated, "reordered": run.chaos.reordered},
        "proxy": dataclasses.asdict(proxy.stats),
        "session_samples": len(run.history.session_samples),
        "clients_stopped": stopped,
    }
