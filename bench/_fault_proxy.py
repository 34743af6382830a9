"""An in-process TCP proxy between the EAs and the load balancer that injects faults.

The fault suite prefers `tc netem` in a network namespace. The kernels this
project is tested on (a Firecracker guest) ship without `sch_netem` ("Specified
qdisc kind is unknown"), so latency, jitter and connection loss are injected here,
at the byte stream: every chunk is held for `delay_ms` ± `jitter_ms`, and `cut()`
drops connections *mid-frame* (half of the next chunk is forwarded, then both
sides are aborted with a TCP reset). Packet loss is modelled as what TCP turns it
into for an application: stalls (the delay) and broken connections (the cuts).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field

__all__ = ["FaultProxy", "ProxyStats"]

_CHUNK = 65_536


@dataclass
class ProxyStats:
    """What the proxy did."""

    connections: int = 0  #: connections accepted
    cut: int = 0  #: connections dropped mid-frame
    bytes_up: int = 0  #: EA -> server
    bytes_down: int = 0  #: server -> EA


@dataclass(eq=False)
class _Relay:
    """One proxied connection: both writers and a flag that cuts it at the next chunk."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    cut_next: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def abort(self) -> None:
        for writer in (self.client, self.upstream):
            with contextlib.suppress(Exception):
                writer.transport.abort()


class FaultProxy:
    """Listens on a loopback port and relays to `upstream_port`, with injectable faults."""

    def __init__(self, upstream_port: int, rng: random.Random) -> None:
        self.upstream_port = upstream_port  #: where the load balancer listens
        self.rng = rng  #: seeded source of jitter
        self.delay_ms = 0.0  #: added to every chunk, each direction
        self.jitter_ms = 0.0  #: uniform 0..jitter added on top
        self.stats = ProxyStats()  #: counters
        self.port = 0  #: the listening port, once started
        self._relays: set[_Relay] = set()
        self._server: asyncio.Server | None = None

    @property
    def base_url(self) -> str:
        """The HTTP base URL EAs use."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        for relay in list(self._relays):
            relay.abort()  # its pumps see the reset and end; `_accept` then returns
        for relay in list(self._relays):
            await asyncio.gather(*relay.tasks, return_exceptions=True)
        self._relays.clear()

    def cut(self, fraction: float = 1.0) -> int:
        """Drop `fraction` of the live connections at their next chunk; returns how many."""
        chosen = [r for r in self._relays if self.rng.random() < fraction]
        for relay in chosen:
            relay.cut_next = True
        return len(chosen)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        relay = _Relay(writer, up_writer)
        self._relays.add(relay)
        relay.tasks = [
            asyncio.create_task(self._pump(relay, reader, up_writer, up=True)),
            asyncio.create_task(self._pump(relay, up_reader, writer, up=False)),
        ]
        await asyncio.gather(*relay.tasks, return_exceptions=True)
        self._relays.discard(relay)
        relay.abort()

    async def _pump(
        self,
        relay: _Relay,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        *,
        up: bool,
    ) -> None:
        try:
            while data := await source.read(_CHUNK):
                wait = self.delay_ms + self.rng.random() * self.jitter_ms
                if wait > 0:
                    await asyncio.sleep(wait / 1000)
                if relay.cut_next:
                    sink.write(data[: max(1, len(data) // 2)])
                    with contextlib.suppress(OSError):
                        await sink.drain()
                    self.stats.cut += 1
                    relay.abort()
                    return
                if up:
                    self.stats.bytes_up += len(data)
                else:
                    self.stats.bytes_down += len(data)
                sink.write(data)
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            relay.abort()
