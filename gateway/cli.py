"""The `copygate` command line."""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette

from gateway.app import SHUTDOWN_RECONNECT_AFTER_S, create_app
from gateway.cli_help import HelpFormatter, PortBusy, check_port_free, environment_epilog
from gateway.gc_tuning import tune_gc
from gateway.settings import Settings
from gateway.uvicorn_ws import LeanWebSocketProtocol

__all__ = ["copier", "main", "serve"]


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def serve(host: str, port: int, settings: Settings) -> None:
    """Run gateway + one copier worker in this process until interrupted."""
    _configure_logging(settings.log_level)
    if not settings.shared_store:
        logging.getLogger("copygate").warning(
            "COPYGATE_REDIS_URL is not set: using the EMBEDDED in-process store. "
            "State is lost on exit and only this process can serve EAs."
        )
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ws=LeanWebSocketProtocol,  # uvicorn's websockets-sansio, less kept per connection
        ws_max_size=settings.max_frame_bytes,
        ws_per_message_deflate=False,
        ws_ping_interval=None,
        lifespan="on",
        log_level=settings.log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    tune_gc(settings.gc_gen0_threshold)
    _GatewayServer(config, app).run()


class _GatewayServer(uvicorn.Server):
    """uvicorn's server, telling EAs `ShutdownNotice` + 4004 before it closes sockets."""

    def __init__(self, config: uvicorn.Config, app: Starlette) -> None:
        super().__init__(config)
        self.gateway_app = app  #: the app whose runtime owns the connections

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        runtime = getattr(self.gateway_app.state, "runtime", None)
        console = getattr(self.gateway_app.state, "console", None)
        if console is not None:
            console.close()  # console event streams end; browsers reconnect elsewhere
        if runtime is not None:
            await runtime.websocket.shutdown(SHUTDOWN_RECONNECT_AFTER_S)
        await super().shutdown(sockets)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `copygate` console script."""
    parser = argparse.ArgumentParser(prog="copygate", description=__doc__)
    parser.add_argument("--version", action="version", version=f"copygate {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = _subcommand(
        commands, "serve", "run the gateway and one copier worker (embedded store without Redis)"
    )
    serve_cmd.add_argument("--host", default="127.0.0.1", help="bind address")
    serve_cmd.add_argument("--port", type=int, default=8080, help="TCP port")
    copier_cmd = _subcommand(
        commands, "copier", "run standalone copier workers (needs COPYGATE_REDIS_URL)"
    )
    copier_cmd.add_argument("--workers", type=int, default=1, help="consumers in this process")
    copier_cmd.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve Prometheus metrics (copies, copy latency, Redis errors) on this port",
    )
    copier_cmd.add_argument(
        "--metrics-host", default="127.0.0.1", help="bind address of the metrics port"
    )
    _add_demo_parser(commands)
    args = parser.parse_args(argv)
    if args.command in ("serve", "demo"):
        try:
            check_port_free(args.host, args.port)
        except PortBusy as exc:
            sys.stderr.write(f"copygate {args.command}: {exc}\n")
            return 2
    if args.command == "serve":
        serve(args.host, args.port, Settings())
    elif args.command == "copier":
        copier(max(1, args.workers), Settings(), args.metrics_port, args.metrics_host)
    elif args.command == "demo":
        from gateway.demo import DemoOptions
        from gateway.demo import main as run_demo

        return run_demo(
            DemoOptions(
                duration_s=args.duration,
                seed=args.seed,
                host=args.host,
                port=args.port,
                summary_json=args.summary_json,
                print_json=args.json,
                view=args.view if args.view is not None else sys.stderr.isatty(),
            )
        )
    return 0


def _version() -> str:
    try:
        return metadata.version("copygate")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _subcommand(commands: Any, name: str, summary: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=summary,
        epilog=environment_epilog(name),
        formatter_class=HelpFormatter,
    )
    return parser


def _add_demo_parser(commands: Any) -> None:
    """`copygate demo`: gateway + copier + simulated terminals, embedded store."""
    demo = _subcommand(
        commands, "demo", "run the whole product with simulated terminals (embedded store)"
    )
    demo.add_argument("--duration", type=float, default=None, help="seconds (default: Ctrl-C)")
    demo.add_argument("--seed", type=int, default=1, help="seeds prices, trading and errors")
    demo.add_argument("--host", default="127.0.0.1", help="bind address")
    demo.add_argument("--port", type=int, default=8080, help="TCP port (0: any free port)")
    demo.add_argument("--summary-json", type=Path, default=None, help="write the summary here")
    demo.add_argument(
        "--json",
        action="store_true",
        help="print the full JSON summary on stdout (always done when stdout is not a terminal)",
    )
    demo.add_argument(
        "--view",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="live terminal view (default: when stderr is a terminal)",
    )


def copier(
    workers: int,
    settings: Settings,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
) -> None:
    """Run `workers` copier consumers in this process until interrupted."""
    import asyncio

    from copier.runtime import run_standalone

    _configure_logging(settings.log_level)
    asyncio.run(
        run_standalone(settings, workers, metrics_port=metrics_port, metrics_host=metrics_host)
    )


if __name__ == "__main__":
    raise SystemExit(main())
