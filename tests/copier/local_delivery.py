"""`InMemoryLocalDelivery`: a fake `LocalDelivery` with the connections' rule, no sockets.

Each account it "holds" has the highest seq its connection wrote; an offer is
taken (and reported to `done` at once) only when it starts right after it, with
consecutive seqs (`gateway.transport.handoff.takes`), as `LocalConnections` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from gateway.store.records import Handoff
from gateway.transport.handoff import takes

__all__ = ["InMemoryLocalDelivery"]


class InMemoryLocalDelivery:
    """Connections of this process, by account: the highest seq each one wrote."""

    def __init__(self, **sent_upto: int) -> None:
        self.sent_upto = dict(sent_upto)  #: account -> highest seq written
        self.offers: list[Handoff] = []  #: every offer, taken or not
        self.written: list[Handoff] = []  #: the offers taken
        self.expected: list[list[str]] = []  #: holds not handed yet

    def expect(self, account_ids: Iterable[str]) -> object:
        hold = sorted(account_ids)
        self.expected.append(hold)
        return hold

    def hand(
        self, hold: object, offers: Sequence[Handoff], done: Callable[[list[Handoff]], None]
    ) -> None:
        self.expected.remove(hold)  # type: ignore[arg-type]
        self.offers += offers
        taken = []
        for offer in offers:
            upto = self.sent_upto.get(offer.account_id)
            seqs = [entry.seq for entry in offer.entries]
            if upto is not None and takes(idle=True, active=True, sent_upto=upto, seqs=seqs):
                self.sent_upto[offer.account_id] = offer.last_seq
                taken.append(offer)
        self.written += taken
        if taken:
            done(taken)
