"""Real Redis topologies started from the Debian `redis-server` / `redis-sentinel`.

Reusable from tests and bench scripts (plain context managers; the pytest fixtures
in ``tests/conftest.py`` wrap them):

* `sentinel_group()` -> `SentinelGroup`: a primary, one replica and three
  sentinels watching them; `SentinelGroup.kill_primary()` SIGKILLs the current
  primary, `SentinelGroup.wait_for_failover()` waits until the sentinels name
  the other server, `SentinelGroup.rejoin()` brings the killed one back as a
  replica (repeatable: a fault schedule can fail over again and again). Its
  servers keep an AOF, and a rejoining server cannot be promoted until it has
  synced (see `SentinelGroup.rejoin`).
* `redis_cluster()` -> `ClusterNodes`: three primaries with one replica each
  (``--cluster-enabled yes``, joined by ``redis-cli --cluster create``), ready
  when every node says ``cluster_state:ok``.

Ports come from ``COPYGATE_TEST_REDIS_PORTS`` (``first-last``, default
17800-17899): a port is used only if it and its cluster bus port (+10000) are
free. Every process runs in its own temporary directory, without persistence
except the Sentinel group's servers, and is stopped on exit, or when the process
that started it dies.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ClusterNodes",
    "RedisProcess",
    "SentinelGroup",
    "cli",
    "free_redis_ports",
    "redis_cluster",
    "sentinel_group",
]

#: Master name the test sentinels monitor.
SENTINEL_MASTER = "cgmaster"
#: Lets tests stall a server (``DEBUG SLEEP``) from loopback.
_DEBUG = ["--enable-debug-command", "local"]
#: Longest wait for every sentinel to list a rejoined replica as promotable (s).
SENTINEL_VIEW_WAIT_S = 90.0
#: Persistence of the Sentinel group's servers: a killed server comes back with its
#: data, never empty (a server that restarts empty and gets promoted, or that a
#: replica syncs from, wipes the data set: the fault suite saw it).
SENTINEL_PERSISTENCE = ["--appendonly", "yes", "--appendfsync", "everysec"]
#: `replica-priority` of a server that may be promoted (Redis's default); 0 = never.
PROMOTABLE_PRIORITY = "100"


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_redis_ports(count: int) -> list[int]:
    """`count` ports of the configured range that are free, with their bus ports."""
    first, _, last = os.environ.get("COPYGATE_TEST_REDIS_PORTS", "17800-17899").partition("-")
    found: list[int] = []
    for port in range(int(first), int(last) + 1):
        if _port_free(port) and (port + 10000 > 65535 or _port_free(port + 10000)):
            found.append(port)
            if len(found) == count:
                return found
    raise RuntimeError(f"fewer than {count} free ports in {first}-{last}")


def _wait_port(port: int, process: subprocess.Popen[bytes], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis process on port {port} exited ({process.returncode})")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.1):
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port} after {within}s")


def _die_with_parent() -> None:
    """In the child: SIGTERM when the test process dies, even by SIGKILL (Linux)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG = 1


def cli(port: int, *args: str) -> str:
    """`redis-cli -p port args...`, its output (stripped)."""
    done = subprocess.run(
        ["redis-cli", "-p", str(port), *args], capture_output=True, text=True, check=False
    )
    return done.stdout.strip()


