"""`copygate` on the command line: help with defaults and environment, version, busy ports."""

from __future__ import annotations

import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from copier.settings import CopierSettings
from gateway.cli import main
from gateway.demo.run import DemoOptions, prints_json
from gateway.settings import Settings
from tests.e2e.harness import ROOT


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


def test_serve_help_shows_option_defaults_and_every_environment_variable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = _help(capsys, "serve")
    assert "bind address (default: 127.0.0.1)" in text
    assert "TCP port (default: 8080)" in text
    for name in Settings.model_fields:
        assert f"COPYGATE_{name.upper()}" in text
    for name in CopierSettings.model_fields:
        assert f"COPYGATE_COPIER_{name.upper()}" in text
    assert "COPYGATE_HEARTBEAT_TIMEOUT_S                     15.0" in text


def test_copier_help_shows_the_variables_a_copier_process_reads(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = _help(capsys, "copier")
    assert "consumers in this process (default: 1)" in text
    assert "COPYGATE_REDIS_URL" in text and "COPYGATE_COPIER_BATCH" in text
    assert "COPYGATE_AUTH_PEPPER" not in text


def test_demo_help_shows_defaults_and_its_variables(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys, "demo")
    assert "(default: 8080)" in text and "--json" in text
    assert "COPYGATE_ADMIN_TOKEN" in text


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"copygate {metadata.version('copygate')}"


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_command_fails_with_one_line_when_its_port_is_busy(command: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "gateway", command, "--port", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"copygate {command}: cannot listen on 127.0.0.1:{port}: address already in use"
    ]


@pytest.mark.parametrize(
    ("print_json", "summary_file", "terminal", "printed"),
    [
        (False, None, True, False),  # Ctrl-C at a terminal: the short summary only
        (False, None, False, True),  # piped: the data
        (True, None, True, True),  # --json
        (False, "s.json", False, False),  # the file has it
        (True, "s.json", True, True),
    ],
)
def test_demo_prints_the_full_json_only_when_asked_or_not_at_a_terminal(
    print_json: bool, summary_file: str | None, terminal: bool, printed: bool
) -> None:
    options = DemoOptions(
        print_json=print_json, summary_json=Path(summary_file) if summary_file else None
    )
    assert prints_json(options, stdout_is_terminal=terminal) is printed
