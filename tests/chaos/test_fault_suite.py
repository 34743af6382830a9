"""A fixed-seed slice of the fault suite (`bench/chaos.py`; see docs/reliability.md):
every fault kind, against the whole deployment, and not one invariant broken."""

from __future__ import annotations

import pytest

from bench._chaos_check import SINGLE_REDIS_KINDS, schedule
from bench._chaos_run import run_once
from bench._deployment import LocalDeployment

#: Seeds whose schedules together draw every fault kind (checked below).
SLICE = (1, 19)
FAULTS_PER_RUN = 4
DURATION_S = 6.0


def test_the_slice_draws_every_fault_kind() -> None:
    drawn = {f.kind for seed in SLICE for f in schedule(seed, DURATION_S, faults=FAULTS_PER_RUN)}
    assert drawn == set(SINGLE_REDIS_KINDS)


@pytest.mark.parametrize("seed", SLICE)
async def test_no_invariant_breaks_under_a_seeded_fault_schedule(
    deployment: LocalDeployment, seed: int
) -> None:
    faults = schedule(seed, DURATION_S, faults=FAULTS_PER_RUN)
    result = await run_once(deployment, faults, seed=seed, duration_s=DURATION_S)

    assert [f["kind"] for f in result["faults"]] == [f.kind for f in faults]
    assert result["violations"] == []
    assert result["clients_stopped"] == {}
    assert deployment.healthy
