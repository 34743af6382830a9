"""`scripts/setup` says nothing and installs nothing when nothing changed."""

from __future__ import annotations

import subprocess

from tests.e2e.harness import ROOT


def test_setup_is_silent_when_pyproject_is_unchanged_since_the_last_install() -> None:
    subprocess.run(
        [ROOT / "scripts" / "setup"], cwd=ROOT, check=True, capture_output=True, timeout=600
    )
    stamp = ROOT / ".venv" / ".setup-stamp"
    before = stamp.stat().st_mtime_ns

    again = subprocess.run(
        [ROOT / "scripts" / "setup"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )

    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
    assert stamp.stat().st_mtime_ns == before  # no install ran
