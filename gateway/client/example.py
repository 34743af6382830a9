"""A runnable SDK example: ``python -m gateway.client.example``.

It starts a gateway on the embedded store in this process, provisions a master
and a follower through the admin API, then connects both with `EAClient` (the
master over WebSocket, the follower over `exchange` polling): the master reports
an open, the follower executes the copied `OrderCommand` and reports the fill.
Point `--base-url`/`--admin-token` at a running `copygate serve` to use that
instead.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
from decimal import Decimal

import httpx
from pydantic import SecretStr

from gateway.client import ClientConfig, EAClient
from gateway.demo.server import AdminClient, embedded_gateway, free_port
from gateway.settings import Settings
from schemas import ErrorAlert, OrderCommand
from schemas.messages import AccountInfo, ExecutionReportPayload, OrderIntentPayload, SymbolSpec

__all__ = ["main", "run"]

EURUSD = SymbolSpec(
    symbol="EURUSD",
    digits=5,
    point=Decimal("0.00001"),
    contract_size=Decimal(100_000),
    lot_step=Decimal("0.01"),
    min_lot=Decimal("0.01"),
    max_lot=Decimal(100),
)


def account() -> AccountInfo:
    """What the terminal would report: balance and equity."""
    return AccountInfo(balance=Decimal(10_000), equity=Decimal(10_000), currency="USD")


async def run(base_url: str, admin_token: str) -> None:
    """Provision two accounts, connect both EAs, copy one trade."""
    async with httpx.AsyncClient() as http:
        admin = AdminClient(http, base_url, admin_token)
        suffix = secrets.token_hex(2)
        master_id, follower_id = f"example-m-{suffix}", f"example-f-{suffix}"
        await admin.put_account(master_id, "master", "example", "SDK example master")
        await admin.put_account(follower_id, "follower", "example", "SDK example follower")
        await admin.subscribe(
            follower_id, master_id, {"allocation": {"mode": "mirror", "multiplier": 0.5}}
        )
        master_key, follower_key = (
            await admin.provision_key(master_id),
            await admin.provision_key(follower_id),
        )

    master = EAClient(
        ClientConfig(base_url, master_id, master_key), account=account, symbols=[EURUSD]
    )
    follower = EAClient(
        ClientConfig(base_url, follower_id, follower_key, transport="poll"),
        account=account,
        symbols=[EURUSD],
    )
    done = asyncio.Event()

    @follower.on_command
    async def execute(command: OrderCommand) -> ExecutionReportPayload:
        order = command.payload
        print(f"follower got {order.action} {order.side} {order.volume} {order.symbol}", end="")
        print(f" (seq {command.seq})")
        done.set()
        return ExecutionReportPayload(
            command_id=order.command_id,
            status="filled",
            ticket=90_001,
            volume=order.volume,
            price=Decimal("1.10012"),
        )

    follower.on(
        ErrorAlert, lambda alert: print("alert:", alert.payload.code, alert.payload.message)
    )

    async with master, follower:
        await asyncio.gather(master.wait_authenticated(10), follower.wait_authenticated(10))
        print(f"connected: {master_id} as {master.role}, {follower_id} as {follower.role}")
        await master.send_intent(
            OrderIntentPayload(
                action="open",
                ticket=1001,
                symbol="EURUSD",
                side="buy",
                order_type="market",
                volume=Decimal("0.40"),
                price=Decimal("1.10012"),
                sl=Decimal("1.09500"),
            )
        )
        print("master reported: open buy 0.40 EURUSD #1001")
        await asyncio.wait_for(done.wait(), 10)
        await asyncio.sleep(0.2)  # let the report go out
    print(f"follower acknowledged up to seq {follower.ack_seq}; both sessions closed")


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", help="a running gateway (default: start one here)")
    parser.add_argument("--admin-token", default=None, help="its admin token")
    args = parser.parse_args()
    if args.base_url:
        asyncio.run(run(args.base_url, args.admin_token or ""))
        return

    async def embedded() -> None:
        token = secrets.token_urlsafe(16)
        settings = Settings(redis_url=None, admin_token=SecretStr(token), log_level="WARNING")
        async with embedded_gateway(settings, "127.0.0.1", free_port()) as base_url:
            print(f"gateway on {base_url} (embedded store)")
            await run(base_url, token)

    asyncio.run(embedded())


if __name__ == "__main__":
    main()
