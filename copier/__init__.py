"""The trade copier: turns master OrderIntents into follower OrderCommands.

`copier.core` is the pure, I/O-free decision layer (allocation, risk guards,
ticket links, planning, reconciliation, retries). Workers that read and write
Redis Streams are built on top of it later.
"""

from copier.errors import CopierError, InvalidInput

__all__ = ["CopierError", "InvalidInput"]
