"""Redis connections that write a command without a task when the socket takes it.

redis-py bounds every write by the connection's ``socket_timeout`` (5 s by
default) with ``asyncio.wait_for(write_and_drain(), socket_timeout)``, and on
Python 3.11 `wait_for` runs its awaitable in a task of its own: one task, a
timer and two extra event-loop iterations for every command or pipeline sent,
although the write almost never waits (``drain`` only waits when the socket's
buffer is full). On the gateway's hot path (a script pipeline per loop tick for
every appended report and intent) that was a sizeable share of the CPU per
message.

`ImmediateWrites` writes first and asks only then: when the transport took every
byte (its write buffer is empty), ``drain`` has nothing to wait for and the
command is sent; otherwise (bytes left in the buffer, or the transport closing)
it waits for the drain through redis-py's own path, under the same timeout and
with the same error handling (disconnect, `ConnectionError`, `TimeoutError`).
Reads are untouched. `immediate_writes(cls)` is the subclass of a connection
class with that behaviour; the process's pools use it (`connections`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["ImmediateWrites", "immediate_writes"]


class ImmediateWrites:
    """Mixin for a redis-py asyncio connection class (put it first in the bases)."""

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        """Write `command`; wait (under ``socket_timeout``) only if the socket is full."""
        base: Any = super()
        this: Any = self
        writer = this._writer
        if writer is None or this._reader is None or writer.transport.is_closing():
            await base.send_packed_command(command, check_health)  # connects or fails
            return
        if check_health:
            await this.check_health()  # may reconnect: look at the writer again
            writer = this._writer
            if writer is None or writer.transport.is_closing():
                await base.send_packed_command(command, False)
                return
        if isinstance(command, str):
            command = command.encode()
        chunks = [command] if isinstance(command, bytes) else command
        transport = writer.transport
        try:
            writer.writelines(chunks)
        except BaseException:
            await this.disconnect(nowait=True)
            raise
        if transport.get_write_buffer_size() == 0 and not transport.is_closing():
            return  # every byte is with the kernel: drain() would return at once
        # bytes wait in the buffer (or the write failed): drain under the socket
        # timeout, with redis-py's error handling
        await base.send_packed_command([], False)


_SUBCLASSES: dict[type[Any], type[Any]] = {}  #: connection class -> its immediate subclass


def immediate_writes(connection_class: type[Any]) -> type[Any]:
    """`connection_class` with `ImmediateWrites` (one subclass per class)."""
    if issubclass(connection_class, ImmediateWrites):
        return connection_class
    made = _SUBCLASSES.get(connection_class)
    if made is None:
        name = f"Immediate{connection_class.__name__}"
        made = _SUBCLASSES[connection_class] = type(name, (ImmediateWrites, connection_class), {})
    return made
