"""The session service: authentication, creation, token checks and effect execution.

Both transports use it. It turns the pure protocol's effects into store calls and
returns what must be written to the EA; it never decides a session rule itself.
Creation and token resolution (what a reconnect costs) are in `session_opening`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.admission import Admission
from gateway.auth.strategies import AuthRegistry
from gateway.backlog_monitor import BacklogMonitor
from gateway.clock import Clock
from gateway.errors import CopierOverloaded, FencingError
from gateway.protocol import (
    Acknowledge,
    BufferSnapshotPart,
    CheckPromotion,
    CloseSession,
    Effect,
    HoldIntent,
    LogAlert,
    PublishEaEvent,
    PublishIntent,
    RecordHeartbeat,
    RecordInit,
    RememberAck,
    Send,
    SessionProtocol,
    assemble_snapshot,
)
from gateway.publish_runs import PublishRun, overloaded, publish_run
from gateway.session_opening import SessionOpening, new_envelope_id
from gateway.settings import Settings
from gateway.store.factory import StoreBundle
from gateway.store.records import AccountRecord, LogEntry, LogRead, SessionRecord
from gateway.telemetry import Telemetry
from schemas.codes import CloseReason, KeyStatus, Role, SessionState
from schemas.envelope import Envelope, encode_envelope
from schemas.errors import EnvelopeError

__all__ = ["Applied", "Outbound", "SessionService", "new_envelope_id"]

_log = logging.getLogger("copygate.sessions")


def _close_reason(value: str | None) -> CloseReason:
    try:
        return CloseReason(value or CloseReason.PREEMPTED)
    except ValueError:
        return CloseReason.PREEMPTED


def _is_ack(effect: Effect) -> bool:
    return isinstance(effect, Acknowledge)


@dataclass(frozen=True, slots=True)
class Outbound:
    """One session's part of `SessionService.outbound_many`."""

    proto: SessionProtocol  #: the session (its state decides whether the log is read)
    replies: list[Envelope]  #: replies to number, written directly
    after_seq: int  #: read the log after this seq


@dataclass(slots=True)
class Applied:
    """What executing a batch of effects produced for the transport."""

    outgoing: list[Envelope] = field(default_factory=list)  #: replies, not yet numbered
    close: CloseSession | None = None  #: set when the transport must close
    promoted: bool = False  #: the session became authenticated during this batch
    acked: int | None = None  #: acknowledged seq after this batch (clamped by the store)
    reported: bool = False  #: the EA said what it processed (ack_seq seen in this batch)


