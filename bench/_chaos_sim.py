"""The fault suite's simulated EAs: SDK clients whose messages can be duplicated and
reordered, whose work is recorded for the check, and which can be taken over.

* `MessageChaos` duplicates EA messages and swaps adjacent reports while a
  `dup_reorder` fault holds;
* `ChaosClient` is the SDK client behind it; `settled` says it is authenticated
  with nothing queued, unconfirmed or being handled (the drain waits for that);
* `ChaosSimEA` records every intent and execution, pauses while its EA is
  stopped, and `restart()` starts the EA again from what it keeps on disk (its
  journal and its unconfirmed messages), as after a `preempt` fault.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Iterable, Sequence
from typing import Any

import httpx

from bench._chaos_check import Execution, History, Intent
from gateway.client import ClientConfig, ReconnectPolicy
from gateway.client.client import EAClient
from gateway.client.sim.market import Tick
from gateway.client.sim.runner import SimEA
from gateway.client.sim.terminal import SimTerminal, TerminalOutput
from gateway.client.transports import Connection
from schemas.codes import SessionState
from schemas.envelope import Envelope, ExecutionReport, OrderCommand, StatusHeartbeat
from schemas.messages import ExecutionReportPayload, OrderIntentPayload

__all__ = ["ChaosClient", "ChaosSimEA", "MessageChaos"]

#: Attributes where the SDK's transports keep messages not yet known to be recorded.
_WAITING = ("_awaiting", "_unsent", "_outbox", "_inflight")


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

    @close_info.setter
    def close_info(self, value: Any) -> None:
        self.inner.close_info = value

    async def send(self, envelopes: Sequence[Envelope]) -> None:
        await self.inner.send(self.chaos.mangle(envelopes))

    def frames(self) -> Any:
        return self.inner.frames()

    def unsent(self) -> list[Envelope]:
        return self.inner.unsent()

    def confirmed(self, ids: Sequence[str]) -> None:
        self.inner.confirmed(ids)

    def waiting(self) -> int:
        """Messages handed over but not known to be recorded by the gateway."""
        return sum(len(getattr(self.inner, name, ())) for name in _WAITING)

    async def close(self) -> None:
        await self.inner.close()


class ChaosClient(EAClient):
    """An SDK client whose connections go through `MessageChaos`."""

    def __init__(self, *args: Any, chaos: MessageChaos, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.chaos = chaos

    async def _open(self, session_id: str, token: str) -> Connection:
        return _ChaosConnection(await super()._open(session_id, token), self.chaos)

    @property
    def settled(self) -> bool:
        """Authenticated on a live connection, nothing queued, unconfirmed or in hand."""
        conn = self._conn
        return (
            self.stopped is None
            and isinstance(conn, _ChaosConnection)
            and self.state is SessionState.AUTHENTICATED
            and self._authenticated.is_set()
            and not self._outbox
            and conn.waiting() == 0
            and self._idle.is_set()
        )

    def adopt(self, stopped: ChaosClient) -> None:
        """Queue what a stopped client had not seen recorded (the EA's outbox file)."""
        self._outbox[:0] = stopped._outbox
        stopped._outbox = []


class ChaosSimEA(SimEA):
    """A simulated EA whose client can mangle what it sends and whose work is recorded."""

    client: ChaosClient

    def __init__(
        self,
        terminal: SimTerminal,
        config: ClientConfig,
        history: History,
        chaos: MessageChaos,
        *,
        http: httpx.AsyncClient,
        policy: ReconnectPolicy,
    ) -> None:
        super().__init__(
            terminal,
            config,
            http=http,
            policy=policy,
            client_type=functools.partial(ChaosClient, chaos=chaos),
        )
        self.history = history  #: shared record of the run
        self.chaos = chaos  #: shared with the run
        self.http = http  #: shared HTTP client
        self.policy = policy  #: reconnect policy
        self.sent = 0  #: intents sent so far
        self.restarts = 0  #: times the EA started again after a takeover
        self.resume_at = 0.0  #: monotonic time before which a preempted EA stays stopped
        self.backlog: list[TerminalOutput] = []  #: produced while the EA was stopped

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

    async def step(self, ticks: Iterable[Tick], now_ms: int | None = None) -> None:
        """As `SimEA.step`. While the EA is stopped the broker goes on (prices move,
        pending orders trigger, the trader trades): what the terminal produces waits
        for the EA's restart, which sends it (as its start-up diff would)."""
        await self.revive()
        if self.client.stopped is None:
            await super().step(ticks, now_ms)
        else:
            now = self.clock() if now_ms is None else now_ms
            self.backlog.append(self.terminal.on_ticks(ticks, now))

    async def _send_backlog(self) -> None:
        backlog, self.backlog = self.backlog, []
        for out in backlog:
            for intent in out.intents:
                await self.send_intent(intent)
            for report in out.reports:
                await self.client.report(report)
            self.stats.intents += len(out.intents)
            self.stats.reports += len(out.reports)
        if any(out.snapshot for out in backlog):
            self.stats.snapshots += 1
            await self.client.send_snapshot(self.terminal.snapshot())

    async def revive(self) -> bool:
        """Restart the EA if another terminal preempted it and the takeover is over."""
        stopped = self.client.stopped
        if stopped is None or stopped.reason != "preempted" or time.monotonic() < self.resume_at:
            return False
        await self.restart()
        return True

    async def restart(self) -> ChaosClient:
        """Start the EA again after its client stopped: a new client from the old one's
        journal (ack_seq, reports) and unconfirmed messages, as the EA keeps on disk."""
        old = self.client
        new = ChaosClient(
            old.config,
            chaos=self.chaos,
            account=self.terminal.account_info,
            symbols=self.terminal.symbol_specs,
            snapshot=self.terminal.snapshot,
            margin_level=self.terminal.margin_level,
            journal=old.core.journal(),
            clock=self.clock,
            http=self.http,
            policy=self.policy,
        )
        new.adopt(old)
        new.on_command(self._execute)
        self.client = new
        self.restarts += 1
        await self._send_backlog()
        await new.start()
        return new
