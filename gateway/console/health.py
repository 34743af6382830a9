"""Replication health at a glance, computed from copy records (pure, time passed in)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MT4_ERRORS", "WINDOW_MS", "health_summary", "percentile"]

#: The window "copies per minute" counts over.
WINDOW_MS = 60_000

#: What the MT4 trade error codes an EA reports mean (``ERR_*`` of MQL4).
MT4_ERRORS: Mapping[int, str] = {
    1: "no result",
    2: "common error",
    3: "invalid trade parameters",
    4: "trade server busy",
    5: "old client terminal version",
    6: "no connection with trade server",
    8: "too frequent requests",
    64: "account disabled",
    65: "invalid account",
    128: "trade timeout",
    129: "invalid price",
    130: "invalid stops",
    131: "invalid trade volume",
    132: "market is closed",
    133: "trade is disabled",
    134: "not enough money",
    135: "price changed",
    136: "off quotes",
    137: "broker is busy",
    138: "requote",
    139: "order is locked",
    141: "too many requests",
    145: "modification denied: too close to market",
    146: "trade context is busy",
    147: "expirations are denied by broker",
    148: "too many open and pending orders",
    4051: "invalid function parameter value",
    4106: "unknown symbol",
    4108: "invalid ticket",
    4109: "trading not allowed in the expert's properties",
}

_MT4_PREFIX = "mt4_error_"
#: ExecutionReport statuses of a copy the follower carried out.
_EXECUTED = frozenset({"filled", "closed", "modified", "placed", "cancelled"})


def percentile(values: list[int], fraction: float) -> int | None:
    """The nearest-rank percentile of `values` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def _rejection(reason: str | None) -> tuple[str, str] | None:
    """(code, meaning) of a copy's MT4 rejection, or None if it was not one."""
    if not reason or not reason.startswith(_MT4_PREFIX):
        return None
    code = reason.removeprefix(_MT4_PREFIX)
    meaning = MT4_ERRORS.get(int(code), "unknown MT4 error") if code.isdigit() else "unknown"
    return code, meaning


def health_summary(
    copies: Iterable[Mapping[str, Any]], *, now_ms: int, backlog: int
) -> dict[str, Any]:
    """Copies per minute, p50/p99 total latency and MT4 rejections over the last minute.

    Args:
        copies: copy views (``copier.api.copy_view``) of the accounts in scope.
        now_ms: the current time (epoch ms).
        backlog: messages queued for EAs and not acknowledged yet.
    """
    since = now_ms - WINDOW_MS
    latencies: list[int] = []
    executed = 0
    rejections: dict[str, dict[str, Any]] = {}
    for copy in copies:
        reported = copy["times"]["execution_reported_ms"]
        if reported is None or reported < since:
            continue
        total = copy["latency_ms"]["total"]
        if total is not None:
            latencies.append(total)
        if copy["status"] in _EXECUTED:
            executed += 1
        rejection = _rejection(copy.get("reason"))
        if rejection is not None:
            code, meaning = rejection
            row = rejections.setdefault(code, {"code": code, "meaning": meaning, "count": 0})
            row["count"] += 1
    return {
        "window_s": WINDOW_MS // 1000,
        "copies_per_minute": executed,
        "reports_per_minute": len(latencies),
        "latency_p50_ms": percentile(latencies, 0.50),
        "latency_p99_ms": percentile(latencies, 0.99),
        "rejections": sorted(rejections.values(), key=lambda row: -int(row["count"])),
        "backlog": backlog,
    }
