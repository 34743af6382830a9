"""`copygate serve` collects garbage rarely: startup objects frozen, a high gen-0 threshold."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from gateway import cli
from gateway.gc_tuning import tune_gc
from gateway.settings import Settings


@pytest.fixture
def restored_gc() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


pytestmark = pytest.mark.usefixtures("restored_gc")


@pytest.mark.parametrize(
    ("threshold", "expected", "freezes"),
    [
        (50_000, (50_000, 10, 10), True),
        (2_000, (2_000, 10, 10), True),
        (0, (700, 10, 10), False),  # 0: the interpreter's settings stay
    ],
)
def test_tune_gc_sets_the_gen0_threshold_and_freezes_startup_objects(
    threshold: int, expected: tuple[int, int, int], freezes: bool
) -> None:
    frozen = gc.get_freeze_count()
    tune_gc(threshold)
    assert gc.get_threshold() == expected
    assert (gc.get_freeze_count() > frozen) is freezes


def test_the_gateway_threshold_defaults_to_50_000_and_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().gc_gen0_threshold == 50_000
    monkeypatch.setenv("COPYGATE_GC_GEN0_THRESHOLD", "0")
    assert Settings().gc_gen0_threshold == 0


def test_serve_tunes_the_collector_before_the_server_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[int, int, int]] = []

    class RecordingServer:
        def __init__(self, config: Any, app: Any) -> None:
            pass

        def run(self) -> None:
            seen.append(gc.get_threshold())

    monkeypatch.setattr(cli, "_GatewayServer", RecordingServer)
    cli.serve("127.0.0.1", 0, Settings(gc_gen0_threshold=12_345))
    assert seen == [(12_345, 10, 10)]
