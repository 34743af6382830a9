"""docs/quickstart.md works as written: its bash blocks copy a trade on a real gateway.

The page's first block starts a gateway on port 8080; the test starts its own
(`copygate serve` on a free port, embedded store) and runs every other block, in
order, in one bash with `GW` pointing at it. `curl` and `jq` are Debian packages
`.ci/run` installs.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import ROOT, Server, free_port

pytestmark = pytest.mark.e2e

QUICKSTART = ROOT / "docs" / "quickstart.md"
_BASH = re.compile(r"```bash\n(.*?)```", re.S)


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Server]:
    env = {"PATH": "/usr/bin:/bin", "COPYGATE_ADMIN_TOKEN": "change-me"}
    env |= {"COPYGATE_ARGON2_MEMORY_KIB": "1024", "COPYGATE_ARGON2_TIME_COST": "1"}
    server = Server(port=free_port(), env=env)
    server.start(tmp_path)
    yield server
    server.stop()


def test_quickstart_copies_a_trade_when_its_commands_run_in_order(gateway: Server) -> None:
    blocks = _BASH.findall(QUICKSTART.read_text(encoding="utf-8"))
    steps = [block for block in blocks if "copygate serve" not in block]
    assert len(steps) == len(blocks) - 1  # only the start-a-gateway block is skipped
    script = "set -euo pipefail\n" + "\n".join(steps)

    result = subprocess.run(
        ["bash", "-c", script],
        env={
            "PATH": "/usr/bin:/bin",
            "GW": gateway.base_url,
            "COPYGATE_ADMIN_TOKEN": "change-me",
        },
        capture_output=True,
        text=True,
        timeout=40,
        cwd=ROOT,
    )

    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{gateway.logs()[-3000:]}"
    assert '"status": "filled"' in result.stdout
    assert '"filled_volume": 0.1' in result.stdout
