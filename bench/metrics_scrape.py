"""What a Prometheus scrape of `GET /metrics` costs, with the store saying 10,000 sessions.

The app runs in this process on a real Redis (a fresh key prefix, deleted after);
the live-session counts hash is set to `--sessions` sessions (what the session
scripts would hold), then `--scrapes` scrapes go through httpx's ASGI transport.
A scrape reads counters and a fixed handful of O(1) Redis commands, so its cost
does not depend on the number of sessions. Also times the per-message cost the
Prometheus counter adds to `Telemetry.message_span`.

Usage: python bench/metrics_scrape.py [--redis-url URL] [--sessions N] [--scrapes N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import time
import timeit

import httpx
import redis.asyncio as aioredis
from opentelemetry import metrics, trace

from gateway.app import create_app
from gateway.settings import Settings
from gateway.telemetry import Telemetry


async def scrape_cost(redis_url: str, sessions: int, scrapes: int) -> dict[str, float]:
    """Mean wall time of one scrape, and the size of the answer."""
    prefix = f"cgbench-{secrets.token_hex(3)}"
    app = create_app(Settings(redis_url=redis_url, key_prefix=prefix, admin_token="bench"))
    try:
        async with app.router.lifespan_context(app):
            await app.state.runtime.store.redis.hset(
                f"{prefix}:session-counts", mapping={"pending": 0, "authenticated": sessions}
            )
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                for _ in range(20):  # warm-up
                    await client.get("/metrics")
                started = time.perf_counter()
                for _ in range(scrapes):
                    response = await client.get("/metrics")
                elapsed = time.perf_counter() - started
    finally:
        cleanup = aioredis.Redis.from_url(redis_url)
        async for name in cleanup.scan_iter(match=f"{prefix}:*"):
            await cleanup.delete(name)
        await cleanup.aclose()
    return {"scrape_ms": round(elapsed / scrapes * 1000, 3), "bytes": len(response.content)}


def message_cost(calls: int = 200_000) -> dict[str, float]:
    """Microseconds per unspanned heartbeat count, and of the Prometheus increment in it."""
    telemetry = Telemetry(trace.get_tracer("bench"), metrics.get_meter("bench"))

    def heartbeat() -> None:
        with telemetry.message_span("websocket", "a-1", "StatusHeartbeat"):
            pass

    child = telemetry._messages.prometheus.labels("StatusHeartbeat")
    return {
        "message_span_us": round(timeit.timeit(heartbeat, number=calls) / calls * 1e6, 3),
        "prometheus_inc_us": round(timeit.timeit(child.inc, number=calls) / calls * 1e6, 3),
    }


def main() -> None:
    """Run both measurements and print them as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--scrapes", type=int, default=300)
    args = parser.parse_args()
    result = asyncio.run(scrape_cost(args.redis_url, args.sessions, args.scrapes))
    print(json.dumps({"sessions": args.sessions, **result, **message_cost()}))


if __name__ == "__main__":
    main()
