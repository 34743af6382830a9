"""`SimEA`: a `SimTerminal` behind an `EAClient` (the only I/O in `sim/`).

The caller owns time: it feeds ticks with `step(ticks, now_ms)` (the demo and
benchmarks drive many terminals from one price feed); commands arrive through
the client and are executed at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import httpx

from gateway.client.client import EAClient
from gateway.client.policy import ReconnectPolicy
from gateway.client.rest import ClientConfig
from gateway.client.sim.market import Tick
from gateway.client.sim.terminal import SimTerminal
from gateway.clock import Clock, system_clock_ms
from schemas.envelope import OrderCommand
from schemas.messages import ExecutionReportPayload, OrderIntentPayload

__all__ = ["SimEA", "SimStats"]


@dataclass
class SimStats:
    """What the EA did over the wire."""

    intents: int = 0  #: OrderIntents sent
    commands: int = 0  #: OrderCommands executed
    reports: int = 0  #: ExecutionReports sent (incl. unsolicited fills)
    snapshots: int = 0  #: SyncSnapshots sent on broker changes
    command_latency_ms: list[float] = field(default_factory=list)  #: command ts -> executed


class SimEA:
    """One simulated terminal connected to the gateway."""

    def __init__(
        self,
        terminal: SimTerminal,
        config: ClientConfig,
        *,
        clock: Clock = system_clock_ms,
        http: httpx.AsyncClient | None = None,
        policy: ReconnectPolicy | None = None,
        client_type: Callable[..., EAClient] = EAClient,
    ) -> None:
        self.terminal = terminal  #: the pure terminal
        self.clock = clock  #: epoch ms
        self.stats = SimStats()  #: counters
        self.client = client_type(
            config,
            account=terminal.account_info,
            symbols=terminal.symbol_specs,
            snapshot=terminal.snapshot,
            margin_level=terminal.margin_level,
            clock=clock,
            http=http,
            policy=policy,
        )  #: the SDK client
        self.client.on_command(self._execute)

    async def _execute(self, command: OrderCommand) -> ExecutionReportPayload:
        now = self.clock()
        self.stats.commands += 1
        self.stats.command_latency_ms.append(max(0.0, now - command.ts))
        self.stats.reports += 1
        return self.terminal.execute(command.payload, now)

    async def send_intent(self, intent: OrderIntentPayload) -> None:
        """Send one OrderIntent the terminal produced (a subclass may record it)."""
        await self.client.send_intent(intent)

    async def step(self, ticks: Iterable[Tick], now_ms: int | None = None) -> None:
        """Apply ticks (and the master's policy); send what the terminal produced."""
        out = self.terminal.on_ticks(ticks, self.clock() if now_ms is None else now_ms)
        for intent in out.intents:
            await self.send_intent(intent)
        for report in out.reports:
            await self.client.report(report)
        self.stats.intents += len(out.intents)
        self.stats.reports += len(out.reports)
        if out.snapshot:
            self.stats.snapshots += 1
            await self.client.send_snapshot(self.terminal.snapshot())
