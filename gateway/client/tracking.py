"""Ack bookkeeping and duplicate detection (sans-I/O).

* `AckTracker` reports the highest *processed* seq: a message that was delivered
  but is still being handled holds the ack below it, so a crash or reconnect
  re-sends it.
* `Inbox` drops duplicates by envelope id and answers a re-delivered
  `OrderCommand` with the `ExecutionReport` it produced the first time (by
  `command_id`), so no command is ever executed twice.
* `JournalState` is the part worth persisting across restarts (ack_seq, recent
  command reports); it round-trips through plain JSON.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from schemas.envelope import Envelope, ExecutionReport, OrderCommand

__all__ = ["AckTracker", "Admission", "Inbox", "JournalState", "Verdict"]

#: Envelope ids and command ids remembered by default.
DEFAULT_MEMORY = 5000


class AckTracker:
    """Highest seq such that it and everything delivered below it is processed."""

    def __init__(self, acked: int = 0) -> None:
        self._floor = acked  #: highest seq known processed with nothing open below it
        self._open: set[int] = set()  #: delivered, not yet processed
        self._done_above: set[int] = set()  #: processed, but something lower is still open

    @property
    def ack_seq(self) -> int:
        """The value to report as `ack_seq`."""
        return self._floor

    @property
    def in_flight(self) -> int:
        """Delivered messages not processed yet."""
        return len(self._open)

    def delivered(self, seq: int) -> None:
        """A message with `seq` was handed to the application."""
        if seq > self._floor:
            self._open.add(seq)

    def processed(self, seq: int) -> None:
        """The message with `seq` is fully handled (or was a duplicate of a handled one)."""
        self._open.discard(seq)
        if seq <= self._floor:
            return
        self._done_above.add(seq)
        lowest_open = min(self._open, default=None)
        done = sorted(s for s in self._done_above if lowest_open is None or s < lowest_open)
        if done:
            self._floor = max(self._floor, done[-1])
            self._done_above.difference_update(done)

    def forget_open(self) -> None:
        """The connection is gone: undelivered work will be re-sent, stop waiting for it."""
        self._open.clear()
        self._done_above = {s for s in self._done_above if s > self._floor}


class Verdict(Enum):
    """What to do with a received envelope."""

    NEW = "new"  #: hand it to the application
    IN_FLIGHT = "in_flight"  #: a copy is being handled right now: drop this one
    DONE = "done"  #: handled before: drop it, count it processed
    REPLAY = "replay"  #: a command executed before: re-send its stored report


@dataclass(frozen=True)
class Admission:
    """The verdict on one envelope, with the stored report for a `REPLAY`."""

    verdict: Verdict  #: what to do
    report: ExecutionReport | None = None  #: the first answer to a re-delivered command


@dataclass
class JournalState:
    """What a client should keep across restarts (the EA keeps the same on disk)."""

    ack_seq: int = 0  #: highest processed seq
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)  #: command_id -> report

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"ack_seq": self.ack_seq, "reports": dict(self.reports)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JournalState:
        """The inverse of `to_json`."""
        return cls(ack_seq=int(data.get("ack_seq", 0)), reports=dict(data.get("reports", {})))


class _Lru:
    """A bounded insertion-ordered map."""

    def __init__(self, limit: int) -> None:
        self.limit = limit  #: entries kept
        self.items: OrderedDict[str, Any] = OrderedDict()  #: oldest first

    def put(self, key: str, value: Any) -> None:
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.limit:
            self.items.popitem(last=False)


class Inbox:
    """Duplicate detection by envelope id and by `command_id`."""

    def __init__(self, memory: int = DEFAULT_MEMORY, journal: JournalState | None = None) -> None:
        self._ids = _Lru(memory)  #: envelope id -> True once handled, False while in flight
        self._commands = _Lru(memory)  #: command_id -> stored ExecutionReport (None: running)
        for command_id, report in (journal.reports if journal else {}).items():
            self._commands.put(command_id, ExecutionReport.model_validate(report))

    def admit(self, envelope: Envelope) -> Admission:
        """Classify a received envelope and, when it is new, mark it in flight."""
        seen = self._ids.items.get(envelope.id)
        if seen is not None:
            return Admission(Verdict.DONE if seen else Verdict.IN_FLIGHT)
        if isinstance(envelope, OrderCommand):
            command_id = envelope.payload.command_id
            if command_id in self._commands.items:
                report = self._commands.items[command_id]
                if report is None:
                    return Admission(Verdict.IN_FLIGHT)
                self._ids.put(envelope.id, True)
                return Admission(Verdict.REPLAY, report)
            self._commands.put(command_id, None)
        self._ids.put(envelope.id, False)
        return Admission(Verdict.NEW)

    def handled(self, envelope: Envelope) -> None:
        """The application is done with `envelope`."""
        self._ids.put(envelope.id, True)

    def abandoned(self, envelope: Envelope) -> None:
        """Handling failed before any effect: a re-delivery may try again."""
        self._ids.items.pop(envelope.id, None)
        if isinstance(envelope, OrderCommand):
            command_id = envelope.payload.command_id
            if self._commands.items.get(command_id, 1) is None:
                self._commands.items.pop(command_id, None)

    def remember_report(self, report: ExecutionReport) -> None:
        """Store the answer to a command, replayed if the command comes again."""
        self._commands.put(report.payload.command_id, report)

    def journal(self, ack_seq: int) -> JournalState:
        """The persistable part, with the given ack_seq."""
        reports = {
            command_id: report.model_dump(mode="json", exclude_none=True)
            for command_id, report in self._commands.items.items()
            if report is not None
        }
        return JournalState(ack_seq=ack_seq, reports=reports)
