"""Drive the EA compiled against the terminal shim (``eabuild.build("terminal")``).

One :class:`Terminal` is one MT4 terminal with the CopyGateway EA attached:
inputs are passed as ``MQL_INPUT_<InpName>`` environment variables, files live
in its own ``MQL4/Files`` directory, and the simulated book is driven with
control commands (``open``, ``close``, ``modify``, ``delete``, ``price``,
``fail``, ``busy``, ``book``; see ``linux/shim/terminal.cpp``). The EA's
``Print``/``Alert`` output goes to ``terminal.log``.

MT4's ``WebRequest`` only reaches ports 80 and 443, so a test server on another
loopback port is given to the EA as ``https://copygate.test`` and the shim maps
``copygate.test:443`` to the real address (``MQL_ADDRESS_MAP``).

Example::

    with Terminal(binary, tmp_path / "master", server_url, role="master",
                  account_id="m-1") as master:
        ticket = master.open("EURUSD", OP_BUY, 0.1)
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "OP_BUY",
    "OP_BUYLIMIT",
    "OP_BUYSTOP",
    "OP_SELL",
    "OP_SELLLIMIT",
    "OP_SELLSTOP",
    "Terminal",
    "TerminalError",
    "account_folder",
]

OP_BUY, OP_SELL, OP_BUYLIMIT, OP_SELLLIMIT, OP_BUYSTOP, OP_SELLSTOP = range(6)
_ROLES = {"master": 0, "follower": 1}


class TerminalError(RuntimeError):
    """The terminal process failed, timed out or refused a control command."""


class Terminal:
    """A running terminal shim process with the EA attached."""

    def __init__(
        self,
        binary: Path,
        workdir: Path,
        server_url: str,
        *,
        role: str,
        account_id: str,
        inputs: dict[str, Any] | None = None,
        first_ticket: int = 1000,
        allow_urls: tuple[str, ...] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.binary = binary
        self.workdir = workdir
        self.files_dir = workdir / "MQL4" / "Files"
        self.log_path = workdir / "terminal.log"
        self.server_url = server_url
        ea_url, self.address_map = _as_mt4_url(server_url)
        self.ea_server_url = ea_url  #: the URL the EA is given (ports 80/443 only)
        self.inputs: dict[str, Any] = {
            "InpServerUrl": ea_url,
            "InpRole": _ROLES[role],
            "InpAccountId": account_id,
            "InpTimerMs": 20,
            "InpPollWaitMs": 200,
            "InpIdlePollMs": 100,
            "InpHttpTimeoutMs": 3000,
            **(inputs or {}),
        }
        self.first_ticket = first_ticket
        self.allow_urls = allow_urls if allow_urls is not None else (ea_url,)
        self.extra_env = env or {}
        self._proc: subprocess.Popen[str] | None = None
        self._replies: queue.Queue[str] = queue.Queue()
        self._log_file: Any = None
        self._reader: threading.Thread | None = None

    # ------------------------------------------------------------ life cycle
    def start(self, timeout: float = 10.0) -> Terminal:
        """Start the process and wait for OnInit to succeed."""
        self.files_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "MQL_FILES_DIR": str(self.files_dir),
            "MQL_WEBREQUEST_ALLOW": ",".join(self.allow_urls),
            "MQL_ADDRESS_MAP": self.address_map,
            "MQL_SIM_FIRST_TICKET": str(self.first_ticket),
            **{f"MQL_INPUT_{k}": _input_text(v) for k, v in self.inputs.items()},
            **self.extra_env,
        }
        self._log_file = self.log_path.open("a", encoding="utf-8")
        self._proc = subprocess.Popen(
            [str(self.binary)],
            cwd=self.workdir,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        event = self._next_reply(timeout)
        if event.get("event") != "ready":
            raise TerminalError(f"EA did not start: {event}\n{self.log()}")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Detach the EA (OnDeinit) and end the process."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                assert proc.stdin is not None
                proc.stdin.write("quit\n")
                proc.stdin.flush()
                proc.wait(timeout)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait(5)
        if self._reader is not None:
            self._reader.join(5)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
        self._proc = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def kill(self) -> None:
        """End the process at once (SIGKILL), as a crash or power cut would: no OnDeinit."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(5)
        self.stop()

    def __enter__(self) -> Terminal:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # ------------------------------------------------------------ control
    def command(self, line: str, timeout: float = 10.0) -> dict[str, Any]:
        """Send one control command; return its JSON reply."""
        proc = self._proc
        if proc is None or proc.poll() is not None or proc.stdin is None:
            raise TerminalError(f"terminal is not running\n{self.log()}")
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
        reply = self._next_reply(timeout)
        if "error" in reply:
            raise TerminalError(f"{line!r} -> {reply}")
        return reply

    def batch(self, lines: list[str], timeout: float = 10.0) -> list[dict[str, Any]]:
        """Send several commands at once: they run before the EA's next timer event."""
        proc = self._proc
        if proc is None or proc.poll() is not None or proc.stdin is None:
            raise TerminalError(f"terminal is not running\n{self.log()}")
        proc.stdin.write("".join(line + "\n" for line in lines))
        proc.stdin.flush()
        return [self._next_reply(timeout) for _ in lines]

    def open(
        self,
        symbol: str,
        op: int,
        lots: float,
        price: float = 0,
        sl: float = 0,
        tp: float = 0,
        magic: int = 0,
        comment: str = "",
    ) -> int:
        """Place an order by hand (as the account owner would)."""
        reply = self.command(f"open {symbol} {op} {lots} {price} {sl} {tp} {magic} {comment}")
        return int(reply["ticket"])

    def close(self, ticket: int, lots: float = 0) -> int:
        """Close by hand (partially when ``lots`` is given); returns the remainder's ticket."""
        return int(self.command(f"close {ticket} {lots}").get("new_ticket", 0))

    def modify(self, ticket: int, sl: float, tp: float, price: float = 0) -> None:
        self.command(f"modify {ticket} {sl} {tp} {price}")

    def delete(self, ticket: int) -> None:
        self.command(f"delete {ticket}")

    def price(self, symbol: str, bid: float, ask: float) -> None:
        self.command(f"price {symbol} {bid} {ask}")

    def inject(self, function: str, error: int, count: int = 1, *, after: bool = False) -> None:
        """Make the next ``count`` calls of ``function`` fail with ``error``.

        With ``after=True`` the call is executed first and then reports the error
        (an MT4 timeout whose request went through).
        """
        self.command(f"{'fail_after' if after else 'fail'} {function} {error} {count}")

    def book(self) -> dict[str, Any]:
        """``{"balance", "open": [...], "history": [...]}`` of the simulated account."""
        return self.command("book")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8") if self.log_path.exists() else ""

    def file(self, name: str) -> Path:
        """A file the EA keeps under MQL4/Files/CopyGateway/<account>/."""
        return self.files_dir / "CopyGateway" / account_folder(str(self.inputs["InpAccountId"])) / name

    def wait_log(self, text: str, timeout: float = 10.0) -> str:
        """Wait until ``text`` appears in the EA log; return the log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.log()
            if text in log:
                return log
            time.sleep(0.05)
        raise TerminalError(f"{text!r} not in the EA log:\n{self.log()}")

    # ------------------------------------------------------------ internals
    def _read_stdout(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("@@ "):
                self._replies.put(line[3:].strip())

    def _next_reply(self, timeout: float) -> dict[str, Any]:
        try:
            raw = self._replies.get(timeout=timeout)
        except queue.Empty:
            raise TerminalError(f"no reply within {timeout} s\n{self.log()}") from None
        result: dict[str, Any] = json.loads(raw)
        return result


_DEVICE_NAMES = frozenset(
    ["con", "prn", "aux", "nul"] + [f"{d}{i}" for d in ("com", "lpt") for i in range(1, 10)]
)
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def account_folder(account_id: str) -> str:
    """The EA's folder name for an account id (the twin of ``CgAccountFolder`` in Platform.mqh)."""
    if set(account_id) <= _PLAIN and account_id not in _DEVICE_NAMES:
        return account_id
    escaped = {":": "~", ".": "!"}
    return "~" + "".join(
        "_" + c.lower() if c.isupper() else escaped.get(c, c) for c in account_id
    )


_MAPPED_HOST = "copygate.test"


def _as_mt4_url(server_url: str) -> tuple[str, str]:
    """``(url the EA uses, MQL_ADDRESS_MAP entry)``: other ports go through a mapped https host."""
    parts = urlsplit(server_url)
    if parts.port in (None, 80, 443):
        return server_url, ""
    ea_url = f"https://{_MAPPED_HOST}{parts.path}"
    return ea_url, f"{_MAPPED_HOST}:443={parts.hostname}:{parts.port}"


def _input_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)
