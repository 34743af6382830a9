"""Master mode: scripted and random policies, seen through the order-list diff."""

from __future__ import annotations

import random
from decimal import Decimal

from gateway.client.sim import RandomPolicy, RandomWalkFeed, ScriptedPolicy, ScriptStep, SimTerminal
from gateway.client.sim.market import standard_symbols
from schemas.codes import Action, OrderType, Role, Side
from tests.gateway.client.simkit import NOW, D, account


def test_scripted_master_reports_every_kind_of_intent_in_order() -> None:
    steps = [
        ScriptStep(0, Action.OPEN, 0, side=Side.BUY, volume=D("0.5"), sl_points=100),
        ScriptStep(
            10,
            Action.PLACE_PENDING,
            1,
            side=Side.SELL,
            volume=D("0.2"),
            order_type=OrderType.LIMIT,
            offset_points=50,
        ),
        ScriptStep(20, Action.MODIFY, 0, sl_points=80, tp_points=200),
        ScriptStep(30, Action.CLOSE, 0, volume=D("0.2")),
        ScriptStep(40, Action.CLOSE, 0),  # the remainder: the chain follows "from #"
        ScriptStep(50, Action.CANCEL_PENDING, 1),
    ]
    m = SimTerminal("m", account(), role=Role.MASTER, policy=ScriptedPolicy(steps, NOW))
    seen = []
    for at in range(0, 60, 10):
        seen += [(i.action.value, str(i.volume)) for i in m.on_ticks([], NOW + at).intents]
    assert seen == [
        ("open", "0.5"),
        ("place_pending", "0.2"),
        ("modify", "0.5"),
        ("close", "0.2"),
        ("close", "0.3"),
        ("cancel_pending", "0.2"),
    ]


def test_a_scripted_step_on_an_order_already_gone_is_refused_not_raised() -> None:
    """Found by the fault suite: a script's modify came after its order had been closed
    (the trader paused with its EA's takeover); the broker refuses it (4108), as MT4's
    would, instead of the simulation crashing."""
    steps = [
        ScriptStep(0, Action.OPEN, 0, side=Side.BUY, volume=D("0.5")),
        ScriptStep(10, Action.CLOSE, 0),
        ScriptStep(20, Action.MODIFY, 0, sl_points=80),
        ScriptStep(30, Action.CLOSE, 0),
    ]
    policy = ScriptedPolicy(steps, NOW)
    m = SimTerminal("m", account(), role=Role.MASTER, policy=policy)
    for at in range(0, 40, 10):
        m.on_ticks([], NOW + at)
    assert [(step.action, code) for step, code in policy.failed] == [
        (Action.MODIFY, 4108),
        (Action.CLOSE, 4108),
    ]


def test_scripted_master_hands_over_to_its_next_policy_when_the_script_ends() -> None:
    then = RandomPolicy(random.Random(1), ["EURUSD"], act_probability=1.0)
    policy = ScriptedPolicy([ScriptStep(0, Action.OPEN, 0)], NOW, then=then)
    m = SimTerminal("m", account(), role=Role.MASTER, policy=policy)
    m.on_ticks([], NOW)
    m.on_ticks([], NOW + 1)
    assert m.intents_sent >= 2


def run_random(seed: int, steps: int = 300) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    feed = RandomWalkFeed(standard_symbols().values(), random.Random(seed))
    acc = account(balance="100000")
    m = SimTerminal(
        "m",
        acc,
        role=Role.MASTER,
        policy=RandomPolicy(rng, ["EURUSD", "XAUUSD"], act_probability=0.5),
    )
    out = []
    for n in range(steps):
        out += [
            (i.action.value, i.symbol, str(i.volume))
            for i in m.on_ticks(feed.at(NOW + n), NOW + n).intents
        ]
    return out


def test_random_master_is_reproducible_from_its_seed() -> None:
    assert run_random(3) == run_random(3)
    assert run_random(3) != run_random(4)


def test_random_master_exercises_every_action_and_respects_its_order_cap() -> None:
    intents = run_random(5, steps=2000)
    assert {a for a, _, _ in intents} == {a.value for a in Action}


def test_random_master_keeps_at_most_max_orders_open() -> None:
    acc = account(balance="1000000")
    policy = RandomPolicy(random.Random(2), ["EURUSD"], act_probability=1.0, max_orders=3)
    for n in range(300):
        policy.act(acc, NOW + n)
        assert len(acc.orders) <= 3


def test_random_master_sometimes_trades_without_a_stop_loss() -> None:
    acc = account(balance="1000000")
    policy = RandomPolicy(
        random.Random(9), ["EURUSD"], act_probability=1.0, max_orders=50, no_stop_probability=0.5
    )
    for n in range(100):
        policy.act(acc, NOW + n)
    stops = {o.sl is None for o in acc.orders.values()}
    assert stops == {True, False}
    assert all(
        o.lots in {Decimal("0.1"), Decimal("0.2"), Decimal("0.5"), Decimal("1")}
        or "from #" in o.comment
        for o in acc.orders.values()
    )
