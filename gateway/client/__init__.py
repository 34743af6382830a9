"""Python EA client SDK: sessions, both transports, acks, dedup, reconnects.

See docs/sdk.md. The pure parts (`ClientCore`, `ReconnectPolicy`, `AckTracker`,
`Inbox`) never await; `EAClient` pumps them over WebSocket or `exchange` polling.
"""

from gateway.client.client import ClientStats, CommandHandler, EAClient, Handler
from gateway.client.core import ClientCore, Deliver, Drop, Event, Replay
from gateway.client.errors import ClientError, ClientStopped, ConnectionLost, NotConnected
from gateway.client.policy import Backoff, CloseInfo, Decision, Reconnect, ReconnectPolicy, Stop
from gateway.client.rest import ClientConfig
from gateway.client.streams import MessageStream
from gateway.client.tracking import AckTracker, Admission, Inbox, JournalState, Verdict

__all__ = [
    "AckTracker",
    "Admission",
    "Backoff",
    "ClientConfig",
    "ClientCore",
    "ClientError",
    "ClientStats",
    "ClientStopped",
    "CloseInfo",
    "CommandHandler",
    "ConnectionLost",
    "Decision",
    "Deliver",
    "Drop",
    "EAClient",
    "Event",
    "Handler",
    "Inbox",
    "JournalState",
    "MessageStream",
    "NotConnected",
    "Reconnect",
    "ReconnectPolicy",
    "Replay",
    "Stop",
    "Verdict",
]
