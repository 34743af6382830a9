"""The live terminal view (rich): sessions, copies, rejections, equity, latency."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from rich.console import Group
from rich.table import Table
from rich.text import Text

from gateway.demo.summary import copy_latencies, latency_stats

if TYPE_CHECKING:
    from gateway.client.sim.runner import SimEA
    from gateway.demo.run import Demo

__all__ = ["render"]


def _state(sim: SimEA) -> str:
    client = sim.client
    if client.stopped is not None:
        return f"[red]stopped ({client.stopped.reason})[/red]"
    if not client.connected:
        return "[yellow]connecting[/yellow]"
    return f"[green]{client.state.value}[/green]"


def _ms(value: float | int | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def render(demo: Demo) -> Group:
    """One frame of the view."""
    title = Text.from_markup(
        f"[bold]copygate demo[/bold]  {demo.base_url}  seed {demo.options.seed}  "
        f"{demo.phase} {demo.elapsed_s() if demo.phase != 'starting' else 0:.0f}s"
        + (f"/{demo.options.duration_s:.0f}s" if demo.options.duration_s else "")
    )
    masters = Table(title="masters", expand=True)
    for column in ("account", "transport", "session", "intents", "open", "equity"):
        masters.add_column(column)
    for sim, master in zip(demo.masters, demo.master_specs, strict=True):
        account = sim.terminal.account
        masters.add_row(
            master.account_id,
            master.transport,
            _state(sim),
            str(sim.stats.intents),
            str(len(account.orders)),
            f"{account.equity:,.2f}",
        )
    followers = Table(title="followers", expand=True)
    for column in (
        "account",
        "setup",
        "session",
        "cmds",
        "filled",
        "rejected (MT4 codes)",
        "skipped",
        "open",
        "equity",
    ):
        followers.add_column(column)
    delivered_all: list[float] = []
    for sim, spec in zip(demo.followers, demo.follower_specs, strict=True):
        records = demo.copies.get(spec.account_id, [])
        delivered, _ = copy_latencies(records)
        delivered_all += delivered
        statuses = Counter(str(r.get("status")) for r in records)
        executor = sim.terminal.executor
        codes = " ".join(f"{c}x{n}" for c, n in sorted(executor.errors.items()))
        followers.add_row(
            spec.account_id,
            spec.label,
            _state(sim),
            str(sim.stats.commands),
            str(executor.statuses.get("filled", 0)),
            f"{executor.statuses.get('rejected', 0)} {codes}".strip(),
            str(statuses.get("skipped", 0)),
            str(len(sim.terminal.account.orders)),
            f"{sim.terminal.account.equity:,.2f}",
        )
    stats = latency_stats(delivered_all)
    latency = Text(
        f"master intent -> follower command delivered: p50 {_ms(stats['p50'])} ms  "
        f"p90 {_ms(stats['p90'])} ms  p99 {_ms(stats['p99'])} ms  max {_ms(stats['max'])} ms  "
        f"(n={stats['n']})"
    )
    return Group(title, masters, followers, latency)
