"""Consecutive appends of one session in one round trip (pure).

A WebSocket connection hands `SessionService.apply` every frame it has already
received at once (`WebSocketPump`): a master sending fast, or a follower with
several reports, gives a list of effects with many `PublishIntent` /
`PublishEaEvent`, each followed by its Receipt `Send`. Appending them one round
trip each made one connection's intents enter at most one per Redis round trip,
and the connection's later frames (its heartbeat among them) waited in the
socket. `publish_run` picks out such a run; the service appends it with one
ordered pipeline (`IntentSink.publish_in_order`) and sends each Receipt only
once its append is done. Admission is asked per intent, in order: a refused
intent ends the run, and what went before it is still appended.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gateway.admission import Admission
from gateway.errors import CopierOverloaded
from gateway.protocol import Effect, PublishEaEvent, PublishIntent, Send

__all__ = ["PublishRun", "overloaded", "publish_run"]

#: What admission says of an append (None: not an intent, or no admission control).
AdmissionOf = Callable[[PublishIntent | PublishEaEvent], Admission | None]


@dataclass(slots=True)
class PublishRun:
    """Consecutive appends of one session applied in one round trip (`publish_run`)."""

    #: each append with the Receipt `Send`s that follow it
    items: list[tuple[PublishIntent | PublishEaEvent, list[Send]]] = field(default_factory=list)
    #: the intent admission refused, which ends the run (with the verdict)
    refused: tuple[PublishIntent | PublishEaEvent, Admission] | None = None
    taken: int = 0  #: effects of the queue the run consumed (after its first)

    def add(self, effect: PublishIntent | PublishEaEvent, admission_of: AdmissionOf) -> bool:
        """Append `effect` to the run if admission lets it through; else end the run
        with it as `refused`. True when the run goes on."""
        verdict = admission_of(effect)
        if verdict is not None and not verdict.admitted:
            self.refused = (effect, verdict)
            return False
        self.items.append((effect, []))
        return True


def publish_run(
    first: PublishIntent | PublishEaEvent, queue: Sequence[Effect], admission_of: AdmissionOf
) -> PublishRun | None:
    """`first` and the appends that follow it in `queue` (each with its Receipt
    `Send`s), up to the first other effect or the first intent admission refuses
    (kept as `refused`); None when `first` stands alone and is admitted (it then
    goes the usual way, batched with other connections' appends)."""
    run = PublishRun()
    if run.add(first, admission_of):
        for effect in queue:
            if isinstance(effect, Send):
                run.items[-1][1].append(effect)
            elif not isinstance(effect, (PublishIntent, PublishEaEvent)):
                break
            run.taken += 1  # a refused intent too: its refusal is its answer
            if not isinstance(effect, Send) and not run.add(effect, admission_of):
                break
    return run if len(run.items) > 1 or run.refused is not None else None


def overloaded(verdict: Admission, intent_id: str | None) -> CopierOverloaded:
    """The refusal of an OrderIntent that admission did not let through."""
    return CopierOverloaded(
        f"the copier is behind ({verdict.reason}); send the OrderIntent "
        f"again in {verdict.retry_after_ms} ms",
        verdict.retry_after_ms,
        intent_id,
    )
