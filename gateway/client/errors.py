"""Exceptions of the EA client SDK.

Tree::

    ClientError
     ├── ClientStopped            the client stopped for good (4001, 4003, 401, ...)
     │                            and will not reconnect; `decision` says why
     ├── NotConnected             a send needed a live connection and there is none
     └── ConnectionLost           the transport broke (internal: the client reconnects)

Foreign exceptions (`httpx`, `websockets`) are translated at the transport edge
and never leak out of the SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.client.policy import CloseInfo, Stop

__all__ = ["ClientError", "ClientStopped", "ConnectionLost", "NotConnected"]


class ClientError(Exception):
    """Root of every exception raised by `gateway.client`."""


class ClientStopped(ClientError):
    """The client stopped and will not reconnect (e.g. preempted by another terminal)."""

    def __init__(self, decision: Stop) -> None:
        super().__init__(f"client stopped: {decision.reason}")
        self.decision = decision  #: the close-policy decision that stopped it


class NotConnected(ClientError):
    """An operation needed a live session and there is none."""


class ConnectionLost(ClientError):
    """The transport ended; `info` tells how (close code, 410 reason, or network error)."""

    def __init__(self, info: CloseInfo) -> None:
        super().__init__(f"connection lost: {info.describe()}")
        self.info = info  #: how the connection ended
