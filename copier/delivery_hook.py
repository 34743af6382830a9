"""The "command delivered" timestamp: a thin wrapper around the gateway's `DeliveryLog`.

`DeliveryTimestamps` delegates every call to the wrapped delivery log. After a
`read` that hands entries to a transport, it records, for each `OrderCommand`
envelope among them, the first time it was handed out (``HSETNX`` into the
account's ``copy-delivered`` hash, which expires a week after its last write).
That is the "command delivered" point of a copy record's latency split.

It is installed in `gateway.app` (one line) instead of changing ``read.lua``,
which belongs to the delivery log: reads without commands cost nothing extra,
reads with commands cost one script call (`RECORD_DELIVERED`, every account of
the read in one netstring argument), which the read does **not** wait for. The
time is taken when the read returns (the hand-out time); the script call runs in
a task of its own, so a transport writes the frames in the same turn of the
event loop and the call is sent right after, long before the EA's reply to a
command can reach the copier. A failed recording is logged and costs the copy
record its delivered time, never a delivery.

**Expired opens are not handed out** (the wire contract: an open older than
`max_signal_age_ms` when it would be sent is not sent). Before a read returns, a
command whose `expires_at` has passed by this process's clock and that was never
handed out before is replaced, at its seq, by an informational
`ErrorAlert{signal_expired}` (`ref_id` = the command id; the EA processes and acks
it like any message, so the seq is used up), and an `ExecutionReport{expired}` is
written to the EA event stream under the session id `DELIVERY_CHECK_SESSION`, from
which the copier records the copy as expired with reason `signal_expired` and frees
the link. Only the copier sets `expires_at`, on opens and pending placements;
closes never expire. A command already handed out once (the EA may have acted on
it) is sent again unchanged: the EA's own expiry check is the second line. Cost:
nothing more on reads without an expired command; one HMGET and one XADD
pipeline on reads with one.

**Local handoff.** With `local` set (`copygate serve`: the gateway's connections
of this process), `enqueue_many` offers each account's new entries to it right
after they are logged (see `gateway.transport.handoff`); an account with an
expired open among them is not offered (the log read replaces it, as above), and
the delivered time of the commands a connection was handed is recorded as a read
would (the hand-out time). The accounts are announced first (`expect`), so a
``deliver`` event that beats the script's reply does not start a log read of
entries about to be handed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis

from copier.keys import CopierKeys
from copier.worker.evalsha import evalsha_many
from copier.worker.lua import RECORD_DELIVERED
from copier.worker.ops import netstrings
from copier.worker.partitions import chunks, keyed_call
from copier.worker.state import DELIVERY_CHECK_SESSION
from gateway.clock import Clock
from gateway.store.ports import DeliveryLog, LocalDelivery
from gateway.store.records import EnqueueResult, Handoff, LogBatch, LogEntry, LogRead
from gateway.store.redis_errors import translates_redis_errors
from schemas.codes import ErrorCode, ExecutionStatus, Severity
from schemas.envelope import ErrorAlert, ExecutionReport, encode_envelope
from schemas.messages import ErrorAlertPayload, ExecutionReportPayload

__all__ = ["DELIVERED_TTL_S", "DeliveryTimestamps"]

#: The delivered-times hash of an account expires this long after its last write.
DELIVERED_TTL_S = 7 * 24 * 3600

_COMMAND_MARK = b'"type":"OrderCommand"'

_log = logging.getLogger("copygate.copier")


@dataclass(frozen=True, slots=True)
class _Expired:
    """An OrderCommand found expired in a read."""

    index: int  #: which read
    account_id: str  #: whose log
    seq: int  #: its seq
    command_id: str  #: its envelope (= command) id
    expires_at: int  #: its expiry


class DeliveryTimestamps:
    """`DeliveryLog` that remembers when each OrderCommand was first handed to a transport."""

    def __init__(
        self,
        inner: DeliveryLog,
        redis: aioredis.Redis,
        keys: CopierKeys,
        clock: Clock,
        inbox_stream: str,
        local: LocalDelivery | None = None,
    ) -> None:
        self.inner = inner  #: the real delivery log
        self._redis = redis  #: bytes-mode client
        self._keys = keys  #: copier key names
        self._clock = clock  #: epoch ms
        self._recording: set[asyncio.Task[None]] = set()  #: delivery-time writes in flight
        self._record = redis.register_script(RECORD_DELIVERED)  #: HSETNX + EXPIRE per account
        #: its key template, by partition (one on a single Redis)
        self._templates = [
            keys.pinned(n).delivered_times("\x01").encode()
            for n in range(keys.layout.partition_count if keys.layout else 1)
        ]
        self._inbox = inbox_stream  #: the EA event stream (expiry reports go there)
        #: this process's connections, offered what `enqueue_many` logged (None: no handoff)
        self.local: LocalDelivery | None = local

    async def enqueue(self, account_id: str, envelope_id: str, body: bytes) -> EnqueueResult:
        """See `DeliveryLog.enqueue`."""
        return await self.inner.enqueue(account_id, envelope_id, body)

    async def enqueue_many(self, items: Sequence[tuple[str, str, bytes]]) -> list[EnqueueResult]:
        """See `DeliveryLog.enqueue_many`; then the new entries go to `local`, if any."""
        local = self.local
        if local is None:
            return await self.inner.enqueue_many(items)
        hold = local.expect({account_id for account_id, _, _ in items})
        try:
            results = await self.inner.enqueue_many(items)
        except BaseException:
            local.hand(hold, [], _nothing)
            raise
        offers, commands = _offers(items, results, self._clock())
        local.hand(hold, offers, lambda handed: self._handed(handed, commands))
        return results

    def _handed(self, handed: list[Handoff], commands: dict[str, list[str]]) -> None:
        """Record the delivered time of the OrderCommands a local connection was handed."""
        mine = {offer.account_id: commands[offer.account_id] for offer in handed}
        mine = {account_id: ids for account_id, ids in mine.items() if ids}
        if mine:
            self._start_recording(mine)

    async def mark_handed(self, marks: Sequence[tuple[str, str, int]]) -> list[bool]:
        """See `DeliveryLog.mark_handed`."""
        return await self.inner.mark_handed(marks)

    async def log_for_session(self, account_id: str, session_id: str, body: bytes) -> int:
        """See `DeliveryLog.log_for_session`."""
        return await self.inner.log_for_session(account_id, session_id, body)

    async def next_seq(self, account_id: str) -> int:
        """See `DeliveryLog.next_seq`."""
        return await self.inner.next_seq(account_id)

    async def read(
        self, account_id: str, session_id: str, *, after_seq: int, limit: int = 500
    ) -> list[LogEntry]:
        """See `DeliveryLog.read`; expired opens are replaced, OrderCommands' times recorded."""
        entries = await self.inner.read(account_id, session_id, after_seq=after_seq, limit=limit)
        [screened] = await self._screen([(account_id, entries)])
        return screened

    async def read_many(self, reads: Sequence[LogRead]) -> list[LogBatch]:
        """See `DeliveryLog.read_many`; one script call records the OrderCommands of all reads."""
        batches = await self.inner.read_many(reads)
        screened = await self._screen(
            [(read.account_id, batch.entries) for read, batch in zip(reads, batches, strict=True)]
        )
        return [
            batch if entries is batch.entries else LogBatch(batch.reply_seqs, entries)
            for batch, entries in zip(batches, screened, strict=True)
        ]

    async def _screen(self, reads: list[tuple[str, list[LogEntry]]]) -> list[list[LogEntry]]:
        """Each read's entries, expired never-handed-out opens replaced; the rest recorded."""
        now = self._clock()
        commands: dict[str, list[str]] = {}
        expired: list[_Expired] = []
        for index, (account_id, entries) in enumerate(reads):
            for entry in entries:
                if _COMMAND_MARK not in entry.body:
                    continue
                command_id, expires_at = _command_fields(entry.body)
                if command_id is None:
                    continue
                if expires_at is not None and expires_at < now:
                    expired.append(_Expired(index, account_id, entry.seq, command_id, expires_at))
                else:
                    commands.setdefault(account_id, []).append(command_id)
        out = [entries for _, entries in reads]
        if expired:
            out = await self._replace_expired(out, expired, commands, now)
        if commands:
            self._start_recording(commands)
        return out

    async def _replace_expired(
        self,
        reads: list[list[LogEntry]],
        expired: list[_Expired],
        commands: dict[str, list[str]],
        now: int,
    ) -> list[list[LogEntry]]:
        """Alerts in place of the expired opens never handed out; their reports to the copier."""
        handed = await self._handed_out(expired)
        replace_at: dict[tuple[int, int], _Expired] = {}
        for found, before in zip(expired, handed, strict=True):
            if before:  # the EA may have acted on it: send it again, the EA decides
                commands.setdefault(found.account_id, []).append(found.command_id)
            else:
                replace_at[(found.index, found.seq)] = found
        if not replace_at:
            return reads
        out = [
            [
                LogEntry(e.seq, _expiry_alert(f.command_id, f.expires_at, now))
                if (f := replace_at.get((index, e.seq))) is not None
                else e
                for e in entries
            ]
            for index, entries in enumerate(reads)
        ]
        reports = {
            (f.account_id, f.command_id): _expiry_report(f.command_id, f.expires_at, now)
            for f in replace_at.values()
        }
        await self._report_expired([(account, body) for (account, _), body in reports.items()])
        return out

    @translates_redis_errors
    async def _handed_out(self, expired: list[_Expired]) -> list[bool]:
        """For each expired command, whether a transport was handed it before."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for found in expired:
                pipe.hexists(self._keys.delivered_times(found.account_id), found.command_id)
            replies: list[Any] = await pipe.execute()
        return [bool(reply) for reply in replies]

    @translates_redis_errors
    async def _report_expired(self, reports: list[tuple[str, bytes]]) -> None:
        """Write the expiry reports to the EA event stream, as the copier reads it."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for account_id, body in reports:
                layout = self._keys.layout  # on a cluster: the account's partition's stream
                pipe.xadd(
                    layout.ea_inbox_stream(layout.partition_of(account_id))
                    if layout
                    else self._inbox,
                    {"account_id": account_id, "session_id": DELIVERY_CHECK_SESSION, "body": body},
                )  # not trimmed by length: that could drop entries the copier has not read
            await pipe.execute()
        _log.info("%d expired open(s) not sent; recorded as signal_expired", len(reports))

    @property
    def recording(self) -> int:
        """How many delivery-time writes are in flight."""
        return len(self._recording)

    async def settled(self) -> None:
        """Wait until every delivery-time write started so far has ended."""
        while self._recording:
            await asyncio.wait(list(self._recording))

    def _start_recording(self, envelope_ids: dict[str, list[str]]) -> None:
        """Record the hand-out time now, written by a task the read does not wait for."""
        task = asyncio.get_running_loop().create_task(
            self._record_many(envelope_ids, self._clock())
        )
        self._recording.add(task)
        task.add_done_callback(self._recorded)

    def _recorded(self, task: asyncio.Task[None]) -> None:
        self._recording.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            _log.warning("delivery times not recorded: %r", exc)

    @translates_redis_errors
    async def _record_many(self, envelope_ids: dict[str, list[str]], now: int) -> None:
        accounts = list(envelope_ids)
        calls: list[list[bytes | str | int]] = []
        for partition, indexes in chunks(self._keys, accounts, len(accounts)):
            values: list[bytes] = []
            for account_id in (accounts[i] for i in indexes):
                ids = envelope_ids[account_id]
                values += (account_id.encode(), b"%d" % len(ids), *(i.encode() for i in ids))
            args = (self._templates[partition], now, DELIVERED_TTL_S, netstrings(values))
            calls.append(keyed_call(self._keys, accounts[indexes[0]], *args))
        await evalsha_many(self._redis, self._record, calls, keyed=True)

    async def ack(self, account_id: str, session_id: str, ack_seq: int) -> int:
        """See `DeliveryLog.ack`."""
        return await self.inner.ack(account_id, session_id, ack_seq)

    async def pending_count(self, account_id: str) -> tuple[int, int]:
        """See `DeliveryLog.pending_count`."""
        return await self.inner.pending_count(account_id)


