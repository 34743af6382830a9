"""The REST fuzzer (`bench/fuzz_rest.py`, schemathesis) at a small fixed-seed size.

Every documented operation, positive and negative cases, as five different
callers, against a real `copygate serve`: no 5xx, only documented statuses, every
error body of the documented shape, nothing in the server's log. The full run
(`--full`) and its figures are in docs/security.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_rest_fuzzer_finds_no_server_error_and_no_undocumented_answer(tmp_path: Path) -> None:
    out = tmp_path / "fuzz_rest.json"
    run = subprocess.run(
        [
            sys.executable,
            "bench/fuzz_rest.py",
            "--examples",
            "8",
            "--seed",
            "13",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["operations"] >= 22
    assert result["requests"] == sum(result["per_operation"].values()) > 0
    assert result["server_errors"] == result["bad_error_bodies"] == []
    assert result["undocumented_statuses"] == result["server_log_problems"] == []
    assert not any(int(status) >= 500 for status in result["statuses"])