class SessionService(SessionOpening):
    """Creates sessions and carries out protocol effects against the store."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: StoreBundle,
        auth: AuthRegistry,
        telemetry: Telemetry,
        clock: Clock,
    ) -> None:
        self.settings = settings  #: process settings
        self.store = store  #: every store port
        self.auth = auth  #: strategies by auth_method
        self.telemetry = telemetry  #: spans and counters
        self.clock = clock  #: epoch-ms clock
        #: session id -> (its account, read at) from `resolve_token`, for `open_protocol`
        self._opening: dict[str, tuple[AccountRecord | None, int]] = {}
        #: admits OrderIntents from the cached copier backlog; None admits all
        self.admission: BacklogMonitor | None = None

    # ---- effects -------------------------------------------------------------------
    async def apply(self, proto: SessionProtocol, effects: list[Effect]) -> Applied:
        """Carry out effects in order; a fencing failure turns into the session's close."""
        applied = Applied()
        queue = list(effects)
        while queue:
            effect = queue.pop(0)
            try:
                if (
                    isinstance(effect, (RecordHeartbeat, RecordInit))
                    and queue
                    and _is_ack(queue[0])
                ):
                    # an authenticated heartbeat or InitRequest: record + ack in one store call
                    ack = queue.pop(0)
                    assert isinstance(ack, Acknowledge)
                    acked = await self._record_with_ack(proto, effect, ack.ack_seq)
                    applied.acked = max(acked, applied.acked or 0)
                    applied.reported = True
                elif isinstance(effect, (PublishIntent, PublishEaEvent)) and (
                    run := publish_run(effect, queue, lambda e: self._admission(proto, e))
                ):
                    del queue[: run.taken]
                    await self._publish_in_order(proto, run, applied)
                else:
                    await self._apply_one(proto, effect, applied)
            except FencingError as exc:
                reason = _close_reason(exc.reason)
                queue = proto.close(reason, self.clock())
            except CopierOverloaded as exc:
                exc.applied = applied  # what went before the refused intent
                raise
        return applied

    def _admission(
        self, proto: SessionProtocol, effect: PublishIntent | PublishEaEvent
    ) -> Admission | None:
        """Admission's verdict on an intent (None: reports, or no admission control)."""
        if not isinstance(effect, PublishIntent) or self.admission is None:
            return None
        return self.admission.admit(proto.account_id, effect.action)

    async def _publish_in_order(
        self, proto: SessionProtocol, run: PublishRun, applied: Applied
    ) -> None:
        """Append a run of consecutive intents and reports in one round trip, in order;
        each one's Receipt is sent only once it is appended. A refused intent ends the
        run: what went before it is appended, then it is refused (`CopierOverloaded`)."""
        if run.items:
            results = await self.store.intents.publish_in_order(
                proto.account_id,
                proto.session_id,
                [
                    ("intents" if isinstance(e, PublishIntent) else "ea_inbox", e.body)
                    for e, _ in run.items
                ],
            )
            for (_, sends), result in zip(run.items, results, strict=True):
                if isinstance(result, FencingError):
                    raise result
                applied.outgoing.extend(send.envelope for send in sends)
        if run.refused is not None:
            intent, verdict = run.refused
            assert isinstance(intent, PublishIntent)
            raise overloaded(verdict, intent.intent_id)

    async def _record_with_ack(
        self, proto: SessionProtocol, effect: RecordHeartbeat | RecordInit, ack_seq: int
    ) -> int:
        """The effect and the EA's ack as one store call; returns the store's clamped ack."""
        sessions, account, sid = self.store.sessions, proto.account_id, proto.session_id
        if isinstance(effect, RecordHeartbeat):
            return await sessions.heartbeat(
                account,
                sid,
                now_ms=self.clock(),
                heartbeat_timeout_ms=self.settings.heartbeat_timeout_ms,
                status=effect.payload,
                ack_seq=ack_seq,
            )
        return await sessions.record_init(
            account, sid, now_ms=self.clock(), payload=effect.payload, ack_seq=ack_seq
        )

    async def _apply_one(self, proto: SessionProtocol, effect: Effect, applied: Applied) -> None:
        """Effects that change what the transport does next."""
        account, sid = proto.account_id, proto.session_id
        match effect:
            case Send(envelope=envelope):
                applied.outgoing.append(envelope)
            case Acknowledge(ack_seq=ack_seq):
                # the store clamps to what a transport was handed: a bogus ack_seq
                # can neither drop undelivered messages nor skip later ones
                acked = await self.store.delivery.ack(account, sid, ack_seq)
                applied.acked = max(acked, applied.acked or 0)
                applied.reported = True
            case RememberAck(ack_seq=ack_seq):
                # applied at promotion, which renumbers what is left after it
                await self.store.sessions.remember_ack(sid, ack_seq)
                applied.reported = True
            case CheckPromotion():
                applied.promoted = await self.try_promote(proto) or applied.promoted
            case CloseSession(reason=reason):
                await self.close(sid, reason)
                applied.close = effect
            case BufferSnapshotPart():
                await self._snapshot_part(proto, effect, applied)
            case _:
                await self._record(proto, effect)

    async def _snapshot_part(
        self, proto: SessionProtocol, part: BufferSnapshotPart, applied: Applied
    ) -> None:
        """Keep a snapshot part; once the set is complete, the copier gets the whole."""
        account, sid = proto.account_id, proto.session_id
        kept = await self.store.intents.buffer_snapshot_part(
            account,
            sid,
            snapshot_id=part.snapshot_id,
            part=part.part,
            parts=part.parts,
            body=part.body,
            now_ms=self.clock(),
        )
        if kept.superseded is not None:
            _log.info(
                "snapshot %s of %s superseded by %s before it was complete",
                kept.superseded,
                account,
                part.snapshot_id,
            )
        if kept.status != "complete":
            return
        try:
            whole = assemble_snapshot(kept.bodies)
        except EnvelopeError as exc:
            # its parts stay until they expire; a new snapshot supersedes them
            _log.warning("snapshot %s of %s refused: %s", part.snapshot_id, account, exc.message)
            for effect in proto.refuse(exc, self.clock()):
                await self._apply_one(proto, effect, applied)
            return
        await self.store.intents.publish_snapshot(
            account, sid, snapshot_id=part.snapshot_id, body=whole
        )

    async def _record(self, proto: SessionProtocol, effect: Effect) -> None:
        """Effects that only write to the store (or the log)."""
        account, sid, now = proto.account_id, proto.session_id, self.clock()
        match effect:
            case RecordInit(payload=payload):
                await self.store.intents.record_ea_state(
                    account, kind="init", payload=payload, now_ms=now
                )
            case RecordHeartbeat(payload=payload):
                await self.store.sessions.touch(
                    sid, now_ms=now, heartbeat_timeout_ms=self.settings.heartbeat_timeout_ms
                )
                await self.store.intents.record_ea_state(
                    account, kind="status", payload=payload, now_ms=now
                )
            case HoldIntent(body=body):
                await self.store.intents.hold_intent(account, sid, body)
            case PublishIntent(body=body, action=action, intent_id=intent_id):
                if self.admission is not None:
                    verdict = self.admission.admit(account, action)
                    if not verdict.admitted:
                        raise overloaded(verdict, intent_id)
                await self.store.intents.publish_intent(account, sid, body)
            case PublishEaEvent(body=body):
                await self.store.intents.publish_ea_event(account, sid, body)
            case LogAlert(alert=alert, from_ea=from_ea):
                _log.warning(
                    "%s alert for %s/%s: %s %s (ref %s)",
                    "EA" if from_ea else "withheld",
                    account,
                    sid,
                    alert.payload.code,
                    alert.payload.message,
                    alert.payload.ref_id,
                )

    # ---- promotion and key decisions -------------------------------------------
    async def try_promote(self, proto: SessionProtocol) -> bool:
        """Promote a pending session whose key is approved (rule 2); True if it happened."""
        if proto.state is not SessionState.PENDING:
            return False
        record = await self.store.sessions.get_session(proto.session_id)
        if record is None or record.state is not SessionState.PENDING or record.key_id is None:
            if record is not None and record.state is SessionState.AUTHENTICATED:
                proto.mark_authenticated()
            return False
        key = await self.store.key_store.get(record.key_id)
        if key is None or key.status is not KeyStatus.APPROVED:
            return False
        if await self._promote(record, proto.role):
            proto.mark_authenticated()
            return True
        return False

    async def _promote(self, record: SessionRecord, role: Role | None) -> bool:
        opening = self._protocol(record, role).promote(self.clock())
        result = await self.store.sessions.promote(
            record.session_id,
            now_ms=self.clock(),
            opening_messages=[encode_envelope(message) for message in opening],
        )
        if result is None:
            return False
        self.telemetry.session_promoted()
        for _ in result.preempted:
            self.telemetry.session_closed(CloseReason.PREEMPTED.value)
        return True

    async def promote_key_sessions(self, account_id: str, key_id: str) -> int:
        """After an approval: promote every pending session using the key, oldest first."""
        account = await self.store.accounts.get_account(account_id)
        role = account.role if account else None
        promoted = 0
        for session_id in await self.store.sessions.pending_sessions_for_key(account_id, key_id):
            record = await self.store.sessions.get_session(session_id)
            if record is not None and record.state is SessionState.PENDING:
                promoted += await self._promote(record, role)
        return promoted

    async def close_key_sessions(self, account_id: str, key_id: str, reason: CloseReason) -> int:
        """After a rejection or revocation: close every live session using the key."""
        closed = 0
        for record in await self.store.sessions.list_sessions(account_id):
            if record.key_id == key_id:
                closed += await self.close(record.session_id, reason) is not None
        return closed

    async def close(self, session_id: str, reason: CloseReason) -> SessionRecord | None:
        """Close a live session from the server side (announced to its transport)."""
        closed = await self.store.sessions.close_session(
            session_id, reason=reason, now_ms=self.clock()
        )
        if closed is not None:
            self.telemetry.session_closed(reason.value)
        return closed

    async def close_many(
        self, session_ids: Sequence[str], reason: CloseReason
    ) -> list[SessionRecord]:
        """`close` for many sessions in a few store calls (e.g. this node's, at shutdown)."""
        closed = await self.store.sessions.close_many(
            session_ids, reason=reason, now_ms=self.clock()
        )
        for _ in closed:
            self.telemetry.session_closed(reason.value)
        return closed

    async def outbound(
        self, proto: SessionProtocol, replies: list[Envelope], *, after_seq: int
    ) -> list[LogEntry]:
        """Number `replies`, then read the log after `after_seq`: all of it, in seq order.

        Numbering first and reading second means every logged message with a lower
        seq than a reply is in the result, so a transport that writes the result in
        order never puts a seq on the wire before a smaller deliverable one: an EA
        acknowledging the larger seq cannot lose the smaller.
        """
        [frames] = await self.outbound_many([Outbound(proto, replies, after_seq)])
        return frames

    async def outbound_many(self, requests: Sequence[Outbound]) -> list[list[LogEntry]]:
        """`outbound` for many sessions in one store call; results in request order.

        Each request is numbered and read atomically by the store (`read_many`), so
        each result keeps `outbound`'s ordering guarantee.
        """
        if not requests:
            return []
        limit = self.settings.max_log_entries_per_account
        batches = await self.store.delivery.read_many(
            [
                LogRead(
                    account_id=r.proto.account_id,
                    session_id=r.proto.session_id,
                    after_seq=r.after_seq,
                    replies=len(r.replies),
                    read=r.proto.state is SessionState.AUTHENTICATED,
                    limit=limit,
                )
                for r in requests
            ]
        )
        results: list[list[LogEntry]] = []
        for request, batch in zip(requests, batches, strict=True):
            frames = [
                LogEntry(seq=seq, body=encode_envelope(envelope))
                for seq, envelope in zip(batch.reply_seqs, request.replies, strict=True)
            ]
            if not frames:
                results.append(batch.entries)
                continue
            frames.extend(batch.entries)
            frames.sort(key=_by_seq)
            results.append(frames)
        return results


def _by_seq(entry: LogEntry) -> int:
    return entry.seq
