"""Plans shared by followers with identical inputs equal the plans made one by one."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from copier.core import CircuitBreaker, FollowerState, LinkBook, plan_intent
from copier.core.shared_plans import SharedPlans
from copier.worker.link_codec import encode_link
from schemas.codes import Action, OrderType
from tests.copier.core.builders import NOW, D, follower, intent, sent, settings, signal, spec

#: settings objects shared by several followers (as the worker hands them out)
SETTINGS = (
    settings(),
    settings(allocation={"mode": "proportional", "multiplier": "0.5"}),
    settings(allocation={"mode": "fixed_fractional", "risk_fraction": "0.01"}),
    settings(allocation={"mode": "fixed_lot", "lots": "0.3"}, risk={"max_drawdown_pct": 10}),
    settings(risk={"max_orders_per_minute": 1}),
    settings(risk={"max_open_positions": 1}),
    settings(status="close_only"),
    settings(symbol_map={"EURUSD": "GBPUSD"}, reverse=True),
)
#: symbol tables shared by several followers
SYMBOLS = (
    {"EURUSD": spec("EURUSD"), "GBPUSD": spec("GBPUSD")},
    {"EURUSD": spec("EURUSD", lot_step=D("0.1"), min_lot=D("0.1"))},
)
OPEN_BREAKER = CircuitBreaker(failures=5, opened_at_ms=NOW - 1)
SIGNALS = (
    signal(intent(ticket=100), intent_id="i-open"),
    signal(
        intent(Action.PLACE_PENDING, ticket=101, order_type=OrderType.LIMIT, price=D("1.09500")),
        intent_id="i-pending",
    ),
    signal(intent(Action.CLOSE, ticket=100), intent_id="i-close"),
)


def _linked(state: FollowerState) -> FollowerState:
    """The follower already holds a copy of master ticket 100."""
    earlier = plan_intent(signal(intent(ticket=100), intent_id="i-0"), SETTINGS[0], state, NOW)
    return FollowerState(**{**_fields(state), "links": earlier.links})


def _fields(state: FollowerState) -> dict[str, object]:
    return {name: getattr(state, name) for name in FollowerState.__slots__}


followers = st.builds(
    lambda n, equity, peak, symbols, breaker, linked, recent: (
        _linked if linked else (lambda s: s)
    )(
        follower(
            account_id=f"f{n}",
            equity=equity,
            equity_peak=peak,
            symbols=symbols,
            breaker=breaker,
            links=LinkBook(),
            recent_order_ms=recent,
        )
    ),
    st.integers(0, 10_000),
    st.sampled_from([None, D(5_000), D(10_000), Decimal("1E+4")]),
    st.sampled_from([None, D(10_000), D(20_000)]),
    st.sampled_from(SYMBOLS),
    st.sampled_from([CircuitBreaker(), OPEN_BREAKER]),
    st.booleans(),
    st.sampled_from([(), (NOW - 1_000,)]),
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_shared_plan_is_the_plan_the_follower_would_get_alone(data: st.DataObject) -> None:
    sig = data.draw(st.sampled_from(SIGNALS))
    subs = data.draw(st.lists(st.sampled_from(SETTINGS), min_size=1, max_size=2))
    cases = data.draw(st.lists(st.tuples(st.sampled_from(subs), followers), max_size=30))
    shared = SharedPlans(NOW)
    for sub, state in cases:
        alone = plan_intent(sig, sub, state, NOW)
        got = shared.plan(sig, sub, state)
        assert got == alone
        if got.command is not None:
            assert sent(got).model_dump_json() == sent(alone).model_dump_json()
        assert {k: encode_link(v) for k, v in got.links.links.items()} == {
            k: encode_link(v) for k, v in alone.links.links.items()
        }


def test_followers_with_identical_inputs_are_planned_once() -> None:
    shared = SharedPlans(NOW)
    sig, sub, symbols = SIGNALS[0], SETTINGS[0], SYMBOLS[0]
    plans = [shared.plan(sig, sub, follower(account_id=f"f{n}", symbols=symbols)) for n in range(5)]
    assert (shared.planned, shared.stamped) == (1, 4)
    assert len({sent(p).command_id for p in plans}) == 5


def test_an_exposure_or_rate_guard_is_planned_for_each_follower() -> None:
    for sub in (SETTINGS[4], SETTINGS[5]):
        shared = SharedPlans(NOW)
        for n in range(3):
            shared.plan(SIGNALS[0], sub, follower(account_id=f"f{n}", symbols=SYMBOLS[0]))
        assert (shared.planned, shared.stamped) == (3, 0)


def test_a_follower_whose_breaker_or_drawdown_blocks_opens_is_not_given_a_shared_send() -> None:
    shared = SharedPlans(NOW)
    sub, symbols = SETTINGS[3], SYMBOLS[0]
    free = follower(account_id="free", equity=D(10_000), equity_peak=None, symbols=symbols)
    assert shared.plan(SIGNALS[0], sub, free).command is not None
    for blocked in (
        follower(account_id="down", equity=D(10_000), equity_peak=D(20_000), symbols=symbols),
        follower(account_id="open", equity=D(10_000), symbols=symbols, breaker=OPEN_BREAKER),
    ):
        assert shared.plan(SIGNALS[0], sub, blocked) == plan_intent(SIGNALS[0], sub, blocked, NOW)
        assert shared.plan(SIGNALS[0], sub, blocked).command is None
