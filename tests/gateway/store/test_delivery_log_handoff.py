"""`DeliveryLog.mark_handed`: the store's side of the local handoff, on every store.

Entries written to a connection straight after their enqueue are claimed as a
read would claim them: only for the account's active session, and the highest
seq handed becomes the ceiling of acknowledgements.
"""

from __future__ import annotations

from tests.gateway.store.world import Node, envelope


async def test_a_claim_by_the_active_session_raises_the_ceiling_of_acknowledgements(
    node: Node,
) -> None:
    await node.open("a1")
    results = await node.log.enqueue_many(
        [("demo-1", f"m{n}", envelope(f"m{n}")) for n in range(3)]
    )
    assert await node.log.ack("demo-1", "a1", 3) == 0  # nothing handed out yet

    assert await node.log.mark_handed([("demo-1", "a1", results[-1].seq or 0)]) == [True]

    assert await node.log.ack("demo-1", "a1", 3) == 3
    assert await node.log.pending_count("demo-1") == (0, 0)


async def test_a_claim_never_lowers_the_ceiling(node: Node) -> None:
    await node.open("a1")
    await node.log.enqueue_many([("demo-1", f"m{n}", envelope(f"m{n}")) for n in range(3)])
    await node.log.read("demo-1", "a1", after_seq=0)

    assert await node.log.mark_handed([("demo-1", "a1", 1)]) == [True]

    assert await node.log.ack("demo-1", "a1", 3) == 3


async def test_a_preempted_or_pending_session_claims_nothing_and_raises_nothing(
    node: Node,
) -> None:
    await node.open("a1")
    await node.log.enqueue("demo-1", "m1", envelope("m1"))
    await node.open("a2")  # preempts a1
    await node.open("p1", authenticated=False)  # pending

    claims = await node.log.mark_handed(
        [("demo-1", "a1", 1), ("demo-1", "p1", 1), ("demo-1", "zz", 1)]
    )

    assert claims == [False, False, False]
    assert await node.log.ack("demo-1", "a2", 10**6) == 0


async def test_claims_of_many_accounts_go_in_one_call_in_order(node: Node) -> None:
    for n in range(4):
        await node.open(f"s{n}", account_id=f"acc-{n}")
        await node.log.enqueue(f"acc-{n}", "m", envelope("m"))

    claims = await node.log.mark_handed(
        [(f"acc-{n}", f"s{n}" if n % 2 else "nope", 1) for n in range(4)]
    )

    assert claims == [False, True, False, True]
