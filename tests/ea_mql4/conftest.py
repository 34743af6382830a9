"""Fixtures of the EA verification suite (g++ builds, fixture paths)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
EA_TOOLS = REPO / "ea_mql4" / "tools"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
if str(EA_TOOLS) not in sys.path:
    sys.path.insert(0, str(EA_TOOLS))

from terminal_harness import Terminal  # noqa: E402

from .fake_gateway import FakeGateway, FakeStream  # noqa: E402


def _require_gxx() -> None:
    # .ci/run installs g++; a machine without it fails these tests, never skips them
    assert shutil.which("g++") is not None, "g++ is required (apt-get install g++)"


@pytest.fixture(scope="session")
def core_driver() -> Path:
    """The EA's protocol core compiled with g++ into the fixture driver."""
    _require_gxx()
    import eabuild

    return eabuild.build("core")


@pytest.fixture(scope="session")
def terminal_binary() -> Path:
    """The whole EA, default (DLL-free) build, compiled against the terminal shim."""
    _require_gxx()
    import eabuild

    return eabuild.build("terminal")


@pytest.fixture(scope="session")
def terminal_dll_binary() -> Path:
    """The whole EA, DLL build (``COPYGATE_WITH_DLL``: WebSocket, RtlGenRandom)."""
    _require_gxx()
    import eabuild

    return eabuild.build("terminal-dll")


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    """The in-process fake of the gateway's EA endpoints."""
    with FakeGateway() as fake:
        yield fake
    assert not fake.invalid, f"the EA sent envelopes the models reject: {fake.invalid}"


@pytest.fixture
def stream(gateway: FakeGateway) -> Iterator[FakeStream]:
    """The fake gateway's WebSocket endpoint (the EA's WebSocket transport)."""
    with FakeStream(gateway) as fake:
        yield fake


@pytest.fixture
def start_terminal(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., Terminal]]:
    """Start EA terminals (stopped at teardown); same name = same MQL4/Files.

    ``dll=True`` runs the DLL build (needed for the WebSocket transport).
    """
    started: list[Terminal] = []

    def start(name: str, server_url: str, *, dll: bool = False, **kwargs: Any) -> Terminal:
        binary = request.getfixturevalue("terminal_dll_binary" if dll else "terminal_binary")
        terminal = Terminal(binary, tmp_path / name, server_url, **kwargs)
        started.append(terminal)
        return terminal.start()

    yield start
    for terminal in started:
        terminal.stop()