def _nothing(handed: list[Handoff]) -> None:
    """`done` of an empty hand."""


def _offers(
    items: Sequence[tuple[str, str, bytes]], results: Sequence[EnqueueResult], now: int
) -> tuple[list[Handoff], dict[str, list[str]]]:
    """What to offer a local connection after `enqueue_many`, and each account's commands.

    An account is offered its numbered entries only when every item of it was
    numbered anew (none held, refused or a duplicate of an older entry) and none is
    an expired OrderCommand: the log read replaces that one by its alert.
    """
    entries: dict[str, list[LogEntry] | None] = {}
    commands: dict[str, list[str]] = {}
    for (account_id, _, body), result in zip(items, results, strict=True):
        mine = entries.get(account_id, [])
        if mine is None:
            continue
        if result.seq is None or result.duplicate:
            entries[account_id] = None
            continue
        if _COMMAND_MARK in body:
            command_id, expires_at = _command_fields(body)
            if expires_at is not None and expires_at < now:
                entries[account_id] = None
                continue
            if command_id is not None:
                commands.setdefault(account_id, []).append(command_id)
        mine.append(LogEntry(result.seq, body))
        entries[account_id] = mine
    offers = [Handoff(a, tuple(mine)) for a, mine in entries.items() if mine]
    return offers, commands


