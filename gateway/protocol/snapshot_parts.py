"""A SyncSnapshot sent in parts, made whole again. Pure.

An EA whose snapshot does not fit one message (the frame limit) sends it in
parts: SyncSnapshot envelopes with the same `snapshot_id`, numbered `part` 1 to
`parts`, each with some of the positions and orders. The store keeps the parts
of an account until the set is complete (in any arrival order, a duplicate part
kept once); `assemble_snapshot` then turns the set into the one SyncSnapshot the
copier reconciles, exactly as if the EA had sent it whole:

- positions and orders are those of part 1, then part 2, ... in part order;
- `balance`, `equity` and `request_id` are part 1's (the EA repeats them in
  every part), the envelope `id` and `ts` too (the snapshot is named after its
  first part: the copier's reconciliation round id);
- `snapshot_id`, `part` and `parts` are dropped.

What happens to sets that never complete (a newer snapshot supersedes them, or
they expire) is the store's business (see `IntentSink.buffer_snapshot_part`).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from schemas.codes import ErrorCode
from schemas.envelope import SyncSnapshot, encode_envelope, parse_client_envelope
from schemas.errors import EnvelopeError
from schemas.messages import SyncSnapshotPayload

__all__ = ["assemble_snapshot"]


def assemble_snapshot(bodies: Sequence[bytes]) -> bytes:
    """One SyncSnapshot envelope (normalised JSON) from a complete set of parts.

    Args:
        bodies: the normalised part envelopes, in any order, one per part number.

    Raises:
        EnvelopeError: the bodies are not exactly parts 1..n of one snapshot, or
            the whole snapshot fails validation (too many positions or orders);
            `ref_id` is the id of part 1 when there is one.
    """
    parts = [_part(body) for body in bodies]
    parts.sort(key=lambda p: p.payload.part or 0)
    ref_id = parts[0].id if parts else None
    ids = {p.payload.snapshot_id for p in parts}
    numbers = [p.payload.part for p in parts]
    counts = {p.payload.parts for p in parts}
    if len(ids) != 1 or counts != {len(parts)} or numbers != list(range(1, len(parts) + 1)):
        raise EnvelopeError(
            ErrorCode.VALIDATION_ERROR,
            "snapshot parts are not parts 1..n of one snapshot",
            ref_id=ref_id,
        )
    first = parts[0]
    try:
        payload = SyncSnapshotPayload(
            positions=[pos for p in parts for pos in p.payload.positions],
            orders=[order for p in parts for order in p.payload.orders],
            balance=first.payload.balance,
            equity=first.payload.equity,
            request_id=first.payload.request_id,
        )
    except ValidationError as exc:
        raise EnvelopeError(
            ErrorCode.VALIDATION_ERROR,
            f"the snapshot assembled from {len(parts)} parts failed validation",
            ref_id=ref_id,
            details=[
                {"loc": [str(x) for x in e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_input=False)
            ],
        ) from exc
    return encode_envelope(SyncSnapshot(id=first.id, ts=first.ts, payload=payload))


def _part(body: bytes) -> SyncSnapshot:
    envelope = parse_client_envelope(body)
    if not isinstance(envelope, SyncSnapshot) or not envelope.payload.is_part:
        raise EnvelopeError(
            ErrorCode.VALIDATION_ERROR, "not a part of a snapshot", ref_id=envelope.id
        )
    return envelope
