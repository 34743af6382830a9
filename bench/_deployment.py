"""A whole copygate deployment on loopback, with handles to break each part.

`LocalDeployment` starts, as separate processes:

* its own `redis-server` (AOF with `appendfsync always`, so a kill -9 and restart
  of Redis loses nothing Redis acknowledged), or with `sentinel=True` a primary,
  a replica and three sentinels (`tests/redis_topologies.sentinel_group`, ports
  from ``COPYGATE_TEST_REDIS_PORTS``) that every process follows with
  ``COPYGATE_REDIS_SENTINELS`` and ``COPYGATE_REDIS_WAIT_REPLICAS=1``;
* `nodes` `copygate serve` processes sharing that Redis (each also runs a copier
  worker in-process, as `copygate serve` does);
* `copiers` `copygate copier` processes;
* HAProxy with `deploy/haproxy/copygate.cfg` in front of the nodes.

Every part can be killed (SIGKILL by default) and started again on the same port,
which is what the multi-node tests and the fault suite (`bench/chaos.py`) do;
`failover()` kills the Sentinel-managed primary, waits for the promotion and
brings the old primary back as a replica.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench._redis_watch import RedisWatch
from bench._servers import free_port, raise_fd_limit
from tests.redis_topologies import SentinelGroup, cli, sentinel_group

__all__ = ["ADMIN_TOKEN", "LocalDeployment", "Part", "local_deployment"]

ROOT = Path(__file__).resolve().parents[1]
ADMIN_TOKEN = "deploy-admin-token"
HAPROXY_CFG = ROOT / "deploy" / "haproxy" / "copygate.cfg"
#: Redis setting for the Sentinel-managed servers: no answers from an unsynced replica.
STALE_READS_OFF = ("replica-serve-stale-data", "no")


@dataclass
class Part:
    """One process of the deployment, restartable with the same command line."""

    name: str  #: e.g. `node-1`, `copier-2`, `redis`, `haproxy`
    argv: list[str]  #: command line
    env: dict[str, str]  #: environment
    log_path: Path  #: stdout+stderr, appended across restarts
    ready_url: str | None = None  #: polled until 200 after a start
    ready_port: int | None = None  #: or: waited for until it accepts TCP
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)  #: running process
    starts: int = 0  #: how many times it was started

    @property
    def alive(self) -> bool:
        """The process runs."""
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 30) -> None:
        """Start it and wait until it is ready."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=raise_fd_limit,
            )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.log_path}")
            if self._ready():
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready after {timeout} s; see {self.log_path}")

    def _ready(self) -> bool:
        if self.ready_url is not None:
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(self.ready_url, timeout=0.5).status_code == 200
            return False
        if self.ready_port is not None:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.ready_port), 0.2),
            ):
                return True
            return False
        return True

    def kill(self, sig: int = signal.SIGKILL, timeout: float = 15) -> None:
        """Send `sig` and wait for the exit (SIGKILL after `timeout`)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class LocalDeployment:
    """Redis + gateway nodes + copier processes + HAProxy, all on loopback."""

    def __init__(
        self,
        workdir: Path,
        *,
        nodes: int = 3,
        copiers: int = 2,
        heartbeat_interval_s: float = 1,
        heartbeat_timeout_s: float = 3,
        sentinel: bool = False,
        **env: str,
    ) -> None:
        if nodes != 3:
            raise ValueError("deploy/haproxy/copygate.cfg names three nodes")
        self.workdir = workdir  #: logs, Redis data, HAProxy config
        self.sentinel = sentinel  #: primary + replica + 3 sentinels instead of one Redis
        self.group: SentinelGroup | None = None  #: the Sentinel group, once started
        self.watch: RedisWatch | None = None  #: logs the group's roles and offsets
        self._stack = contextlib.ExitStack()
        self.redis_port = free_port()  #: own Redis
        self.lb_port = free_port()  #: HAProxy's listening port
        self.stats_port = free_port()  #: HAProxy's statistics page
        self.prefix = f"cgdeploy-{secrets.token_hex(3)}"  #: key prefix of this deployment
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("COPYGATE_")}
        base_env.update(
            {
                "COPYGATE_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
                "COPYGATE_ADMIN_TOKEN": ADMIN_TOKEN,
                "COPYGATE_KEY_PREFIX": self.prefix,
                "COPYGATE_AUTH_PEPPER": f"pepper-{self.prefix}-shared-by-every-node",
                "COPYGATE_HEARTBEAT_INTERVAL_S": str(heartbeat_interval_s),
                "COPYGATE_HEARTBEAT_TIMEOUT_S": str(heartbeat_timeout_s),
                "COPYGATE_SESSION_CREATE_LIMIT": "100000",
                "COPYGATE_LOG_LEVEL": "WARNING",
                # the fault suite's invariants read every accepted stream entry of a
                # run afterwards: the streams keep what the copier finished for an hour
                "COPYGATE_STREAM_TRIM_INTERVAL_MS": "3600000",
                **env,
            }
        )
        self.env = base_env  #: environment shared by nodes and copiers
        redis_dir = workdir / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        self.redis = Part(
            "redis",
            [
                shutil.which("redis-server") or "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.redis_port),
                "--dir",
                str(redis_dir),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ],
            base_env,
            workdir / "redis.log",
            ready_port=self.redis_port,
        )  #: the Redis server
        self.node_ports = [free_port() for _ in range(nodes)]  #: each node's own port
        self.nodes: list[Part] = []  #: gateway nodes
        for index, port in enumerate(self.node_ports, 1):
            self.nodes.append(
                Part(
                    f"node-{index}",
                    [
                        sys.executable,
                        "-m",
                        "gateway",
                        "serve",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                    ],
                    {**base_env, "COPYGATE_NODE_ID": f"node-{index}"},
                    workdir / f"node-{index}.log",
                    ready_url=f"http://127.0.0.1:{port}/healthz",
                )
            )
        self.copiers = [
            Part(
                f"copier-{index}",
                [sys.executable, "-m", "gateway", "copier", "--workers", "1"],
                base_env,
                workdir / f"copier-{index}.log",
            )
            for index in range(1, copiers + 1)
        ]  #: standalone copier processes
        lb_env = dict(base_env)
        lb_env["COPYGATE_LB_BIND"] = f"127.0.0.1:{self.lb_port}"
        lb_env["COPYGATE_LB_STATS"] = f"127.0.0.1:{self.stats_port}"
        for index, port in enumerate(self.node_ports, 1):
            lb_env[f"COPYGATE_GW{index}"] = f"127.0.0.1:{port}"
        self.haproxy = Part(
            "haproxy",
            [shutil.which("haproxy") or "haproxy", "-db", "-f", str(HAPROXY_CFG)],
            lb_env,
            workdir / "haproxy.log",
            ready_url=f"http://127.0.0.1:{self.lb_port}/healthz",
        )  #: the load balancer

    @property
    def redis_url(self) -> str:
        """The current primary (the Sentinel group's, after any failover)."""
        if self.group is not None:
            port = self.group.current_primary_port()
            if port is None:
                raise RuntimeError("the sentinels name no primary")
            return f"redis://127.0.0.1:{port}/0"
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def failover(self, rejoin_after_s: float = 0.0) -> None:
        """SIGKILL the primary, wait for the sentinels to promote the replica, then
        (after `rejoin_after_s`) restart the old primary as the new one's replica and
        wait until it has synced (not until the sentinels list it: the next failover
        waits for that first)."""
        if self.group is None:
            raise RuntimeError("no Sentinel group: start the deployment with sentinel=True")
        watch = self.watch or RedisWatch(self.group, self.workdir / "redis-watch.log")
        self.group.wait_until_promotable()  # the sentinels know the last rejoined replica
        old = self.group.current_primary()
        watch.note(f"failover: killing the primary {old.port}")
        self.group.kill_primary()
        new = self.group.wait_for_failover()
        watch.note(f"failover: {new.port} is the primary")
        time.sleep(rejoin_after_s)
        watch.note(f"failover: restarting {old.port} as a replica")
        self.group.rejoin(old, wait_for_sentinels=False)
        watch.note(f"failover: {old.port} rejoined")

    @property
    def base_url(self) -> str:
        """Where EAs and admins connect: HAProxy."""
        return f"http://127.0.0.1:{self.lb_port}"

    @property
    def parts(self) -> list[Part]:
        """Every process this deployment starts itself, in start order."""
        redis = [] if self.sentinel else [self.redis]
        return [*redis, *self.nodes, *self.copiers, self.haproxy]

    @property
    def healthy(self) -> bool:
        """Every process runs (with Sentinel: both data servers and the sentinels too)."""
        group = [] if self.group is None else self.group.processes()
        return all(p.alive for p in self.parts) and all(p.alive for p in group)

    def sessions_per_node(self) -> dict[str, int]:
        """Node name (gw1..3) -> connections HAProxy has sent it so far (its `stot`)."""
        csv = httpx.get(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=2).text
        header, *rows = csv.lstrip("# ").splitlines()
        columns = header.split(",")
        out = {}
        for row in rows:
            cells = dict(zip(columns, row.split(","), strict=False))
            if cells.get("pxname") == "gateways" and cells.get("svname", "").startswith("gw"):
                out[cells["svname"]] = int(cells["stot"] or 0)
        return out

    def start(self) -> None:
        """Start everything and wait until HAProxy answers /healthz through a node."""
        if self.sentinel:
            self.group = self._stack.enter_context(sentinel_group())
            # A server restarted without persistence is empty until its first sync; a
            # client sent to it by a sentinel that has not caught up yet must get an
            # error, not empty answers (an unknown key reads as a refused EA key).
            for server in self.group.servers:
                server.extra += [f"--{STALE_READS_OFF[0]}", STALE_READS_OFF[1]]
                cli(server.port, "CONFIG", "SET", *STALE_READS_OFF)
            self.watch = RedisWatch(self.group, self.workdir / "redis-watch.log").start()
            settings = self.group.copygate_env(wait_replicas=1)
            for part in [*self.nodes, *self.copiers]:
                part.env.pop("COPYGATE_REDIS_URL", None)
                part.env.update(settings)
        for part in self.parts:
            part.start()

    def stop(self) -> None:
        """Stop everything (SIGTERM, then SIGKILL)."""
        try:
            for part in reversed(self.parts):
                part.kill(signal.SIGTERM)
        finally:
            if self.watch is not None:
                self.watch.stop()
            if self.group is not None:  # its logs live in a directory removed with it
                for process in self.group.processes():
                    with contextlib.suppress(OSError):
                        shutil.copy(
                            process.directory / "redis.log",
                            self.workdir / f"redis-{process.port}.log",
                        )
            self._stack.close()


@contextlib.contextmanager
def local_deployment(workdir: Path, **options: object) -> Iterator[LocalDeployment]:
    """A started `LocalDeployment`, stopped afterwards (its Redis data stays in `workdir`)."""
    deployment = LocalDeployment(workdir, **options)  # type: ignore[arg-type]
    try:
        deployment.start()
        yield deployment
    finally:
        deployment.stop()