def _command_fields(body: bytes) -> tuple[str | None, int | None]:
    """The envelope id and `payload.expires_at` of a logged OrderCommand (None: absent)."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(value, dict):
        return None, None
    envelope_id = value.get("id")
    payload = value.get("payload")
    expires = payload.get("expires_at") if isinstance(payload, dict) else None
    return (
        envelope_id if isinstance(envelope_id, str) else None,
        expires if isinstance(expires, int) and not isinstance(expires, bool) else None,
    )


def _expiry_message(command_id: str, expires_at: int, now: int) -> str:
    return (
        f"OrderCommand {command_id} not sent: it expired at {expires_at} "
        f"(gateway time {now}, {now - expires_at} ms late)"
    )


def _expiry_alert(command_id: str, expires_at: int, now: int) -> bytes:
    """The ErrorAlert logged-entry body (no seq) that takes an expired open's place."""
    alert = ErrorAlert(
        id=f"exp-{command_id}"[:128],
        ts=now,
        payload=ErrorAlertPayload(
            code=ErrorCode.SIGNAL_EXPIRED,
            severity=Severity.INFO,
            message=_expiry_message(command_id, expires_at, now),
            ref_id=command_id,
        ),
    )
    return encode_envelope(alert)


def _expiry_report(command_id: str, expires_at: int, now: int) -> bytes:
    """The ExecutionReport{expired} the copier reads for an open that was not sent."""
    report = ExecutionReport(
        id=f"exp-{command_id}"[:128],
        ts=now,
        payload=ExecutionReportPayload(
            command_id=command_id,
            status=ExecutionStatus.EXPIRED,
            error_message=_expiry_message(command_id, expires_at, now),
        ),
    )
    return encode_envelope(report)
