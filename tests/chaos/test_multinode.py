"""Three `copygate serve` nodes and two `copygate copier` processes behind HAProxy
(`deploy/haproxy/copygate.cfg`), WebSocket and poll EAs spread over the nodes."""

from __future__ import annotations

from bench._chaos_run import run_once
from bench._deployment import LocalDeployment


async def test_the_demo_cast_copies_exactly_through_haproxy_and_three_nodes(
    deployment: LocalDeployment,
) -> None:
    before = deployment.sessions_per_node()
    result = await run_once(deployment, [], seed=900, duration_s=6)
    after = deployment.sessions_per_node()

    assert result["violations"] == []
    assert result["totals"]["intents"] > 10
    assert result["totals"]["commands"] > result["totals"]["intents"]
    assert result["clients_stopped"] == {}
    spread = {node: after[node] - before.get(node, 0) for node in after}
    assert sorted(spread) == ["gw1", "gw2", "gw3"]
    assert all(n > 0 for n in spread.values()), spread
    assert deployment.healthy
