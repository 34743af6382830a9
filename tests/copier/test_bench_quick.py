"""The copier throughput benchmark's --quick smoke mode runs and writes its JSON result."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REDIS_URL

ROOT = Path(__file__).resolve().parents[2]


def test_copier_benchmark_quick_mode_queues_every_command_and_writes_json(
    tmp_path: Path,
) -> None:
    out = tmp_path / "copier.json"
    subprocess.run(
        [
            sys.executable,
            "bench/copier_throughput.py",
            "--quick",
            "--redis-url",
            REDIS_URL,
            "--out",
            str(out),
        ],
        cwd=ROOT,
        check=True,
        timeout=120,
        capture_output=True,
    )
    result = json.loads(out.read_text())
    assert result["commands_queued"] == result["commands_expected"] == 150
    assert result["commands_per_s_per_worker"] > 0
    assert result["raw_baseline"]["commands_per_s"] > 0
    assert result["intent_to_queued_ms"]["n"] > 0