@dataclass
class RedisProcess:
    """One `redis-server` (or `redis-sentinel`) process on a loopback port."""

    port: int
    directory: Path
    extra: list[str] = field(default_factory=list)
    sentinel: bool = False
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its ``redis://`` URL (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *more: str) -> RedisProcess:
        """Start it (`more`: extra server arguments for this start only)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.sentinel:
            conf = self.directory / "sentinel.conf"
            conf.write_text("\n".join(self.extra) + "\n")
            # the Debian package's `redis-sentinel` is `redis-server --sentinel`
            if shutil.which("redis-sentinel"):
                args = ["redis-sentinel", str(conf)]
            else:
                args = ["redis-server", str(conf), "--sentinel"]
            args += ["--port", str(self.port)]
        else:
            args = ["redis-server", "--save", "", "--appendonly", "no", *self.extra, *more]
            args += ["--port", str(self.port)]
        args += ["--bind", "127.0.0.1", "--dir", str(self.directory)]
        with (self.directory / "redis.log").open("ab") as log:
            # the death signal fires when the starting *thread* ends: main thread only
            main = threading.current_thread() is threading.main_thread()
            self.process = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if main else None,
            )
        _wait_port(self.port, self.process)
        return self

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last replication (what a crash does)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class SentinelGroup:
    """Two data servers (one primary, one replica) and three sentinels (quorum 2).

    Which server is the primary changes with every failover; `kill_primary`,
    `wait_for_failover` and `rejoin` can be repeated (a chaos schedule does).
    """

    servers: list[RedisProcess]  #: the primary it started with, then the replica
    sentinels: list[RedisProcess]
    master_name: str = SENTINEL_MASTER

    @property
    def sentinel_spec(self) -> str:
        """``COPYGATE_REDIS_SENTINELS`` for this group."""
        return ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)

    def copygate_env(self, wait_replicas: int = 1) -> dict[str, str]:
        """The ``COPYGATE_REDIS_*`` settings of a copygate process using this group."""
        return {
            "COPYGATE_REDIS_SENTINELS": self.sentinel_spec,
            "COPYGATE_REDIS_SENTINEL_MASTER": self.master_name,
            "COPYGATE_REDIS_WAIT_REPLICAS": str(wait_replicas),
        }

    def current_primary_port(self) -> int | None:
        """The primary's port according to the first sentinel that answers."""
        for sentinel in self.sentinels:
            answer = cli(sentinel.port, "SENTINEL", "get-master-addr-by-name", self.master_name)
            lines = answer.splitlines()
            if len(lines) == 2 and lines[1].isdigit():
                return int(lines[1])
        return None

    def current_primary(self) -> RedisProcess:
        """The server the sentinels name as primary.

        Raises:
            RuntimeError: they name none, or a server that is not the group's (never
                a StopIteration: in a thread of `asyncio.to_thread` that would leave
                the awaiting task hanging).
        """
        port = self.current_primary_port()
        for server in self.servers:
            if server.port == port:
                return server
        raise RuntimeError(f"the sentinels name {port}, not a server of the group")

    def kill_primary(self) -> RedisProcess:
        """SIGKILL the current primary; returns it (for `rejoin`)."""
        primary = self.current_primary()
        primary.kill()
        return primary

    def wait_for_failover(self, within: float = 30.0) -> RedisProcess:
        """Wait until the sentinels name a live server that accepts writes; that server."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            port = self.current_primary_port()
            server = next((s for s in self.servers if s.port == port), None)
            if (
                server is not None
                and server.alive
                and "role:master" in cli(server.port, "INFO", "replication")
            ):
                return server
            time.sleep(0.1)
        raise RuntimeError("the sentinels did not fail over in time")

    def rejoin(
        self, server: RedisProcess, within: float = 30.0, *, wait_for_sentinels: bool = True
    ) -> None:
        """Restart a killed server as the current primary's replica; return once it has
        synced and may be promoted.

        It restarts from its AOF, with ``replica-priority 0`` (the sentinels never
        promote it) until it has finished its sync and confirmed a write of the
        primary; only then is its priority restored. Without that, a primary that
        stalls for `down-after-milliseconds` while the replica is still syncing has
        the sentinels promote the unsynced replica, and the primary, demoted, syncs
        from it: every key is gone (seen in the fault suite).

        It starts as a replica of the current primary, as the sentinels would make it
        (they do so too, but only at their next 10 s check of the old primary). With
        `wait_for_sentinels`, also until every sentinel lists it as a healthy,
        promotable replica; without, call `wait_until_promotable` before the next
        `kill_primary`.
        """
        current = self.current_primary()
        server.start("--replicaof", "127.0.0.1", str(current.port), "--replica-priority", "0")
        _wait_until(
            lambda: _replica_confirms(current.port) and _synced(server.port),
            f"{server.port} to replicate the current primary",
            within,
        )
        cli(server.port, "CONFIG", "SET", "replica-priority", PROMOTABLE_PRIORITY)
        if wait_for_sentinels:
            try:
                # the sentinels see a restarted replica at their next ping and INFO
                # rounds; on a loaded machine (CI on 2 cores) that took over 30 s once
                _wait_until(
                    lambda: all(self._sees_replica(s, server.port) for s in self.sentinels),
                    f"every sentinel to list {server.port} as a promotable replica",
                    max(within, SENTINEL_VIEW_WAIT_S),
                )
            except RuntimeError as exc:
                views = [self._replica_view(s, server.port) for s in self.sentinels]
                raise RuntimeError(f"{exc}; the sentinels list it as {views}") from None

    def wait_until_promotable(self, within: float = 30.0) -> None:
        """Until every sentinel lists the current primary's replica as healthy."""
        primary = self.current_primary()
        replica = next(s for s in self.servers if s is not primary)
        _wait_until(
            lambda: all(self._sees_replica(s, replica.port) for s in self.sentinels),
            f"every sentinel to list {replica.port} as a healthy replica",
            within,
        )

    def _sees_replica(self, sentinel: RedisProcess, port: int) -> bool:
        """True when `sentinel` lists `port` as a healthy replica that it may promote:
        no down flag, its link to the primary up, its priority restored."""
        replica = self._replica_view(sentinel, port)
        return (
            replica.get("flags") == "slave"
            and replica.get("master-link-status") == "ok"
            and replica.get("slave-priority") == PROMOTABLE_PRIORITY
        )

    def _replica_view(self, sentinel: RedisProcess, port: int) -> dict[str, str]:
        """What `sentinel` lists of the replica on `port` (flags, link, priority); {}:
        not listed."""
        fields = cli(sentinel.port, "SENTINEL", "replicas", self.master_name).splitlines()
        for i in range(0, len(fields) - 1):
            if fields[i] == "name" and fields[i + 1] == f"127.0.0.1:{port}":
                end = fields.index("name", i + 2) if "name" in fields[i + 2 :] else len(fields)
                replica = dict(zip(fields[i:end:2], fields[i + 1 : end : 2], strict=False))
                keep = ("flags", "master-link-status", "slave-priority")
                return {k: v for k, v in replica.items() if k in keep}
        return {}

    def processes(self) -> list[RedisProcess]:
        """Every process of the group, sentinels first (the order to stop them)."""
        return [*self.sentinels, *self.servers]


