"""The fuzzers of bench/ at a small fixed-seed size, against real `copygate serve` processes.

- `fuzz_rest.py` (schemathesis): every documented operation, positive and negative
  cases, five callers, then chains along the OpenAPI links: no 5xx, only
  documented statuses, every error body of the documented shape, nothing in the
  server's log.
- `fuzz_transports.py` (hypothesis): hostile frames over WebSocket and poll on the
  test Redis: no 5xx, every session still open at the end, nothing in the log.

The full runs (`--full`, 100,000 frames) and their figures are in docs/security.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import REDIS_URL

ROOT = Path(__file__).resolve().parents[2]


def run_fuzzer(script: str, out: Path, *args: str) -> dict[str, Any]:
    """Run `bench/<script>` with `args`; its JSON result (it must exit 0)."""
    run = subprocess.run(
        [sys.executable, f"bench/{script}", "--seed", "13", "--out", str(out), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def test_rest_fuzzer_finds_no_server_error_and_no_undocumented_answer(tmp_path: Path) -> None:
    result = run_fuzzer(
        "fuzz_rest.py", tmp_path / "rest.json", "--examples", "8", "--stateful", "5"
    )
    assert result["operations"] >= 22
    assert result["stateful_calls"] > 0
    assert result["requests"] == sum(result["per_operation"].values()) + result["stateful_calls"]
    assert result["server_errors"] == result["bad_error_bodies"] == []
    assert result["undocumented_statuses"] == result["server_log_problems"] == []
    assert not any(int(status) >= 500 for status in result["statuses"])


def test_transport_fuzzer_crashes_no_connection_and_answers_no_5xx(tmp_path: Path) -> None:
    result = run_fuzzer(
        "fuzz_transports.py",
        tmp_path / "transports.json",
        "--frames",
        "1200",
        "--redis-url",
        REDIS_URL,
    )
    assert result["frames"] == 1200
    assert result["failed_checks"] == []
    assert result["websocket"]["unexpected_closes"] == result["poll"]["unexpected_closes"] == []
    assert not any(int(status) >= 500 for status in result["poll"]["statuses"])
    assert result["server_log_problems"] == []
    assert len(result["sessions_alive_at_end"]) == 4
