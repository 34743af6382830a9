"""The `copygate` command line."""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette

from gateway.app import SHUTDOWN_RECONNECT_AFTER_S, create_app
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
        if runtime is not None:
            await runtime.websocket.shutdown(SHUTDOWN_RECONNECT_AFTER_S)
        await super().shutdown(sockets)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `copygate` console script."""
    parser = argparse.ArgumentParser(prog="copygate", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="run the gateway and copier")
    serve_cmd.add_argument("--host", default="127.0.0.1", help="bind address")
    serve_cmd.add_argument("--port", type=int, default=8080, help="TCP port")
    copier_cmd = commands.add_parser("copier", help="run standalone copier workers")
    copier_cmd.add_argument("--workers", type=int, default=1, help="consumers in this process")
    _add_demo_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.host, args.port, Settings())
    elif args.command == "copier":
        copier(max(1, args.workers), Settings())
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
                view=args.view if args.view is not None else sys.stderr.isatty(),
            )
        )
    return 0


def _add_demo_parser(commands: Any) -> None:
    """`copygate demo`: gateway + copier + simulated terminals, embedded store."""
    demo = commands.add_parser("demo", help="run the whole product with simulated terminals")
    demo.add_argument("--duration", type=float, default=None, help="seconds (default: Ctrl-C)")
    demo.add_argument("--seed", type=int, default=1, help="seeds prices, trading and errors")
    demo.add_argument("--host", default="127.0.0.1", help="bind address")
    demo.add_argument("--port", type=int, default=8080, help="TCP port (0: any free port)")
    demo.add_argument("--summary-json", type=Path, default=None, help="write the summary here")
    demo.add_argument(
        "--view",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="live terminal view (default: when stderr is a terminal)",
    )


def copier(workers: int, settings: Settings) -> None:
    """Run `workers` copier consumers in this process until interrupted."""
    import asyncio

    from copier.runtime import run_standalone

    _configure_logging(settings.log_level)
    asyncio.run(run_standalone(settings, workers))


if __name__ == "__main__":
    raise SystemExit(main())
