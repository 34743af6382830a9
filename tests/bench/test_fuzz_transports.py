"""The WebSocket and poll fuzzer (`bench/fuzz_transports.py`) at a small fixed-seed size.

Hostile frames over both transports against a real `copygate serve` on the test
Redis: no 5xx, every session still open at the end, nothing in the server's log.
The 100,000-frame run and its figures are in docs/security.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REDIS_URL

ROOT = Path(__file__).resolve().parents[2]


def test_transport_fuzzer_crashes_no_connection_and_answers_no_5xx(tmp_path: Path) -> None:
    out = tmp_path / "fuzz_transports.json"
    run = subprocess.run(
        [
            sys.executable,
            "bench/fuzz_transports.py",
            "--frames",
            "1200",
            "--seed",
            "13",
            "--redis-url",
            REDIS_URL,
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
    assert result["frames"] == 1200
    assert result["failed_checks"] == []
    assert result["websocket"]["unexpected_closes"] == result["poll"]["unexpected_closes"] == []
    assert not any(int(status) >= 500 for status in result["poll"]["statuses"])
    assert result["server_log_problems"] == []
    assert len(result["sessions_alive_at_end"]) == 4
