"""The local handoff: entries just logged go straight to this process's connection.

When the copier's outbox writer runs in the gateway process, the follower's
connection is often right here. `LocalConnections` is the gateway's
`LocalDelivery`: after `DeliveryLog.enqueue_many` returned (the entries are
durable, with their seqs), the writer offers each account's new entries; a
connection that would write exactly those seqs next takes them and writes them
without waiting for the ``deliver`` event and without reading the log back.

The log stays the source of truth. A connection takes an offer only when it is
idle (no read running or requested for unknown news, no reply waiting), ready (the EA said what
it processed), its session is authenticated, and the offer starts at
``sent_upto + 1`` with consecutive seqs (`takes`, pure). Anything else (a gap, a
read in progress, a closed or preempted connection, another session) is
refused and the ``deliver`` event still published by the enqueue leads to a
log read exactly as before: a seq is never written twice nor skipped.

A taken offer is *held* (the outlet is busy, so no flush reads the log
meanwhile) while one store call, `DeliveryLog.mark_handed`, claims it the way a
read would: atomically, only if the session is still the account's active
session (else the entries are not written and the log is read instead), and
raising ``read_seq``, the ceiling of acknowledgements. The ``deliver`` event of
those entries costs no read: arriving later, it finds them written (its seq is
not above ``sent_upto``, or the one being claimed); arriving first (pub/sub often
beats the script's reply), it only *announced* its seq, and while the writer expects
entries for the account (`expect`, from just before its enqueue until its
`hand`) an announced seq is not a reason to read: the handoff writes it, or,
refused, releases the read. Claims of one offer round go in one
script call (auto-pipelined with the process's other calls).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise
from typing import Protocol, cast

from gateway.store.records import Handoff
from gateway.transport.flush import FlushBatcher, Outlet
from schemas.codes import SessionState

__all__ = ["HandoffClaims", "LocalConnections", "covers", "takes"]

_log = logging.getLogger("copygate.ws")


class HandoffClaims(Protocol):
    """What a handoff needs from the store (`DeliveryLog.mark_handed`)."""

    async def mark_handed(self, marks: Sequence[tuple[str, str, int]]) -> list[bool]:
        """Per (account, session, last seq): claimed (session active, read_seq raised)."""
        ...


def takes(*, idle: bool, active: bool, sent_upto: int, seqs: Sequence[int]) -> bool:
    """Whether a connection may write `seqs` now without reading the log.

    `idle`: no flush requested or running, nothing waiting, not closed; `active`: the
    EA is ready and the session authenticated; `sent_upto`: the highest seq it need
    not send. The seqs must be exactly the next ones: ``sent_upto + 1`` onwards.
    """
    if not (idle and active and seqs) or seqs[0] != sent_upto + 1:
        return False
    return all(b == a + 1 for a, b in pairwise(seqs))


def covers(event_seq: object, *, sent_upto: int, handing: int) -> bool:
    """Whether a ``deliver`` event announcing up to `event_seq` needs no log read."""
    if not isinstance(event_seq, int) or isinstance(event_seq, bool):
        return False
    return event_seq <= max(sent_upto, handing)


def _offer_fits(outlet: Outlet, offer: Handoff) -> bool:
    # a flush requested for an announced seq only (not started) may wait for it
    idle = not (outlet.closed or outlet.busy or outlet.stale or outlet.force or outlet.waiting)
    active = outlet.ready and outlet.proto.state is SessionState.AUTHENTICATED
    return takes(
        idle=idle,
        active=active,
        sent_upto=outlet.sent_upto,
        seqs=[entry.seq for entry in offer.entries],
    )


class LocalConnections:
    """This process's WebSocket connections by account: the gateway's `LocalDelivery`."""

    def __init__(self, delivery: Callable[[], HandoffClaims], batcher: FlushBatcher) -> None:
        self._delivery = delivery  #: the store's delivery log (looked up at call time)
        self._batcher = batcher  #: the process's flush batcher (writes, exclusion)
        self._by_account: dict[str, list[Outlet]] = {}  #: live connections by account
        self._claims: set[asyncio.Task[None]] = set()  #: claims in flight
        self.offered = 0  #: offers received (for benchmarks and tests)
        self.handed = 0  #: offers written without a log read

    def add(self, outlet: Outlet) -> None:
        """A connection of this process may take offers from now on."""
        self._by_account.setdefault(outlet.proto.account_id, []).append(outlet)

    def discard(self, outlet: Outlet) -> None:
        """The connection is gone."""
        outlets = self._by_account.get(outlet.proto.account_id)
        if outlets is None or outlet not in outlets:
            return
        outlets.remove(outlet)
        if not outlets:
            del self._by_account[outlet.proto.account_id]

    def expect(self, account_ids: Iterable[str]) -> list[Outlet]:
        """See `LocalDelivery.expect`: the hold is the connections it marked."""
        marked: list[Outlet] = []
        for account_id in account_ids:
            for outlet in self._by_account.get(account_id, ()):
                outlet.expecting += 1
                marked.append(outlet)
        return marked

    def hand(
        self, hold: object, offers: Sequence[Handoff], done: Callable[[list[Handoff]], None]
    ) -> None:
        """See `LocalDelivery.hand`: hold the fitting connections, claim, then write."""
        taken: list[tuple[Outlet, Handoff]] = []
        self.offered += len(offers)
        for offer in offers:
            for outlet in self._by_account.get(offer.account_id, ()):
                if _offer_fits(outlet, offer):
                    self._batcher.hold(outlet, offer.last_seq)
                    taken.append((outlet, offer))
        for outlet in cast(list[Outlet], hold):
            outlet.expecting -= 1
            outlet.request()  # an announced read it held back, unless handed meanwhile
        if not taken:
            return
        task = asyncio.get_running_loop().create_task(self._claim(taken, done))
        self._claims.add(task)
        task.add_done_callback(self._claims.discard)

    async def _claim(
        self, taken: list[tuple[Outlet, Handoff]], done: Callable[[list[Handoff]], None]
    ) -> None:
        marks = [(o.proto.account_id, o.proto.session_id, offer.last_seq) for o, offer in taken]
        try:
            claimed = await self._delivery().mark_handed(marks)
        except asyncio.CancelledError:  # shutdown: release the connections all the same
            for outlet, _ in taken:
                self._batcher.drop_handoff(outlet)
            raise
        except Exception as exc:  # the log read will deliver them (or fail visibly)
            _log.debug("handoff claim failed: %r", exc)
            claimed = [False] * len(taken)
        handed: list[Handoff] = []
        for (outlet, offer), ok in zip(taken, claimed, strict=True):
            if ok and not outlet.closed:
                handed.append(offer)
                self._batcher.write_handed(outlet, list(offer.entries))
            else:
                self._batcher.drop_handoff(outlet)
        self.handed += len(handed)
        if handed:
            try:
                done(handed)
            except Exception:
                _log.exception("handoff callback failed")

    async def aclose(self) -> None:
        """Wait for the claims in flight (shutdown, tests)."""
        while self._claims:
            await asyncio.wait(list(self._claims))
