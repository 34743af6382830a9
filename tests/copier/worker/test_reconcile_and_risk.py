"""Reconciliation, risk effects and audit over the store (embedded and real Redis)."""

from __future__ import annotations

from typing import Any

import pytest

from copier.errors import SnapshotAhead
from copier.worker.stream_entry import StreamEntry
from tests.copier.worker.world import MASTER, World


def position(ticket: int, volume: float = 1.0, **fields: Any) -> dict[str, Any]:
    return {
        "ticket": ticket,
        "symbol": "EURUSD",
        "side": "buy",
        "volume": volume,
        "open_price": 1.1,
        "sl": 1.09,
        "tp": 1.12,
        **fields,
    }


async def _copied(
    world: World, follower: str, ticket: int, follower_ticket: int, **report: Any
) -> None:
    await world.intent("open", ticket)
    await world.run()
    (opened,) = await world.commands(follower)
    await world.report(
        follower, opened["command_id"], "filled", ticket=follower_ticket, volume=1.0, **report
    )
    await world.run()


async def test_follower_snapshot_marks_a_position_gone_at_the_broker_closed(
    world: World,
) -> None:
    await world.follower("f1")
    await _copied(world, "f1", 100, 555)
    await world.snapshot("f1", positions=[])  # SL hit while offline
    await world.run()
    await world.intent("close", 100)
    await world.run()
    assert await world.commands("f1") == []  # never closed (or reopened) again
    skipped = [c for c in await world.copies("f1") if c["action"] == "close"]
    assert skipped[0]["reason"] == "link_closed"


async def test_follower_snapshot_closes_what_the_master_closed_while_paused(
    world: World,
) -> None:
    await world.follower("f1")
    await _copied(world, "f1", 100, 555)
    await world.subscribe("f1", status="paused")
    await world.intent("close", 100)
    await world.run()
    assert await world.commands("f1") == []
    await world.subscribe("f1", status="active")
    await world.snapshot("f1", positions=[position(555)])
    await world.run()
    (closed,) = await world.commands("f1")
    assert (closed["action"], closed["ticket"]) == ("close", 555)


async def test_master_snapshot_propagates_a_close_made_while_it_was_offline(
    world: World,
) -> None:
    await world.follower("f1")
    await _copied(world, "f1", 100, 555)
    await world.snapshot(MASTER, positions=[])  # the master closed 100 while offline
    await world.run()
    (closed,) = await world.commands("f1")
    assert (closed["action"], closed["ticket"], closed["volume"]) == ("close", 555, 1.0)
    await world.snapshot(MASTER, positions=[])  # a second snapshot finds nothing new
    await world.run()
    assert await world.commands("f1") == []


async def test_a_master_snapshot_older_than_an_applied_intent_closes_nothing(
    world: World,
) -> None:
    """Found by the fault suite: a master's SyncSnapshot, held up in a killed worker's
    pending list, was reconciled after a newer intent (an open) and closed its copy."""
    await world.follower("f1")
    await _copied(world, "f1", 100, 555)
    taken = world.clock()
    world.clock.advance(1000)
    await _copied(world, "f1", 200, 556)  # opened after the snapshot below was taken
    await world.snapshot(MASTER, positions=[position(100)], taken_ms=taken)
    await world.run()
    assert await world.commands("f1") == []
    await world.snapshot(MASTER, positions=[position(100)])  # a fresh one still reconciles
    await world.run()
    (closed,) = await world.commands("f1")
    assert (closed["action"], closed["ticket"]) == ("close", 556)


async def test_a_follower_snapshot_older_than_an_applied_report_marks_nothing_gone(
    world: World,
) -> None:
    """Found by the fault suite (seed 1000025): a follower's SyncSnapshot, taken before
    an open executed, was reconciled after the open's fill report; the new position was
    marked gone at the broker and the master's close of it skipped (`link_closed`)."""
    await world.follower("f1")
    await _copied(world, "f1", 100, 555, executed_at_ms=world.clock())
    taken = world.clock()
    world.clock.advance(1000)
    await _copied(world, "f1", 200, 556, executed_at_ms=world.clock())  # after the snapshot
    await world.snapshot("f1", positions=[position(555)], taken_ms=taken)
    await world.run()
    await world.intent("close", 200)
    await world.run()
    (closed,) = await world.commands("f1")
    assert (closed["action"], closed["ticket"]) == ("close", 556)
    world.clock.advance(1000)
    await world.snapshot("f1", positions=[position(556)])  # a fresh one still reconciles
    await world.run()
    await world.intent("close", 100)
    await world.run()
    assert await world.commands("f1") == []  # 555 was gone at the broker: nothing to close


