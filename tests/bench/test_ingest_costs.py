"""`bench/ingest_costs.py` times every ingest step of one ExecutionReport frame."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ingest_costs_prints_one_timing_per_step() -> None:
    done = subprocess.run(
        [sys.executable, "bench/ingest_costs.py", "--repeat", "10"],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT)},
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    )
    steps = [line.rsplit(None, 2)[0] for line in done.stdout.splitlines()]
    assert steps == [
        "parse_client_envelope",
        "message_span (exporter none)",
        "recorded body (_normalised)",
        "SessionProtocol.receive_frame",
    ]
    assert all(line.endswith(" us") for line in done.stdout.splitlines())
