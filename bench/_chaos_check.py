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
  same sample of the session table, or, from the session records, at one instant
  (a session of generation g still open when generation g+1 began, or a
  generation given to two sessions);
* `stale_generation`: the gateway accepted a message (an entry of a copier
  stream) from a session after it had accepted one from a newer generation of
  the same account, from a session that was never authenticated, or a message a
  preempted session sent after its successor was authenticated (a probe);
* `position`: at the end, a follower's positions differ from its masters' under
  its allocation (missing, duplicate, orphan or wrongly sized copies; the demo's
  `verify_follower` rules).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from copier.core.commands import derive_command_id

__all__ = [
    "FAULT_KINDS",
    "SENTINEL_KINDS",
    "SINGLE_REDIS_KINDS",
    "Accepted",
    "Execution",
    "Fault",
    "History",
    "Intent",
    "SessionSpan",
    "StaleProbe",
    "Violation",
    "check",
    "schedule",
]

#: Every fault the suite injects. `node_kill`/`copier_kill`: SIGKILL, restarted
#: after `hold_s`; `redis_restart`: SIGKILL of Redis, restarted from its AOF;
#: `failover`: SIGKILL of the Sentinel-managed primary, the replica promoted, the
#: old primary back as a replica; `cut`: EA connections dropped mid-frame at the
#: proxy; `latency`: `arg` ms of delay (+ jitter) on every chunk for `hold_s`;
#: `dup_reorder`: EA messages duplicated and adjacent reports swapped for
#: `hold_s`; `preempt`: a second session of account `target` authenticates
#: (preempting the EA's), holds the account for `hold_s`, then the EA starts again
#: from its journal.
FAULT_KINDS = (
    "node_kill",
    "copier_kill",
    "redis_restart",
    "failover",
    "cut",
    "latency",
    "dup_reorder",
    "preempt",
)
#: The kinds drawn on one Redis (no Sentinel to fail over).
SINGLE_REDIS_KINDS = tuple(k for k in FAULT_KINDS if k != "failover")
#: The kinds drawn on a primary + replica + sentinels (their servers keep no AOF).
SENTINEL_KINDS = tuple(k for k in FAULT_KINDS if k != "redis_restart")
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
    accounts: int = 15,
    kinds: Sequence[str] = SINGLE_REDIS_KINDS,
) -> list[Fault]:
    """The faults of run `seed`: `faults` of them, spread over the first 80 % of the run."""
    rng = random.Random(f"chaos:{seed}")
    out = []
    for _ in range(faults):
        kind = rng.choice(list(kinds))
        at = round(rng.uniform(0.05, 0.8) * duration_s, 3)
        hold = round(rng.uniform(0.2, 2.0), 3)
        bound = {"node_kill": nodes, "preempt": accounts}.get(kind, max(copiers, 1))
        target = rng.randrange(bound)
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


@dataclass(frozen=True)
class SessionSpan:
    """One session record as the store kept it (read after the run).

    The suite's keys are provisioned, so every session is created authenticated:
    its live span is [created_ms, closed_ms).
    """

    account: str  #: owner account
    session_id: str  #: id
    generation: int  #: fencing generation it was activated with (0: never)
    created_ms: int  #: creation (= activation) time
    closed_ms: int | None  #: None while live
    closed_reason: str | None = None  #: why it closed


@dataclass(frozen=True)
class Accepted:
    """A message the gateway accepted: an entry of a copier stream, in stream order."""

    stream: str  #: stream name
    account: str  #: the entry's account
    session_id: str  #: the session it was accepted from
    envelope_id: str  #: the message's envelope id ('' if unreadable)


@dataclass(frozen=True)
class StaleProbe:
    """A message sent with a preempted session's token after its successor was
    authenticated: the gateway must refuse it."""

    account: str  #: the account
    session_id: str  #: the preempted session
    envelope_id: str  #: the probe's envelope id
    status: int | None  #: the HTTP answer (None: no answer)


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
    sessions: list[SessionSpan] = field(default_factory=list)  #: every session of the run
    accepted: list[Accepted] = field(default_factory=list)  #: stream entries, in stream order
    stale_probes: list[StaleProbe] = field(default_factory=list)  #: sent by `preempt` faults
    #: how far a node's clock reading may precede the script it stamps (ms)
    clock_slack_ms: int = 0


@dataclass(frozen=True)
class Violation:
    """One broken invariant."""

    invariant: str  #: duplicate_execution, order, two_live_sessions, stale_generation, position
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


def _spans(sessions: Iterable[SessionSpan], slack_ms: int) -> list[Violation]:
    """At most one live session per account at every instant, from the records."""
    by_account: dict[str, list[SessionSpan]] = {}
    for span in sessions:
        if span.generation > 0:
            by_account.setdefault(span.account, []).append(span)
    out = []
    for account, spans in sorted(by_account.items()):
        spans.sort(key=lambda s: s.generation)
        for older, newer in pairwise(spans):
            if older.generation == newer.generation:
                out.append(
                    Violation(
                        "two_live_sessions",
                        account,
                        f"generation {older.generation} given to {older.session_id} "
                        f"and {newer.session_id}",
                    )
                )
            elif older.closed_ms is None or older.closed_ms > newer.created_ms + slack_ms:
                out.append(
                    Violation(
                        "two_live_sessions",
                        account,
                        f"generation {older.generation} ({older.session_id}) live until "
                        f"{older.closed_ms}, generation {newer.generation} "
                        f"({newer.session_id}) live from {newer.created_ms}",
                    )
                )
    return out


def _stale(history: History) -> list[Violation]:
    """No message accepted from a session once a newer generation had one accepted."""
    generation = {s.session_id: s.generation for s in history.sessions}
    newest: dict[tuple[str, str], tuple[int, str]] = {}
    out = []
    for entry in history.accepted:
        gen = generation.get(entry.session_id, 0)
        if gen == 0:
            out.append(
                Violation(
                    "stale_generation",
                    entry.account,
                    f"{entry.envelope_id} accepted from {entry.session_id}, "
                    "a session never authenticated",
                )
            )
            continue
        key = (entry.stream, entry.account)
        top, top_session = newest.get(key, (0, ""))
        if gen < top:
            out.append(
                Violation(
                    "stale_generation",
                    entry.account,
                    f"{entry.envelope_id} accepted from generation {gen} ({entry.session_id}) "
                    f"after generation {top} ({top_session}) in {entry.stream}",
                )
            )
        else:
            newest[key] = (gen, entry.session_id)
    accepted_ids = {(e.account, e.envelope_id) for e in history.accepted}
    for probe in history.stale_probes:
        if (probe.account, probe.envelope_id) in accepted_ids:
            out.append(
                Violation(
                    "stale_generation",
                    probe.account,
                    f"probe {probe.envelope_id} of preempted {probe.session_id} accepted",
                )
            )
        elif probe.status is not None and 200 <= probe.status < 300:
            out.append(
                Violation(
                    "stale_generation",
                    probe.account,
                    f"probe {probe.envelope_id} of preempted {probe.session_id} "
                    f"answered {probe.status}",
                )
            )
    return out


def check(history: History) -> list[Violation]:
    """Every violated invariant of a run's history (empty: the run was clean)."""
    out = _duplicates(history.executions) + _order(history) + _sessions(history.session_samples)
    out += _spans(history.sessions, history.clock_slack_ms) + _stale(history)
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
