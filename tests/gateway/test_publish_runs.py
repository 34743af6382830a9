"""A run of one session's consecutive appends, picked out of its effects (pure).

Every frame a WebSocket already received is applied at once; consecutive intents
and reports (each followed by its Receipt) are appended in one round trip. A
refused intent ends the run; anything else (a heartbeat, an alert) does too.
"""

from __future__ import annotations

import pytest

from gateway.admission import Admission, RefusalReason
from gateway.errors import CopierOverloaded
from gateway.protocol import Acknowledge, Effect, PublishEaEvent, PublishIntent, Send
from gateway.publish_runs import overloaded, publish_run
from schemas.envelope import Receipt
from schemas.messages import ReceiptPayload

ADMITTED = Admission(admitted=True)
REFUSED = Admission(admitted=False, reason=RefusalReason.BACKLOG_FULL, retry_after_ms=1_000)


def opened(n: int) -> PublishIntent:
    return PublishIntent(b"open-%d" % n, "open", f"i{n}")


def closed(n: int) -> PublishIntent:
    return PublishIntent(b"close-%d" % n, "close", f"c{n}")


def reported(n: int) -> PublishEaEvent:
    return PublishEaEvent(b"report-%d" % n)


def receipt(n: int) -> Send:
    return Send(Receipt(id=f"rc{n}", ts=1, payload=ReceiptPayload(ids=[f"i{n}"])))


def refuse_opens(effect: PublishIntent | PublishEaEvent) -> Admission | None:
    """Admission with the copier behind: opens refused, exits and reports through."""
    if not isinstance(effect, PublishIntent):
        return None
    return REFUSED if effect.action == "open" else ADMITTED


def admit_all(effect: PublishIntent | PublishEaEvent) -> Admission | None:
    return ADMITTED if isinstance(effect, PublishIntent) else None


def test_consecutive_intents_with_their_receipts_form_one_run() -> None:
    queue: list[Effect] = [receipt(1), opened(2), receipt(2), reported(3), receipt(3)]
    run = publish_run(opened(1), queue, admit_all)
    assert run is not None
    assert [(e, sends) for e, sends in run.items] == [
        (opened(1), [receipt(1)]),
        (opened(2), [receipt(2)]),
        (reported(3), [receipt(3)]),
    ]
    assert (run.taken, run.refused) == (5, None)


def test_an_append_standing_alone_is_no_run() -> None:
    assert publish_run(opened(1), [receipt(1)], admit_all) is None
    assert publish_run(opened(1), [receipt(1), Acknowledge(3), opened(2)], admit_all) is None


def test_an_effect_that_is_no_append_ends_the_run_and_stays_queued() -> None:
    ack = Acknowledge(3)
    queue: list[Effect] = [receipt(1), opened(2), ack, opened(3)]
    run = publish_run(opened(1), queue, admit_all)
    assert run is not None
    assert [e for e, _ in run.items] == [opened(1), opened(2)]
    assert queue[run.taken] is ack


@pytest.mark.parametrize(
    ("first", "queue", "appended", "taken"),
    [
        (closed(1), [receipt(1), opened(2), receipt(2), closed(3)], [closed(1)], 2),
        (opened(1), [receipt(1), closed(2)], [], 0),
        (reported(1), [closed(2), opened(3), reported(4)], [reported(1), closed(2)], 2),
    ],
)
def test_a_refused_intent_ends_the_run_and_what_went_before_it_is_still_appended(
    first: PublishIntent | PublishEaEvent,
    queue: list[Effect],
    appended: list[PublishIntent | PublishEaEvent],
    taken: int,
) -> None:
    run = publish_run(first, queue, refuse_opens)
    assert run is not None and run.refused is not None
    assert [e for e, _ in run.items] == appended
    assert run.refused[1] is REFUSED
    assert run.taken == taken  # the refused intent is consumed: its refusal is the answer


def test_the_refusal_names_the_intent_and_when_to_send_it_again() -> None:
    refusal = overloaded(REFUSED, "i7")
    assert isinstance(refusal, CopierOverloaded)
    assert (refusal.ref_id, refusal.retry_after_ms) == ("i7", 1_000)
