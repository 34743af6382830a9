"""A fixed-seed slice of the fault suite (`bench/chaos.py`; see docs/reliability.md):
every fault kind, against the whole deployment (one Redis, and a primary + replica +
three sentinels for the failover), and not one invariant broken."""

from __future__ import annotations

from typing import Any

import pytest

from bench._chaos_check import FAULT_KINDS, SENTINEL_KINDS, SINGLE_REDIS_KINDS, schedule
from bench._chaos_run import run_once
from bench._deployment import LocalDeployment

#: Seeds whose schedules on one Redis, with the Sentinel seed, draw every kind.
SLICE = (1, 20)
SENTINEL_SEED = 18
FAULTS_PER_RUN = 4
SENTINEL_FAULTS = 3
DURATION_S = 6.0


def test_the_slice_draws_every_fault_kind() -> None:
    drawn = {f.kind for seed in SLICE for f in schedule(seed, DURATION_S, faults=FAULTS_PER_RUN)}
    assert drawn == set(SINGLE_REDIS_KINDS)
    failover = schedule(SENTINEL_SEED, DURATION_S, faults=SENTINEL_FAULTS, kinds=SENTINEL_KINDS)
    assert drawn | {f.kind for f in failover} == set(FAULT_KINDS)


def _clean(result: dict[str, Any], deployment: LocalDeployment) -> None:
    assert result["violations"] == []
    assert result["clients_stopped"] == {}
    assert deployment.healthy
    # the fencing checks had a history to read
    assert result["sessions"] >= 15 and result["accepted"] > result["totals"]["intents"]


@pytest.mark.parametrize("seed", SLICE)
async def test_no_invariant_breaks_under_a_seeded_fault_schedule(
    deployment: LocalDeployment, seed: int
) -> None:
    faults = schedule(seed, DURATION_S, faults=FAULTS_PER_RUN)
    result = await run_once(deployment, faults, seed=seed, duration_s=DURATION_S)

    assert [f["kind"] for f in result["faults"]] == [f.kind for f in faults]
    _clean(result, deployment)


async def test_no_invariant_breaks_across_a_sentinel_failover_and_a_preemption(
    sentinel_deployment: LocalDeployment,
) -> None:
    faults = schedule(SENTINEL_SEED, DURATION_S, faults=SENTINEL_FAULTS, kinds=SENTINEL_KINDS)
    result = await run_once(sentinel_deployment, faults, seed=SENTINEL_SEED, duration_s=DURATION_S)

    assert [(f["kind"], f.get("error")) for f in result["faults"]] == [
        (f.kind, None) for f in faults
    ]
    # the second terminal's probe on the preempted session was refused
    assert result["stale_probes"] == [410]
    _clean(result, sentinel_deployment)
