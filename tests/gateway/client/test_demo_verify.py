"""The demo's position check: followers versus masters under each allocation (pure)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from gateway.client.sim import CopyTag
from gateway.demo.verify import Holding, holdings, replay_closes, verify_follower
from schemas.codes import Side
from schemas.subscriptions import SubscriptionSettings
from tests.gateway.client.simkit import NOW, D, account

LIMITS = {"EURUSD": (D("0.01"), D("0.01"), D("100")), "EURUSD.m": (D("0.01"), D("0.01"), D("100"))}


def held(
    ticket: int,
    volume: str,
    *,
    opened: str | None = None,
    closes: tuple[str, ...] = (),
    side: str = "buy",
    symbol: str = "EURUSD",
    master: int | None = None,
    chain: tuple[int, ...] = (),
) -> Holding:
    return Holding(
        ticket=ticket,
        symbol=symbol,
        side=side,
        pending=False,
        volume=D(volume),
        opened=D(opened or volume),
        closes=tuple(D(c) for c in closes),
        chain=frozenset({ticket, *chain}),
        tag=CopyTag("m1", master, f"cmd-{ticket}") if master is not None else None,
    )


def check(
    settings: dict[str, Any], masters: list[Holding], copies: list[Holding], **kw: Any
) -> list[str]:
    kw.setdefault("equity_ratio", None)
    kw.setdefault("explained", {})
    kw.setdefault("closed_at_broker", set())
    found = verify_follower(
        "m1", SubscriptionSettings.model_validate(settings), masters, copies, LIMITS, **kw
    )
    return [m.problem for m in found]


@pytest.mark.parametrize(
    ("follower", "master", "closes", "left"),
    [
        ("0.5", "1.0", ("0.3",), "0.35"),  # docs/copier.md: 0.15 then the rest
        ("0.33", "1.0", ("0.5",), "0.17"),  # 0.165 -> 0.16 closed
        ("0.02", "1.0", ("0.3",), "0.02"),  # share 0.006 < min_lot: nothing now
        ("0.02", "1.0", ("0.6",), "0.01"),  # share 0.012 -> 0.01
        ("0.10", "1.0", ("0.95",), "0.01"),  # 0.095 -> 0.09; 0.01 left is still >= min_lot
        ("0.10", "1.0", ("0.85",), "0.02"),  # 0.085 -> 0.08 closed
        ("0.5", "1.0", ("0.3", "0.7"), "0"),  # the master's whole remainder: everything
    ],
)
def test_partial_closes_replay_the_copier_rule(
    follower: str, master: str, closes: tuple[str, ...], left: str
) -> None:
    assert replay_closes(
        D(follower), D(master), tuple(D(c) for c in closes), D("0.01"), D("0.01")
    ) == D(left)


def test_mirror_copy_with_the_allocated_volume_matches() -> None:
    assert (
        check(
            {"allocation": {"mode": "mirror", "multiplier": 0.5}},
            [held(10, "0.37")],
            [held(90, "0.18", master=10)],
        )
        == []
    )


def test_copy_with_another_volume_is_wrong_size() -> None:
    assert check({}, [held(10, "0.3")], [held(90, "0.2", master=10)]) == ["wrong_size"]


def test_fixed_lot_copy_is_sized_by_the_lots_setting() -> None:
    settings = {"allocation": {"mode": "fixed_lot", "lots": 0.123}}
    assert check(settings, [held(10, "2")], [held(90, "0.12", master=10)]) == []


def test_copy_remainder_must_follow_the_masters_partial_closes() -> None:
    master = held(11, "0.7", opened="1.0", closes=("0.3",), chain=(10,))
    good = held(91, "0.35", opened="0.5", master=11, chain=(90,))
    bad = held(91, "0.40", opened="0.5", master=11, chain=(90,))
    settings = {"allocation": {"mode": "mirror", "multiplier": 0.5}}
    assert check(settings, [master], [good]) == []
    assert check(settings, [master], [bad]) == ["wrong_remainder"]


def test_reverse_copy_must_have_the_opposite_side_and_mapped_symbol() -> None:
    settings = {"reverse": True, "symbol_map": {"EURUSD": "EURUSD.m"}}
    assert (
        check(
            settings,
            [held(10, "0.1")],
            [held(90, "0.1", side="sell", symbol="EURUSD.m", master=10)],
        )
        == []
    )
    assert check(
        settings, [held(10, "0.1")], [held(90, "0.1", side="buy", symbol="EURUSD.m", master=10)]
    ) == ["different_order"]


def test_copy_of_a_closed_master_order_is_an_orphan() -> None:
    assert check({}, [], [held(90, "0.1", master=10)]) == ["orphan_copy"]


def test_missing_copy_needs_a_recorded_reason_or_a_broker_close() -> None:
    assert check({}, [held(10, "0.1")], []) == ["missing_copy"]
    assert check({}, [held(10, "0.1")], [], explained={10: "skipped:max_open_positions"}) == []
    assert check({}, [held(10, "0.1")], [], closed_at_broker={10}) == []


def test_two_copies_of_one_master_order_are_duplicates() -> None:
    copies = [held(90, "0.1", master=10), held(91, "0.1", master=10)]
    assert "duplicate_copy" in check({}, [held(10, "0.1")], copies)


def test_proportional_copy_is_checked_against_the_equity_ratio_within_the_band() -> None:
    settings = {"allocation": {"mode": "proportional", "multiplier": 1}}
    assert (
        check(settings, [held(10, "1")], [held(90, "0.25", master=10)], equity_ratio=D("0.25"))
        == []
    )
    assert check(
        settings, [held(10, "1")], [held(90, "0.60", master=10)], equity_ratio=D("0.25")
    ) == ["wrong_size"]


def test_lot_cap_guards_allow_a_clipped_copy() -> None:
    settings = {"allocation": {"mode": "mirror", "multiplier": 2}, "risk": {"max_total_lots": 0.5}}
    assert check(settings, [held(10, "1")], [held(90, "0.5", master=10)]) == []


def test_holdings_rebuild_partial_close_chains_from_the_history() -> None:
    acc = account()
    first = acc.open_market("EURUSD", Side.BUY, D("1.0"), now_ms=NOW)
    second = acc.close(first.ticket, D("0.3"), now_ms=NOW)
    assert second.new_ticket is not None
    third = acc.close(second.new_ticket, D("0.2"), now_ms=NOW)
    [h] = holdings(acc)
    assert (h.ticket, h.volume, h.opened, h.closes) == (
        third.new_ticket,
        D("0.5"),
        D("1.0"),
        (D("0.3"), D("0.2")),
    )
    assert h.chain == {first.ticket, second.new_ticket, third.new_ticket}
    assert Decimal(h.to_json()["opened"]) == 1
