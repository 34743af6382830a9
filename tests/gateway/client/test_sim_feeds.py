"""Price feeds: a seeded random walk with a spread per symbol, and CSV replay."""

from __future__ import annotations

import random
from pathlib import Path

from gateway.client.sim import CsvTickFeed, RandomWalkFeed, standard_symbols
from tests.gateway.client.simkit import NOW, D


def test_random_walk_is_reproducible_from_its_seed() -> None:
    def walk(seed: int) -> list[D]:
        feed = RandomWalkFeed(standard_symbols().values(), random.Random(seed))
        return [t.bid for n in range(50) for t in feed.at(NOW + n)]

    assert walk(1) == walk(1)
    assert walk(1) != walk(2)


def test_random_walk_quotes_every_symbol_with_its_spread_on_its_price_grid() -> None:
    symbols = standard_symbols()
    feed = RandomWalkFeed(symbols.values(), random.Random(1))
    for n in range(20):
        for t in feed.at(NOW + n):
            info = symbols[t.symbol]
            assert t.ask - t.bid == info.spread_points * info.point
            assert t.bid == info.quantize(t.bid) and t.time_ms == NOW + n


def test_renamed_symbols_quote_from_their_source_and_are_not_walked_twice() -> None:
    eurusd = standard_symbols()["EURUSD"]
    suffixed = eurusd.renamed("EURUSD.m")
    feed = RandomWalkFeed([eurusd, suffixed], random.Random(1))
    assert [t.symbol for t in feed.at(NOW)] == ["EURUSD"]
    assert suffixed.feed_symbol == "EURUSD" and suffixed.spec().symbol == "EURUSD.m"


def test_csv_feed_replays_rows_when_their_time_comes(tmp_path: Path) -> None:
    path = tmp_path / "ticks.csv"
    path.write_text(
        "time_ms,symbol,bid,ask\n"
        "1000,EURUSD,1.10000,1.10010\n"
        "1500,EURUSD,1.10020,1.10030\n"
        "2500,GBPUSD,1.27000,1.27018\n"
    )
    feed = CsvTickFeed.load(path, start_ms=NOW)
    assert [t.bid for t in feed.at(NOW)] == [D("1.10000")]
    assert feed.at(NOW + 400) == []
    assert [(t.symbol, t.time_ms) for t in feed.at(NOW + 2000)] == [
        ("EURUSD", NOW + 500),
        ("GBPUSD", NOW + 1500),
    ]
    assert feed.exhausted


def test_symbol_spec_reports_tick_value_in_the_account_currency() -> None:
    symbols = standard_symbols()
    assert symbols["EURUSD"].spec().tick_value == D("1")
    assert symbols["USDJPY"].spec(D("150")).tick_value == D("0.66666667")
