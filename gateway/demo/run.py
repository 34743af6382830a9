"""`copygate demo`: gateway + copier + simulated terminals in one process.

1. serve the gateway (embedded store, in-process copier worker) on host:port;
2. configure the cast through the real admin API over HTTP (accounts, keys,
   subscriptions);
3. connect every simulated terminal with the SDK (WebSocket or polling) and feed
   them one seeded price stream; masters trade, followers execute;
4. after `--duration` (or Ctrl-C): masters stop, prices freeze, the pipeline
   drains; then the summary (and the position check) is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import secrets
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from rich.console import Console
from rich.live import Live

from gateway.client import ClientConfig, ReconnectPolicy
from gateway.client.sim import RandomWalkFeed, SimTerminal, TicketSource, standard_symbols
from gateway.client.sim.runner import SimEA
from gateway.demo.scenario import TENANT, FollowerSpec, MasterSpec, build_terminal, cast
from gateway.demo.server import AdminClient, embedded_gateway, free_port
from gateway.demo.summary import build_summary
from gateway.demo.view import render
from gateway.settings import Settings

__all__ = ["Demo", "DemoOptions", "main", "prints_json"]

_log = logging.getLogger("copygate.demo")
#: Quiet time that ends the drain after the run.
SETTLE_QUIET_S = 2.0
#: Longest drain.
SETTLE_MAX_S = 12.0


@dataclass(frozen=True)
class DemoOptions:
    """Command-line options of `copygate demo`."""

    duration_s: float | None = None  #: run this long (None: until Ctrl-C)
    seed: int = 1  #: seeds prices, policies, slippage and errors
    host: str = "127.0.0.1"  #: bind address
    port: int = 8080  #: TCP port (0: any free port)
    summary_json: Path | None = None  #: write the summary here
    print_json: bool = False  #: print the full summary on stdout (also when not a terminal)
    view: bool = True  #: live terminal view
    tick_ms: int = 250  #: price tick interval


class Demo:
    """The running demo: server URL, terminals and their clients."""

    def __init__(self, options: DemoOptions, console: Console) -> None:
        self.options = options  #: options
        self.console = console  #: where the view and banner go
        self.admin_token = os.environ.get("COPYGATE_ADMIN_TOKEN") or secrets.token_urlsafe(
            18
        )  #: bearer
        self.master_specs, self.follower_specs = cast()  #: the cast
        self.masters: list[SimEA] = []  #: master terminals
        self.followers: list[SimEA] = []  #: follower terminals
        self.base_url = ""  #: gateway URL once serving
        self.started = time.monotonic()  #: run start
        self.phase = "starting"  #: starting, running, settling, done
        self.copies: dict[str, list[dict[str, Any]]] = {}  #: last copy records per follower
        self.stop = asyncio.Event()  #: Ctrl-C or duration reached
        self.settle_quiet_s = SETTLE_QUIET_S  #: quiet time that ends the drain
        self.settle_max_s = SETTLE_MAX_S  #: longest drain

    def elapsed_s(self) -> float:
        """Seconds since the terminals started trading."""
        return round(time.monotonic() - self.started, 2)

    def settings(self) -> Settings:
        """Embedded store, this admin token, snappy heartbeats."""
        return Settings(
            redis_url=None,
            admin_token=SecretStr(self.admin_token),
            heartbeat_interval_s=2,
            heartbeat_timeout_s=6,
            log_level="WARNING",
        )

    async def run(self) -> dict[str, Any]:
        """The whole demo on an embedded gateway; returns the summary."""
        port = self.options.port or free_port(self.options.host)
        async with embedded_gateway(self.settings(), self.options.host, port) as base_url:
            self.base_url = base_url
            self._banner()
            return await self.play()

    async def play(self) -> dict[str, Any]:
        """Configure, connect, trade, settle and summarise against `self.base_url`."""
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
        async with httpx.AsyncClient(limits=limits) as http:
            admin = AdminClient(http, self.base_url, self.admin_token)
            keys = await self._configure(admin)
            self._build(keys, http)
            sims = [*self.masters, *self.followers]
            feed = RandomWalkFeed(
                standard_symbols().values(), random.Random(f"{self.options.seed}:feed")
            )
            now = int(time.time() * 1000)
            first = feed.at(now)
            for sim in sims:
                sim.terminal.account.on_ticks(first)
            for sim in sims:
                await sim.client.start()
            await asyncio.gather(*(s.client.wait_authenticated(30) for s in sims))
            self.started, self.phase = time.monotonic(), "running"
            with self._live() as live:
                await self._trade(feed, admin, live)
                self.phase = "settling"
                await self._settle(admin, live)
                self.phase = "done"
                await self._refresh(admin, live, limit=1000)
            summary = build_summary(self, self.copies)
            await asyncio.gather(*(s.client.close() for s in sims), return_exceptions=True)
        return summary

    def _banner(self) -> None:
        url, token = self.base_url, self.admin_token
        self.console.print(
            f"[bold]copygate demo[/bold] on {url}  (embedded store, seed {self.options.seed})"
        )
        self.console.print(f"  admin token : {token}")
        self.console.print(
            f"  sessions    : curl -s -H 'authorization: Bearer {token}' {url}/admin/v1/sessions"
        )
        self.console.print(
            f"  copies      : curl -s -H 'authorization: Bearer {token}' "
            f"{url}/admin/v1/accounts/demo-f01/copies"
        )
        self.console.print(f"  metrics     : curl -s {url}/metrics   (Prometheus format)")
        self.console.print(f"  API page    : {url}/docs")

    async def _configure(self, admin: AdminClient) -> dict[str, str]:
        """Accounts, keys and subscriptions, through the admin API."""
        keys: dict[str, str] = {}
        for m in self.master_specs:
            await admin.put_account(
                m.account_id, "master", TENANT, f"master {', '.join(m.symbols)}"
            )
            keys[m.account_id] = await admin.provision_key(m.account_id)
        for f in self.follower_specs:
            await admin.put_account(f.account_id, "follower", TENANT, f.label)
            keys[f.account_id] = await admin.provision_key(f.account_id)
            for master, body in f.subscriptions.items():
                await admin.subscribe(f.account_id, master, body)
        return keys

    def _build(self, keys: dict[str, str], http: httpx.AsyncClient) -> None:
        symbols = standard_symbols()
        seed, now = self.options.seed, int(time.time() * 1000)
        master_tickets, follower_tickets = (
            TicketSource(1_000_000 + seed * 1000),
            TicketSource(5_000_000),
        )

        def sim(spec: MasterSpec | FollowerSpec, tickets: TicketSource) -> SimEA:
            terminal = build_terminal(spec, symbols, tickets, seed, now)
            config = ClientConfig(
                self.base_url,
                spec.account_id,
                keys[spec.account_id],
                transport=spec.transport,
                poll_wait_ms=5000,
            )
            policy = ReconnectPolicy(rand=random.Random(f"{seed}:{spec.account_id}:backoff").random)
            return self.new_sim(terminal, config, http, policy)

        self.masters = [sim(s, master_tickets) for s in self.master_specs]
        self.followers = [sim(s, follower_tickets) for s in self.follower_specs]

    def new_sim(
        self,
        terminal: SimTerminal,
        config: ClientConfig,
        http: httpx.AsyncClient,
        policy: ReconnectPolicy,
    ) -> SimEA:
        """One simulated EA (a subclass may connect it differently)."""
        return SimEA(terminal, config, http=http, policy=policy)

    async def _trade(self, feed: RandomWalkFeed, admin: AdminClient, live: Live | None) -> None:
        deadline = (
            None if self.options.duration_s is None else self.started + self.options.duration_s
        )
        next_refresh = 0.0
        while not self.stop.is_set() and (deadline is None or time.monotonic() < deadline):
            ticks = feed.at(int(time.time() * 1000))
            for sim in [*self.masters, *self.followers]:
                await sim.step(ticks)
            if time.monotonic() >= next_refresh:
                next_refresh = time.monotonic() + 1.0
                await self._refresh(admin, live)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.options.tick_ms / 1000):
                    await self.stop.wait()

    def _activity(self) -> tuple[int, ...]:
        sims = [*self.masters, *self.followers]
        return tuple(s.stats.intents + s.stats.commands + s.stats.reports for s in sims)

    async def _settle(self, admin: AdminClient, live: Live | None) -> None:
        """Masters stop, prices freeze; wait until nothing moves for a while."""
        for master in self.masters:
            master.terminal.trading = False
            await master.step([])  # report whatever the last tick changed
        last, quiet_since, give_up = (
            self._activity(),
            time.monotonic(),
            time.monotonic() + self.settle_max_s,
        )
        while time.monotonic() < give_up:
            await asyncio.sleep(0.25)
            now = self._activity()
            if now != last:
                last, quiet_since = now, time.monotonic()
            elif time.monotonic() - quiet_since >= self.settle_quiet_s:
                break
            await self._refresh(admin, live)

    async def _refresh(self, admin: AdminClient, live: Live | None, limit: int = 100) -> None:
        """Latest copy records (a rolling window for the view; up to 1000 at the end)."""
        results = await asyncio.gather(
            *(admin.copies(f.account_id, limit) for f in self.follower_specs),
            return_exceptions=True,
        )
        for spec, rows in zip(self.follower_specs, results, strict=True):
            if isinstance(rows, list):
                self.copies[spec.account_id] = rows
        if live is not None:
            live.update(render(self))

    @contextlib.contextmanager
    def _live(self) -> Any:
        if not self.options.view:
            yield None
            return
        with Live(
            render(self), console=self.console, refresh_per_second=4, transient=False
        ) as live:
            yield live


def prints_json(options: DemoOptions, *, stdout_is_terminal: bool) -> bool:
    """Whether the full JSON summary goes to stdout.

    With ``--json`` always; otherwise only when stdout is not a terminal (a pipe
    or a file wants the data) and no ``--summary-json`` file took it. A person
    at a terminal who pressed Ctrl-C gets the one-line summary only.
    """
    return options.print_json or (options.summary_json is None and not stdout_is_terminal)


def main(options: DemoOptions) -> int:
    """Run the demo; write the summary; 0 when every follower matches its masters."""
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    console = Console(stderr=options.summary_json is None, force_terminal=None)

    async def go() -> dict[str, Any]:
        demo = Demo(options, console)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, demo.stop.set)
        return await demo.run()

    summary = asyncio.run(go())
    text = json.dumps(summary, indent=2, default=str)
    if options.summary_json is not None:
        options.summary_json.write_text(text)
        console.print(f"summary written to {options.summary_json}")
    if prints_json(options, stdout_is_terminal=sys.stdout.isatty()):
        print(text)
    totals = summary["totals"]
    console.print(
        f"{totals['intents']} intents -> {totals['commands']} commands, "
        f"{totals['copies_filled']} copies filled, {totals['rejections']} rejections; "
        f"positions match: {'yes' if summary['all_match'] else 'NO'}"
    )
    return 0 if summary["all_match"] else 1
