"""Contract of `DeliveryLog.read_many`: many accounts' reply seqs and log reads in one
call, each read exactly as `next_seq` then `read` would be."""

from __future__ import annotations

import orjson
import pytest

from gateway.store.delivery_log import READ_CHUNK
from gateway.store.records import LogEntry, LogRead
from tests.gateway.store.world import Node, envelope


def ids(entries: list[LogEntry]) -> list[str]:
    return [orjson.loads(e.body)["id"] for e in entries]


async def test_read_many_reads_each_account_as_read_would_in_request_order(node: Node) -> None:
    await node.open("a1", account_id="acc-1")
    await node.open("b1", account_id="acc-2")
    await node.log.enqueue_many(
        [
            ("acc-1", "m1", envelope("m1")),
            ("acc-2", "n1", envelope("n1")),
            ("acc-1", "m2", envelope("m2")),
        ]
    )

    second, first = await node.log.read_many(
        [LogRead("acc-2", "b1", after_seq=0), LogRead("acc-1", "a1", after_seq=0)]
    )

    assert ids(first.entries) == ["m1", "m2"] and ids(second.entries) == ["n1"]
    assert first.entries == await node.log.read("acc-1", "a1", after_seq=0)
    assert first.reply_seqs == () and second.reply_seqs == ()


async def test_read_many_reads_only_after_the_given_seq_and_up_to_the_limit(node: Node) -> None:
    await node.open("a1", account_id="acc-1")
    queued = await node.log.enqueue_many([("acc-1", f"m{i}", envelope(f"m{i}")) for i in range(5)])
    after = queued[0].seq
    assert after is not None

    [batch] = await node.log.read_many([LogRead("acc-1", "a1", after_seq=after, limit=2)])

    assert ids(batch.entries) == ["m1", "m2"]


async def test_reply_seqs_come_before_the_read_so_every_lower_logged_seq_is_in_the_batch(
    node: Node,
) -> None:
    await node.open("a1", account_id="acc-1")
    logged = await node.log.enqueue("acc-1", "m1", envelope("m1"))

    [batch] = await node.log.read_many([LogRead("acc-1", "a1", after_seq=0, replies=3)])

    assert logged.seq is not None
    assert batch.reply_seqs == (logged.seq + 1, logged.seq + 2, logged.seq + 3)
    assert [e.seq for e in batch.entries] == [logged.seq]
    assert await node.log.next_seq("acc-1") == logged.seq + 4  # never handed out twice


async def test_a_session_that_is_not_active_gets_reply_seqs_but_no_log_entries(
    node: Node,
) -> None:
    await node.open("p1", account_id="acc-1", authenticated=False)
    await node.log.enqueue("acc-1", "m1", envelope("m1"))  # held: no active session

    pending, not_read = await node.log.read_many(
        [
            LogRead("acc-1", "p1", after_seq=0, replies=1),
            LogRead("acc-1", "p1", after_seq=0, replies=0, read=False),
        ]
    )

    assert len(pending.reply_seqs) == 1 and pending.entries == []
    assert not_read.reply_seqs == () and not_read.entries == []


async def test_read_many_records_the_read_seq_that_clamps_acknowledgements(node: Node) -> None:
    await node.open("a1", account_id="acc-1")
    first = await node.log.enqueue("acc-1", "m1", envelope("m1"))
    [batch] = await node.log.read_many([LogRead("acc-1", "a1", after_seq=0)])
    await node.log.enqueue("acc-1", "m2", envelope("m2"))  # never read

    acked = await node.log.ack("acc-1", "a1", 1_000)

    assert [e.seq for e in batch.entries] == [first.seq]
    assert acked == first.seq  # clamped: m2 was never handed to a transport
    assert ids(await node.log.read("acc-1", "a1", after_seq=acked)) == ["m2"]


@pytest.mark.parametrize("accounts", [READ_CHUNK + 3])
async def test_read_many_beyond_one_chunk_keeps_every_result_in_order(
    node: Node, accounts: int
) -> None:
    names = [f"acc-{i}" for i in range(accounts)]
    for name in names:
        await node.open(f"s-{name}", account_id=name)
    await node.log.enqueue_many([(name, f"m-{name}", envelope(f"m-{name}")) for name in names])

    batches = await node.log.read_many([LogRead(n, f"s-{n}", after_seq=0) for n in names])

    assert [ids(b.entries) for b in batches] == [[f"m-{n}"] for n in names]
