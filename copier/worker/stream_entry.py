"""What the copier's stream consumer hands its handlers: one stream entry, and its id order.

`StreamEntry` is one entry of the intent, EA event or fan-out stream;
`entry_key` orders entry ids; `Handler` and `BatchHandler` are what
`streams.OrderedStreams` calls with them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["BatchHandler", "Handler", "StreamEntry", "entry_key", "failure_field"]


def entry_key(entry_id: str) -> tuple[int, int]:
    """A stream id as a comparable (ms, seq) pair."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """One stream entry as handed to a handler."""

    stream: str  #: the stream key
    entry_id: str  #: the entry id (``<ms>-<seq>``; ms is the Redis clock at append)
    fields: Mapping[bytes, bytes]  #: account_id, session_id, body

    @property
    def account_id(self) -> str:
        """The account the entry is about (the partition key)."""
        return self.fields.get(b"account_id", b"").decode()

    @property
    def received_ms(self) -> int:
        """When Redis appended the entry (server clock)."""
        return entry_key(self.entry_id)[0]


#: Processes one entry; must be idempotent. Raising leaves the entry pending.
Handler = Callable[[StreamEntry], Awaitable[None]]

#: Processes several accounts' entries at once (account -> its entries, oldest first);
#: must be idempotent. Raising leaves every entry pending.
BatchHandler = Callable[[Mapping[str, Sequence[StreamEntry]]], Awaitable[None]]


def failure_field(entry: StreamEntry) -> str:
    """The entry's field in its stream's failure-count hash (`CopierKeys.failures`)."""
    return f"{entry.stream} {entry.entry_id}"
