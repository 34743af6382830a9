"""The fault suite's pure half: the fault schedule of a seed, and the invariant check.

Nothing here does I/O. `schedule(seed, ...)` turns a seed into the faults of one
run (a replayed seed gets the same faults at the same offsets), and `check(...)`
reads the history a run recorded and lists every violated invariant:

* `duplicate_execution`: a follower's broker executed the same command (the same
  derived `command_id`, retries excluded) successfully more than once;
* `order`: a follower executed the commands copied from one master order (one
  master ticket) out of the order of the master's intents about it (commands
  about different orders may pass each other: a close waits for its open's
  report while an open of another order goes ahead);
* `two_live_sessions`: two authenticated sessions of one account were live in the
  same sample of the session table;
* `position`: at the end, a follower's positions differ from its masters' under
  its allocation (missing, duplicate, orphan or wrongly sized copies; the demo's
  `verify_follower` rules).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from copier.core.commands import derive_command_id

__all__ = [
    "FAULT_KINDS",
    "Execution",
    "Fault",
    "History",
    "Intent",
    "Violation",
    "check",
    "schedule",
]

#: Every fault the suite injects. `node_kill`/`copier_kill`: SIGKILL, restarted
#: after `hold_s`; `redis_restart`: SIGKILL of Redis, restarted from its AOF;
#: `cut`: EA connections dropped mid-frame at the proxy; `latency`: `arg` ms of
#: delay (+ jitter) on every chunk for `hold_s`; `dup_reorder`: EA messages
#: duplicated and adjacent reports swapped for `hold_s`.
FAULT_KINDS = ("node_kill", "copier_kill", "redis_restart", "cut", "latency", "dup_reorder")
_SUCCESS = frozenset({"filled", "closed", "modified", "placed", "cancelled"})


@dataclass(frozen=True)
class Fault:
    """One scheduled fault."""

    at_s: float  #: offset from the start of trading
    kind: str  #: one of FAULT_KINDS
    target: int  #: which node/copier (index), or 0
    hold_s: float  #: how long it lasts before repair
    arg: float = 0.0  #: kind-specific (latency ms, cut fraction)


def schedule(
    seed: int,
    duration_s: float,
    *,
    faults: int,
    nodes: int = 3,
    copiers: int = 2,
    kinds: Sequence[str] = FAULT_KINDS,
) -> list[Fault]:
    """The faults of run `seed`: `faults` of them, spread over the first 80 % of the run."""
    rng = random.Random(f"chaos:{seed}")
    out = []
    for _ in range(faults):
        kind = rng.choice(list(kinds))
        at = round(rng.uniform(0.05, 0.8) * duration_s, 3)
        hold = round(rng.uniform(0.2, 2.0), 3)
        target = rng.randrange(nodes if kind == "node_kill" else max(copiers, 1))
        arg = 0.0
        if kind == "latency":
            arg = float(rng.choice((5, 20, 80, 250)))
        elif kind == "cut":
            arg = rng.choice((0.25, 0.5, 1.0))
        out.append(Fault(at, kind, target, hold, arg))
    return sorted(out, key=lambda f: f.at_s)


@dataclass(frozen=True)
class Intent:
    """An OrderIntent a master sent."""

    master: str  #: master account
    intent_id: str  #: envelope id
    index: int  #: position in the master's stream (0, 1, ...)
    ticket: int  #: the master order it is about


@dataclass(frozen=True)
class Execution:
    """An OrderCommand a follower's broker ran."""

    follower: str  #: follower account
    command_id: str  #: as received
    status: str  #: the report's status


@dataclass
class History:
    """Everything a run recorded for the check."""

    intents: list[Intent] = field(default_factory=list)  #: every master's intents, in order
    executions: list[Execution] = field(default_factory=list)  #: in execution order
    subscriptions: dict[str, list[str]] = field(default_factory=dict)  #: follower -> masters
    #: samples of the session table: [(account_id, state), ...] per sample
    session_samples: list[list[tuple[str, str]]] = field(default_factory=list)
    #: the demo summary's per-follower position mismatches
    mismatches: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Violation:
    """One broken invariant."""

    invariant: str  #: duplicate_execution, order, two_live_sessions, position
    account: str  #: the account concerned
    detail: str  #: what was seen


def _base(command_id: str) -> str:
    return command_id.split(".r", 1)[0]


def _duplicates(executions: Iterable[Execution]) -> list[Violation]:
    done: Counter[tuple[str, str]] = Counter(
        (e.follower, e.command_id) for e in executions if e.status in _SUCCESS
    )
    return [
        Violation("duplicate_execution", follower, f"{command_id} executed {n} times")
        for (follower, command_id), n in sorted(done.items())
        if n > 1
    ]


def _order(history: History) -> list[Violation]:
    origin: dict[tuple[str, str], tuple[tuple[str, int], int]] = {}
    for follower, masters in history.subscriptions.items():
        for intent in history.intents:
            if intent.master in masters:
                command_id = derive_command_id(intent.master, intent.intent_id, follower)
                origin[(follower, command_id)] = ((intent.master, intent.ticket), intent.index)
    last: dict[tuple[str, tuple[str, int]], int] = {}
    seen: set[tuple[str, str]] = set()
    out = []
    for execution in history.executions:
        key = (execution.follower, _base(execution.command_id))
        if key in seen or key not in origin:
            continue  # a retry, a redelivery, or a command not copied from an intent
        seen.add(key)
        order, index = origin[key]
        previous = last.get((execution.follower, order), -1)
        if index < previous:
            out.append(
                Violation(
                    "order",
                    execution.follower,
                    f"{order[0]} #{order[1]}: intent {index} executed after intent {previous}",
                )
            )
        last[(execution.follower, order)] = max(previous, index)
    return out


def _sessions(samples: Iterable[list[tuple[str, str]]]) -> list[Violation]:
    out = []
    for number, sample in enumerate(samples):
        live = Counter(account for account, state in sample if state == "authenticated")
        out += [
            Violation("two_live_sessions", account, f"{n} authenticated in sample {number}")
            for account, n in sorted(live.items())
            if n > 1
        ]
    return out


def check(history: History) -> list[Violation]:
    """Every violated invariant of a run's history (empty: the run was clean)."""
    out = _duplicates(history.executions) + _order(history) + _sessions(history.session_samples)
    for follower, mismatches in sorted(history.mismatches.items()):
        out += [
            Violation(
                "position",
                follower,
                f"{m.get('problem')} master {m.get('master')} #{m.get('master_ticket')}: "
                f"{m.get('detail')}",
            )
            for m in mismatches
        ]
    return out
