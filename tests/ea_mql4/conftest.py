"""Fixtures of the EA verification suite (g++ builds, fixture paths)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EA_TOOLS = REPO / "ea_mql4" / "tools"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
if str(EA_TOOLS) not in sys.path:
    sys.path.insert(0, str(EA_TOOLS))


def _require_gxx() -> None:
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")


@pytest.fixture(scope="session")
def core_driver() -> Path:
    """The EA's protocol core compiled with g++ into the fixture driver."""
    _require_gxx()
    import eabuild

    return eabuild.build("core")


@pytest.fixture(scope="session")
def terminal_binary() -> Path:
    """The whole EA compiled against the terminal shim."""
    _require_gxx()
    import eabuild

    return eabuild.build("terminal")
