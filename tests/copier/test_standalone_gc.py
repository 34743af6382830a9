"""A standalone copier process collects garbage rarely; 0 leaves the interpreter alone."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from copier.runtime import tune_gc
from copier.settings import CopierSettings


@pytest.fixture
def restored_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


@pytest.mark.usefixtures("restored_gc")
def test_standalone_copier_raises_the_gen0_threshold_and_freezes_startup_objects() -> None:
    gc.set_threshold(700, 10, 10)
    tune_gc(CopierSettings(standalone_gc_threshold=50_000))
    assert gc.get_threshold() == (50_000, 10, 10)
    assert gc.get_freeze_count() > 0


@pytest.mark.usefixtures("restored_gc")
def test_standalone_copier_with_threshold_zero_keeps_the_interpreter_settings() -> None:
    gc.set_threshold(700, 10, 10)
    frozen = gc.get_freeze_count()
    tune_gc(CopierSettings(standalone_gc_threshold=0))
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == frozen
