"""The documented SDK example runs (so docs/sdk.md never rots)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.e2e.harness import ROOT

pytestmark = pytest.mark.e2e


def test_sdk_example_copies_one_trade_end_to_end() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYGATE_")}
    result = subprocess.run(
        [sys.executable, "-m", "gateway.client.example"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "follower got open buy 0.2 EURUSD" in result.stdout
    assert "both sessions closed" in result.stdout
