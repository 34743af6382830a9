"""What `copygate <command> --help` says about defaults and environment variables.

The environment variable tables are built from the settings models, so a new
setting shows up in ``--help`` without anyone remembering to add it.
"""

from __future__ import annotations

import argparse
import errno
import socket

from pydantic_settings import BaseSettings

from copier.settings import CopierSettings
from gateway.settings import Settings

__all__ = ["HelpFormatter", "PortBusy", "check_port_free", "environment_epilog"]

#: Settings of `Settings` a standalone copier process reads.
_COPIER_PROCESS_FIELDS = (
    "redis_url",
    "redis_cluster",
    "redis_partitions",
    "key_prefix",
    "log_level",
    "otel_exporter",
)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows every option's default and keeps the epilog's table as written.

    Flags that are off and options without a default say nothing (their help text
    tells what happens then).
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False):
            return action.help
        return super()._get_help_string(action)


def _default(settings: type[BaseSettings], name: str) -> str:
    field = settings.model_fields[name]
    if field.default_factory is not None:
        return "generated"
    if field.default is None:
        return "unset"
    return str(field.default)


def _rows(settings: type[BaseSettings], names: tuple[str, ...] | None = None) -> list[str]:
    prefix = str(settings.model_config.get("env_prefix", ""))
    chosen = names or tuple(settings.model_fields)
    return [f"  {(prefix + name).upper():<48} {_default(settings, name)}" for name in chosen]


def environment_epilog(command: str) -> str:
    """The epilog of `command`'s help: the environment variables it reads, with defaults."""
    head = "environment variables (default):"
    if command == "serve":
        rows = _rows(Settings) + _rows(CopierSettings)
    elif command == "copier":
        rows = _rows(Settings, _COPIER_PROCESS_FIELDS) + _rows(CopierSettings)
    else:
        rows = [
            f"  {'COPYGATE_ADMIN_TOKEN':<48} generated (printed in the banner)",
            f"  {'PORT':<48} 8080 (scripts/demo only: its --port)",
        ]
    return "\n".join([head, *rows])


class PortBusy(OSError):
    """The address a server should listen on is taken (or not ours to take)."""


def check_port_free(host: str, port: int) -> None:
    """Raise `PortBusy` with a one-line message when nothing could listen on host:port.

    Port 0 (any free port) always passes.
    """
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            why = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise PortBusy(f"cannot listen on {host}:{port}: {why}") from None
