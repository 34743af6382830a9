"""`RedisWatch`: a log of a Sentinel group's state, for the post-mortem of a failover.

Every `interval_s` it writes one line per change of any server's replication state
(role, whose replica, link status, replication offset, run id, keys) and of any
sentinel's answer to ``get-master-addr-by-name``, stamped with the wall clock (as
the servers' and sentinels' own logs are).
`bench/_deployment.py` runs one for a Sentinel deployment (``redis-watch.log`` in
its work directory).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.redis_topologies import SentinelGroup

__all__ = ["RedisWatch", "server_state"]

#: INFO replication / server fields that say who a server is and what it holds.
_FIELDS = ("role", "master_port", "master_link_status", "master_repl_offset", "connected_slaves")


def server_state(client: redis.Redis) -> str:
    """One server's state in one line (or why it could not be read)."""
    try:
        info = client.info("replication")
        run_id = str(client.info("server")["run_id"])[:8]
    except redis.RedisError as exc:
        return f"down ({type(exc).__name__})"
    try:
        keys: object = client.dbsize()
    except redis.RedisError as exc:  # an unsynced replica with replica-serve-stale-data no
        keys = type(exc).__name__
    parts = [f"{name}={info[name]}" for name in _FIELDS if name in info]
    return " ".join([*parts, f"run={run_id}", f"keys={keys}"])


def _stamp() -> str:
    now = time.time()
    return time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now * 1000) % 1000:03d}"


class RedisWatch:
    """Logs the group's state changes from a thread until `stop`."""

    def __init__(self, group: SentinelGroup, log_path: Path, interval_s: float = 0.25) -> None:
        self.group = group  #: what is watched
        self.log_path = log_path  #: where the lines go (appended)
        self.interval_s = interval_s  #: time between two looks
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="redis-watch", daemon=True)

    def start(self) -> RedisWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def note(self, text: str) -> None:
        """A line of the harness's own (e.g. "killing 17001")."""
        with self.log_path.open("a") as log:
            log.write(f"{_stamp()} harness {text}\n")

    def _run(self) -> None:
        options = {
            "socket_timeout": 0.3,
            "socket_connect_timeout": 0.3,
            "retry": Retry(NoBackoff(), 0),
        }
        servers = {s.port: redis.Redis(port=s.port, **options) for s in self.group.servers}
        sentinels = {s.port: redis.Redis(port=s.port, **options) for s in self.group.sentinels}
        last: dict[str, str] = {}
        while not self._stop.wait(self.interval_s):
            now: dict[str, str] = {}
            for port, client in servers.items():
                now[f"server {port}"] = server_state(client)
            for port, client in sentinels.items():
                try:
                    addr = client.execute_command(
                        "SENTINEL", "get-master-addr-by-name", self.group.master_name
                    )
                    now[f"sentinel {port}"] = f"names {addr[1].decode() if addr else None}"
                except redis.RedisError as exc:
                    now[f"sentinel {port}"] = f"down ({type(exc).__name__})"
            changed = {k: v for k, v in now.items() if last.get(k) != v}
            if changed:
                stamp = _stamp()
                with self.log_path.open("a") as log:
                    for name, state in changed.items():
                        log.write(f"{stamp} {name}: {state}\n")
            last = now
