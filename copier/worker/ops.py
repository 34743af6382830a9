"""The arguments of follower decisions in a `COMMIT_MANY` call. Pure.

A decision travels as netstrings (``<length>:<bytes>``; see `COMMIT_MANY` in
`copier.worker.lua` for the order): the version it was made on, the record's new
state field, the link fields that changed (`encode_changes`), its copy records
and outbox entries, and any other write as a Redis command (an *op*:
subscription status changes, audit entries). The script applies all of it only
if the version still matches. Netstrings, not JSON: the script takes the stored
values (JSON documents themselves) as they are, without escaping or parsing them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from copier.keys import CopierKeys
from copier.subscriptions import AuditEntry, audit_ops, subscription_ops
from copier.worker.codec import encode_changes, encode_copy
from copier.worker.decide import FollowerWrite
from schemas.subscriptions import SubscriptionView

__all__ = [
    "commit_decision",
    "commit_ops",
    "netstrings",
    "outbox_value",
    "read_netstrings",
    "read_outbox_value",
]


def commit_ops(
    keys: CopierKeys, write: FollowerWrite, views: Mapping[str, SubscriptionView], now_ms: int
) -> list[list[str]]:
    """A decision's subscription status changes and their audit entries, as Redis commands.

    Args:
        keys: the copier's key names.
        write: the decision.
        views: the follower's subscriptions by master (status changes start from them).
        now_ms: the current time (audit entries, updated_ms).
    """
    follower = write.after.account_id
    ops: list[list[str]] = []
    for change in write.status_changes:
        before = views.get(change.master_id)
        if before is None or before.status is change.status:
            continue
        after = before.model_copy(update={"status": change.status, "updated_ms": now_ms})
        entry = AuditEntry(
            now_ms,
            "copier",
            "status",
            follower,
            change.master_id,
            before,
            after,
            f"{change.reason}: {change.message}",
        )
        ops += subscription_ops(keys, after, follower, change.master_id)
        ops += audit_ops(keys, entry)
    return ops


def netstrings(values: Iterable[bytes]) -> bytes:
    """``<length>:<bytes>`` for each value, concatenated (what the scripts' `nxt` reads)."""
    return b"".join([b"%d:%s" % (len(value), value) for value in values])


def commit_decision(
    keys: CopierKeys,
    write: FollowerWrite,
    views: Mapping[str, SubscriptionView],
    now_ms: int,
    *,
    epoch: str,
    out: list[bytes],
    foreign: list[list[str]] | None = None,
) -> None:
    """Append one decision of a `COMMIT_MANY` call to `out` (join it for ARGV[3]).

    Args:
        keys: the copier's key names.
        write: the decision.
        views: the follower's subscriptions by master.
        now_ms: the current time.
        epoch: a fresh random token: the record's epoch if the decision creates it.
        out: the netstrings of the call so far (this decision's are appended as one).
        foreign: Redis Cluster: where the decision's writes outside the follower's
            slot go instead (`CopierKeys.split_by_slot`; applied after the call).
    """
    changes = encode_changes(write.before, write.after)
    values = [
        write.after.account_id.encode(),
        b"%d" % write.before.version,
        epoch.encode(),
        changes.state,
        b"%d" % len(changes.put),
    ]
    for name, value in changes.put:
        values += (name.encode(), value)
    values.append(b"%d" % len(changes.drop))
    values += (name.encode() for name in changes.drop)
    values.append(b"%d" % len(write.copies))
    for copy in write.copies:
        values += (copy.command_id.encode(), b"%d" % copy.intent_received_ms, encode_copy(copy))
    values.append(b"%d" % len(write.outbox))
    version = write.before.version + 1  # the record's version once this decision applies
    for index, item in enumerate(write.outbox):
        value = outbox_value(item.due_ms, (version, index), item.body)
        values += (item.envelope_id.encode(), b"%d" % item.due_ms, value)
    ops = commit_ops(keys, write, views, now_ms)
    if foreign is not None:
        ops, elsewhere = keys.split_by_slot(write.after.account_id, ops)
        foreign += elsewhere
    values.append(b"%d" % len(ops))
    for op in ops:
        values.append(b"%d" % len(op))
        values += (arg.encode() for arg in op)
    out.append(netstrings(values))


def read_netstrings(blob: bytes) -> list[bytes]:
    """The values of a netstring sequence (the inverse of `netstrings`)."""
    values: list[bytes] = []
    pos = 0
    while pos < len(blob):
        colon = blob.index(b":", pos)
        length = int(blob[pos:colon])
        values.append(blob[colon + 1 : colon + 1 + length])
        pos = colon + 1 + length
    return values


def outbox_value(due_ms: int, order: tuple[int, int], body: bytes) -> bytes:
    """An outbox entry's stored value: ``<due ms>|<version>.<index>|<envelope>``.

    `order` is the decision order: the follower record's version the decision
    wrote and the item's index in the decision. A sweeper enqueues an account's
    due entries in that order (a hash has none of its own), so commands about
    one copy reach the follower in the order they were decided.
    """
    return b"%d|%d.%d|%s" % (due_ms, order[0], order[1], body)


def read_outbox_value(value: bytes) -> tuple[int, tuple[int, int], bytes]:
    """(due ms, decision order, envelope) of a stored outbox value.

    A value written before the order key (``<due ms>|<envelope>``) is ordered
    first, as (0, 0): it was decided before any entry that carries one.
    """
    due, _, rest = value.partition(b"|")
    if rest[:1].isdigit():
        order, _, body = rest.partition(b"|")
        version, _, index = order.partition(b".")
        return int(due), (int(version), int(index)), body
    return int(due), (0, 0), rest
