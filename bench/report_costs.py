"""Copier per-report costs, in process (no Redis): the fill's decision, its commit
fields, and the no-op ``copier.report`` span.

Usage: python bench/report_costs.py [--tree PATH] [--links 10,100,500]

For a follower holding `--links` links (opens copied from one master, as the
store decodes them: a follower keeps every link it ever had, closed ones too),
one fill report: `decide_report` and `encode_changes` of its write (the fields
`COMMIT_MANY` gets), in µs of this process's CPU, the median of 5 rounds of
2,000. Then what one report span costs with no SDK tracer provider installed
(``COPYGATE_OTEL_EXPORTER=none``), started as the pump did before it skipped
them. ``--tree`` imports the copier from another checkout (e.g. a detached
worktree of main) to compare before and after in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _us(call: Callable[[], object], count: int = 2_000) -> float:
    rounds = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(count):
            call()
        rounds.append((time.process_time() - start) / count * 1e6)
    return round(statistics.median(rounds), 2)


def report_costs(links: int) -> dict[str, float]:
    from copier.core import CircuitBreaker, derive_command_id
    from copier.worker.codec import decode_follower, encode_changes, encode_follower
    from copier.worker.decide import FollowerContext, decide_report, decide_signal
    from copier.worker.state import FollowerRecord
    from schemas.codes import Action, ExecutionStatus
    from schemas.messages import ExecutionReportPayload
    from tests.copier.core.builders import MASTER, NOW, intent, settings, signal, spec

    ctx = FollowerContext(equity=Decimal(10_000), symbols={"EURUSD": spec()})
    record = FollowerRecord("f1")
    for ticket in range(100, 100 + links):
        opened = signal(intent(Action.OPEN, ticket), intent_id=f"i-{ticket}")
        record = decide_signal(opened, settings(), record, ctx, NOW).after
    loaded = decode_follower("f1", 1, encode_follower(record), CircuitBreaker())
    report = ExecutionReportPayload(
        command_id=derive_command_id(MASTER, f"i-{100 + links - 1}", "f1"),
        status=ExecutionStatus.FILLED,
        ticket=9,
        volume=Decimal(1),
    )
    subs = {MASTER: settings()}
    write = decide_report(loaded, report, None, subs, ctx, NOW)
    assert write is not None
    return {
        "decide_report_us": _us(lambda: decide_report(loaded, report, None, subs, ctx, NOW)),
        "encode_changes_us": _us(lambda: encode_changes(write.before, write.after)),
    }


def no_op_span_us() -> float:
    from opentelemetry import trace
    from opentelemetry.trace import Link, SpanKind

    from gateway.telemetry import context_from_traceparent

    tracer = trace.get_tracer("copygate.copier")
    parent = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    def one() -> None:
        received = context_from_traceparent(parent)
        links = [Link(trace.get_current_span(received).get_span_context())] if received else []
        with tracer.start_as_current_span(
            "copier.report",
            context=context_from_traceparent(parent.decode()),
            kind=SpanKind.CONSUMER,
            links=links,
            attributes={"copygate.account_id": "f1", "copygate.command_id": "cmd-1"},
        ):
            pass

    return _us(one)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout to import from")
    parser.add_argument("--links", default="10,100,500", help="links per follower (comma list)")
    args = parser.parse_args()
    sys.path.insert(0, str(args.tree.resolve()))
    sys.path.insert(1, str(ROOT))  # the test builders, when the tree has none
    result: dict[str, Any] = {"tree": str(args.tree)}
    for links in map(int, args.links.split(",")):
        result[f"links={links}"] = report_costs(links)
    result["no_op_report_span_us"] = no_op_span_us()
    print(result)


if __name__ == "__main__":
    main()