@contextlib.contextmanager
def sentinel_group(down_after_ms: int = 1000) -> Iterator[SentinelGroup]:
    """Start a `SentinelGroup` and wait until the sentinels see the replica; stop it after."""
    root = Path(tempfile.mkdtemp(prefix="cg-sentinel-"))
    p, r, *s = free_redis_ports(5)
    # either may become the primary: both sync replicas at once, without waiting 5 s
    # for more replicas to join (repl-diskless-sync-delay)
    fast = [
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
        *SENTINEL_PERSISTENCE,
        *_DEBUG,
    ]
    primary = RedisProcess(p, root / "primary", fast)
    replica = RedisProcess(r, root / "replica", ["--replicaof", "127.0.0.1", str(p), *fast])
    conf = [
        f"sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {p} 2",
        f"sentinel down-after-milliseconds {SENTINEL_MASTER} {down_after_ms}",
        f"sentinel failover-timeout {SENTINEL_MASTER} 3000",
        f"sentinel parallel-syncs {SENTINEL_MASTER} 1",
        f"sentinel known-replica {SENTINEL_MASTER} 127.0.0.1 {r}",
    ]
    # Each sentinel is told its id and its peers' up front: discovering them through
    # hello messages (every 2 s) made the group take 5 s to start.
    ids = {port: f"{port:040x}" for port in s}
    sentinels = [
        RedisProcess(
            port,
            root / f"s{port}",
            [
                *conf,
                f"sentinel myid {ids[port]}",
                *(
                    f"sentinel known-sentinel {SENTINEL_MASTER} 127.0.0.1 {other} {ids[other]}"
                    for other in s
                    if other != port
                ),
            ],
            sentinel=True,
        )
        for port in s
    ]
    group = SentinelGroup([primary, replica], sentinels)
    try:
        for process in (primary, replica, *sentinels):
            process.start()
        _wait_until(
            lambda: (
                _replica_confirms(p)
                and all(
                    "slaves=1,sentinels=3" in cli(x.port, "INFO", "sentinel") for x in sentinels
                )
            ),
            "the replica to confirm a write and the sentinels to see it",
        )
        for sentinel in sentinels:  # replicas' INFO (their priority) every second, not 10 s
            cli(sentinel.port, "SENTINEL", "DEBUG", "INFO-PERIOD", "1000")
        yield group
    finally:
        for process in group.processes():
            process.stop()
        shutil.rmtree(root, ignore_errors=True)


def _synced(port: int) -> bool:
    """The replica on `port` has a live link to its primary and no sync in progress."""
    info = cli(port, "INFO", "replication").splitlines()
    return "master_link_status:up" in info and "master_sync_in_progress:0" in info


def _replica_confirms(primary: int) -> bool:
    """A write on `primary` and a ``WAIT 1`` on the same connection: 1 replica has it."""
    done = subprocess.run(
        ["redis-cli", "-p", str(primary)],
        input="SET cg-topology-ready 1\nWAIT 1 1000\n",
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.split() == ["OK", "1"]


@dataclass
class ClusterNodes:
    """Three primaries and three replicas of one Redis Cluster."""

    nodes: list[RedisProcess]

    @property
    def url(self) -> str:
        """A cluster URL (any node; the client discovers the others)."""
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        """(host, port) of every node, for a cluster client."""
        return [("127.0.0.1", node.port) for node in self.nodes]


@contextlib.contextmanager
def redis_cluster() -> Iterator[ClusterNodes]:
    """Start a 3-primary/3-replica cluster; wait for ``cluster_state:ok``; stop it after."""
    root = Path(tempfile.mkdtemp(prefix="cg-cluster-"))
    ports = free_redis_ports(6)
    nodes = [
        RedisProcess(
            port,
            root / str(port),
            [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                str(root / str(port) / "nodes.conf"),
                "--cluster-node-timeout",
                "2000",
                "--repl-diskless-sync",
                "yes",
                "--repl-diskless-sync-delay",
                "0",
            ],
        )
        for port in ports
    ]
    try:
        for node in nodes:
            node.start()
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{port}" for port in ports),
                "--cluster-replicas",
                "1",
                "--cluster-yes",
            ],
            capture_output=True,
            check=True,
        )
        _wait_until(
            lambda: all("cluster_state:ok" in cli(p, "CLUSTER", "INFO") for p in ports),
            "cluster_state:ok on every node",
        )
        yield ClusterNodes(nodes)
    finally:
        for node in nodes:
            node.stop()
        shutil.rmtree(root, ignore_errors=True)


def _wait_until(check: Callable[[], bool], what: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")