async def test_a_master_snapshot_waits_for_the_intents_sent_ahead_of_it(
    world: World,
) -> None:
    """Found by the fault suite: a master's partial close (100 -> remainder 101) was in
    the intent stream, not yet processed, when its next SyncSnapshot (holding 101) was
    reconciled: against a book still holding 100, the snapshot read as "100 closed",
    the follower closed everything, and the remainder's copy was lost."""
    await world.follower("f1")
    await _copied(world, "f1", 100, 555)
    await world.intent("close", 100, volume=0.5, new_ticket=101)
    await world.snapshot(MASTER, positions=[position(101, volume=0.5)])
    stream = world.keys.ea_inbox_stream(world.keys.partition_of(MASTER))
    ((entry_id, fields),) = await world.client.xrevrange(stream, count=1)
    snapshot = StreamEntry(stream, entry_id.decode(), fields)
    with pytest.raises(SnapshotAhead):  # the partial close is not processed yet
        await world.worker.pump.reports.on_inbox_entry(snapshot)
    await world.run()  # the intent, then the snapshot
    (partial,) = await world.commands("f1")
    assert (partial["action"], partial["ticket"], partial["volume"]) == ("close", 555, 0.5)


async def test_drawdown_breach_switches_to_close_only_alerts_and_is_audited(
    world: World,
) -> None:
    await world.follower("f1", risk={"max_drawdown_pct": 10})
    await world.intent("open", 100)
    await world.run()
    await world.commands("f1")
    await world.ea_state(
        "f1",
        equity=8_500,
        symbols=[
            {
                "symbol": "EURUSD",
                "digits": 5,
                "point": 0.00001,
                "contract_size": 100000,
                "lot_step": 0.01,
                "min_lot": 0.01,
                "max_lot": 100,
            }
        ],
    )
    await world.intent("open", 101)
    await world.run()
    delivered = await world.delivered("f1")
    assert [e["type"] for e in delivered] == ["ErrorAlert"]
    assert delivered[0]["payload"]["code"] == "max_drawdown"
    view = await world.subscriptions.get("f1", MASTER)
    assert view is not None and view.status == "close_only"
    (entry, *_older) = await world.subscriptions.audit("f1")
    assert (entry["actor"], entry["action"]) == ("copier", "status")
    assert entry["before"]["status"] == "active" and entry["after"]["status"] == "close_only"


async def test_breaker_opens_after_repeated_rejections_and_alerts(
    redis_client: object, keys: object
) -> None:
    world = await World.create(redis_client, keys, breaker_threshold=2)  # type: ignore[arg-type]
    await world.follower("f1")
    for ticket in (1, 2):
        await world.intent("open", ticket)
        await world.run()
        (command,) = await world.commands("f1")
        await world.report("f1", command["command_id"], "rejected", error_code=134)
        await world.run()
    alerts = [e for e in await world.delivered("f1") if e["type"] == "ErrorAlert"]
    assert [a["payload"]["code"] for a in alerts] == ["circuit_open"]
    await world.intent("open", 3)
    await world.run()
    assert await world.commands("f1") == []
    record = next(c for c in await world.copies("f1") if c["master_ticket"] == 3)
    assert record["reason"] == "circuit_open"


async def test_subscription_changes_are_audited_with_before_and_after(world: World) -> None:
    await world.subscribe("f1", allocation={"mode": "fixed_lot", "lots": 0.1})
    await world.subscribe("f1", allocation={"mode": "fixed_lot", "lots": 0.2})
    await world.subscriptions.delete("f1", MASTER, actor="ops", now_ms=world.clock())
    entries = await world.subscriptions.audit("f1")
    assert [e["action"] for e in entries] == ["delete", "put", "put"]
    assert entries[1]["before"]["allocation"]["lots"] == 0.1
    assert entries[1]["after"]["allocation"]["lots"] == 0.2
    assert entries[0]["after"] is None and entries[0]["actor"] == "ops"

    def without_ids(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in row.items() if k != "id"} for row in rows]

    assert without_ids(await world.subscriptions.audit(MASTER)) == without_ids(entries)
