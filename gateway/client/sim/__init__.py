"""A simulated MT4 terminal for the demo, tests and benchmarks.

Pure parts (time and randomness injected): `market` (symbols, ticks, random-walk
and CSV feeds), `broker` (`SimAccount`: fills, SL/TP/pending triggers, margin,
tickets, errors), `faults` (MT4 error injection), `diff` (the master's
order-list diff), `master` (random and scripted policies), `follower` (command
execution), `terminal` (`SimTerminal`). The one I/O module is `runner`
(`SimEA`: a terminal behind an `EAClient`).

It lives under `gateway/client/` because it is a client of the gateway built on
the SDK; nothing in the server imports it.
"""

from gateway.client.sim.broker import SimAccount
from gateway.client.sim.diff import diff_orders
from gateway.client.sim.faults import ERR, FaultInjector, TradeError
from gateway.client.sim.follower import CopyTag, FollowerExecutor
from gateway.client.sim.market import (
    CsvTickFeed,
    PriceFeed,
    RandomWalkFeed,
    SymbolInfo,
    Tick,
    standard_symbols,
)
from gateway.client.sim.master import MasterPolicy, RandomPolicy, ScriptedPolicy, ScriptStep
from gateway.client.sim.orders import BrokerEvent, ClosedTrade, Fill, SimOrder, TicketSource
from gateway.client.sim.terminal import SimTerminal, TerminalOutput

__all__ = [
    "ERR",
    "BrokerEvent",
    "ClosedTrade",
    "CopyTag",
    "CsvTickFeed",
    "FaultInjector",
    "Fill",
    "FollowerExecutor",
    "MasterPolicy",
    "PriceFeed",
    "RandomPolicy",
    "RandomWalkFeed",
    "ScriptStep",
    "ScriptedPolicy",
    "SimAccount",
    "SimOrder",
    "SimTerminal",
    "SymbolInfo",
    "TerminalOutput",
    "Tick",
    "TicketSource",
    "TradeError",
    "diff_orders",
    "standard_symbols",
]
