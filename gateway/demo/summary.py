"""The end-of-run summary: totals, latency percentiles, and the position check per follower."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from gateway.demo.verify import holdings, verify_follower
from schemas.subscriptions import SubscriptionSettings

if TYPE_CHECKING:
    from gateway.demo.run import Demo

__all__ = ["build_summary", "latency_stats", "percentile"]

_EXPLAINING = {"filled", "placed", "queued", "waiting", "retrying"}  # statuses that explain nothing


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return float(ordered[rank])


def latency_stats(values: Sequence[float]) -> dict[str, float | int | None]:
    """p50/p90/p99/max and the count."""
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values) if values else None,
    }


def copy_latencies(records: Iterable[dict[str, Any]]) -> tuple[list[float], list[float]]:
    """(intent received -> command delivered, intent received -> report applied) in ms."""
    delivered, reported = [], []
    for record in records:
        split = record.get("latency_ms") or {}
        queued, handed = split.get("received_to_queued"), split.get("queued_to_delivered")
        if queued is not None and handed is not None:
            delivered.append(float(queued + handed))
        if split.get("total") is not None:
            reported.append(float(split["total"]))
    return delivered, reported


def _explained(records: Iterable[dict[str, Any]], master: str) -> dict[int, str]:
    out = {}
    for record in records:
        if record.get("master_id") != master or record.get("action") not in (
            "open",
            "place_pending",
        ):
            continue
        status = str(record.get("status"))
        if status not in _EXPLAINING and record.get("master_ticket") is not None:
            out[int(record["master_ticket"])] = f"{status}:{record.get('reason') or ''}"
    return out


def build_summary(demo: Demo, copies: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Everything a test or a human wants to know after the run (JSON-ready)."""
    master_books = {m.terminal.account_id: holdings(m.terminal.account) for m in demo.masters}
    master_equity = {m.terminal.account_id: m.terminal.account.equity for m in demo.masters}
    followers: dict[str, Any] = {}
    delivered_all: list[float] = []
    reported_all: list[float] = []
    mismatch_count = 0
    for sim, spec in zip(demo.followers, demo.follower_specs, strict=True):
        terminal, records = sim.terminal, copies.get(spec.account_id, [])
        delivered, reported = copy_latencies(records)
        delivered_all += delivered
        reported_all += reported
        executor = terminal.executor
        book = holdings(terminal.account, executor.tags)
        limits = {
            n: (i.lot_step, i.min_lot, i.max_lot) for n, i in terminal.account.symbols.items()
        }
        mismatches = []
        for master, body in spec.subscriptions.items():
            settings = SubscriptionSettings.model_validate(body)
            mine = [h for h in book if h.tag and h.tag.master_account_id == master]
            ratio = (
                terminal.account.equity / master_equity[master] if master_equity[master] else None
            )
            closed = {
                tag.master_ticket
                for tag, _ in executor.broker_closed
                if tag.master_account_id == master
            }
            mismatches += verify_follower(
                master,
                settings,
                master_books[master],
                mine,
                limits,
                equity_ratio=ratio,
                explained=_explained(records, master),
                closed_at_broker=closed,
            )
        mismatch_count += len(mismatches)
        statuses = Counter(str(r.get("status")) for r in records)
        followers[spec.account_id] = {
            "label": spec.label,
            "transport": spec.transport,
            "subscriptions": spec.subscriptions,
            "commands": sim.stats.commands,
            "reports": dict(executor.statuses),
            "mt4_errors": {str(code): n for code, n in sorted(executor.errors.items())},
            "copy_records": dict(statuses),
            "copies_filled": executor.statuses.get("filled", 0)
            + executor.statuses.get("placed", 0),
            "closed_at_broker": len(executor.broker_closed),
            "equity": float(terminal.account.equity),
            "balance": float(terminal.account.balance),
            "positions": [h.to_json() for h in book],
            "match": not mismatches,
            "mismatches": [m.__dict__ for m in mismatches],
            "reconnects": sim.client.stats.reconnects,
            "latency_ms": {
                "intent_to_delivered": latency_stats(delivered),
                "intent_to_report": latency_stats(reported),
            },
        }
    masters = {
        m.terminal.account_id: {
            "transport": spec.transport,
            "intents": m.stats.intents,
            "equity": float(m.terminal.account.equity),
            "balance": float(m.terminal.account.balance),
            "positions": [h.to_json() for h in master_books[m.terminal.account_id]],
            "reconnects": m.client.stats.reconnects,
        }
        for m, spec in zip(demo.masters, demo.master_specs, strict=True)
    }
    return {
        "seed": demo.options.seed,
        "duration_s": demo.elapsed_s(),
        "base_url": demo.base_url,
        "all_match": mismatch_count == 0,
        "totals": {
            "masters": len(masters),
            "followers": len(followers),
            "intents": sum(m["intents"] for m in masters.values()),
            "commands": sum(f["commands"] for f in followers.values()),
            "copies_filled": sum(f["copies_filled"] for f in followers.values()),
            "rejections": sum(f["reports"].get("rejected", 0) for f in followers.values()),
            "skipped": sum(f["copy_records"].get("skipped", 0) for f in followers.values()),
            "reconnects": sum(x["reconnects"] for x in [*masters.values(), *followers.values()]),
            "mismatches": mismatch_count,
        },
        "latency_ms": {
            "intent_to_delivered": latency_stats(delivered_all),
            "intent_to_report": latency_stats(reported_all),
        },
        "masters": masters,
        "followers": followers,
    }
