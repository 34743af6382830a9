"""Every load benchmark's `--quick` smoke mode runs end to end and writes its JSON result.

The full runs are not part of the suite (minutes each, 10,000 sockets); these keep
the scripts from rotting: a gateway process, the fleet's worker process, the floor.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import REDIS_URL

ROOT = Path(__file__).resolve().parents[2]


def run_quick(script: str, out: Path, *extra: str) -> dict[str, Any]:
    subprocess.run(
        [
            sys.executable,
            f"bench/{script}",
            "--quick",
            "--redis-url",
            REDIS_URL,
            "--out",
            str(out),
            *extra,
        ],
        cwd=ROOT,
        check=True,
        timeout=180,
        capture_output=True,
    )
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def test_fanout_quick_mode_delivers_every_command_and_measures_the_floor(tmp_path: Path) -> None:
    result = run_quick("fanout.py", tmp_path / "fanout.json")
    [run] = result["runs"]
    assert run["gateway"]["n"] == run["floor"]["n"] == run["followers"] * run["intents"]
    assert run["gateway"]["missing"] == run["floor"]["missing"] == 0
    assert run["ratio"]["p99_ms"] > 0


def test_fanout_with_a_standalone_copier_delivers_every_command(tmp_path: Path) -> None:
    result = run_quick("fanout.py", tmp_path / "fanout.json", "--standalone-copier")
    assert result["copier"] == "standalone process"
    [run] = result["runs"]
    assert run["gateway"]["n"] == run["followers"] * run["intents"]
    assert run["gateway"]["missing"] == 0


def test_idle_quick_mode_keeps_every_session_and_reads_proc(tmp_path: Path) -> None:
    result = run_quick("idle.py", tmp_path / "idle.json")
    assert result["connected"] == result["live_at_end"] == result["sessions"]
    assert result["rss_with_sessions_kib"] > 0 and result["cpu_heartbeating_pct"] >= 0
    assert result["heartbeats_per_s"] > 0


def test_reconnect_storm_quick_mode_reauthenticates_every_session(tmp_path: Path) -> None:
    result = run_quick("reconnect_storm.py", tmp_path / "storm.json")
    assert result["connected_before"] == result["reconnected"] == result["sessions"]
    assert result["storm_s"] > 0


def test_copy_path_quick_mode_copies_every_open_and_close_with_reporting_followers(
    tmp_path: Path,
) -> None:
    result = run_quick("copy_path.py", tmp_path / "copy_path.json")
    [run] = result["runs"]
    for measured in [run["latency"], *run["sweep"]]:
        assert measured["missing"] == 0
        assert measured["open"]["n"] == measured["close"]["n"] == measured["commands"] // 2
    assert run["max_sustained_rate"] > 0
    assert run["latency"]["cpu_pct"]["gateway"] > 0


def test_copy_path_master_resends_refused_intents_until_every_signal_is_copied_once(
    tmp_path: Path,
) -> None:
    # a bound of one waiting intent, re-read every 10 ms, at 200 signals/s: opens are
    # refused (overloaded, close 1008); the master must back off, reconnect and resend
    result = run_quick(
        "copy_path.py",
        tmp_path / "copy_path.json",
        "--rates",
        "3=200",
        "--gateway-env",
        "COPYGATE_INTENT_BACKLOG_MAX_WAITING=1",
        "--gateway-env",
        "COPYGATE_INTENT_BACKLOG_REFRESH_MS=10",
        "--gateway-env",
        "COPYGATE_INTENT_BACKLOG_RETRY_AFTER_MS=50",
    )
    [run] = result["runs"]
    [overloaded] = run["sweep"]
    assert overloaded["refusals"] > 0
    assert overloaded["refused_by_gateway"] == overloaded["refusals"]
    assert overloaded["reconnects"] >= overloaded["refusals"]
    assert overloaded["resent"] > 0 and overloaded["all_confirmed"]
    assert overloaded["missing"] == overloaded["lost"] == overloaded["duplicated"] == 0
    assert not overloaded["sustained"]
    assert overloaded["backlog"]["samples"] > 0
