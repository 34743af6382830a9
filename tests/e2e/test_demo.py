"""`copygate demo --duration 10 --seed 1` as a subprocess: copies happen and positions match."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest

from tests.e2e.harness import ROOT

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the demo once; its JSON summary."""
    path = tmp_path_factory.mktemp("demo") / "summary.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYGATE_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "demo",
            "--duration",
            "10",
            "--seed",
            "1",
            "--port",
            "0",
            "--summary-json",
            str(path),
            "--no-view",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert path.exists(), f"no summary (exit {result.returncode}):\n{result.stderr[-4000:]}"
    data: dict[str, Any] = json.loads(path.read_text())
    assert result.returncode == (0 if data["all_match"] else 1), result.stderr[-4000:]
    return data


def test_demo_copies_master_trades_to_followers(summary: dict[str, Any]) -> None:
    totals = summary["totals"]
    assert totals["intents"] > 0 and totals["commands"] > 0
    assert totals["copies_filled"] > 0
    assert summary["latency_ms"]["intent_to_delivered"]["n"] > 0
    assert all(f["commands"] > 0 for f in summary["followers"].values())


def test_demo_followers_hold_their_masters_positions_under_their_allocation(
    summary: dict[str, Any],
) -> None:
    mismatched = {k: f["mismatches"] for k, f in summary["followers"].items() if not f["match"]}
    assert mismatched == {}
    assert summary["all_match"] and summary["totals"]["mismatches"] == 0


def test_demo_mirror_follower_volumes_equal_the_masters_times_the_multiplier(
    summary: dict[str, Any],
) -> None:
    """Re-checked here from the raw positions, independently of the demo's own check."""
    for follower_id in ("demo-f01", "demo-f02"):
        follower = summary["followers"][follower_id]
        [(master_id, settings)] = follower["subscriptions"].items()
        multiplier = Decimal(str(settings["allocation"]["multiplier"]))
        # a copy names the master ticket of its last command: any ticket of the chain
        masters = {t: p for p in summary["masters"][master_id]["positions"] for t in p["chain"]}
        for copy in follower["positions"]:
            master = masters[copy["master"]["ticket"]]  # every copy has a live master order
            opened = Decimal(str(master["opened"])) * multiplier
            assert Decimal(str(copy["opened"])) == opened.quantize(Decimal("0.01"), "ROUND_DOWN")
            assert copy["side"] == master["side"] and copy["symbol"] == master["symbol"]


def test_demo_exercises_errors_guards_and_both_transports(summary: dict[str, Any]) -> None:
    followers = summary["followers"]
    assert {f["transport"] for f in followers.values()} == {"websocket", "poll"}
    assert followers["demo-f12"]["mt4_errors"].get("128", 0) > 0  # injected timeouts
    assert sum(f["copy_records"].get("skipped", 0) for f in followers.values()) > 0
