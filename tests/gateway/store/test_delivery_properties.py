"""Property: any history of enqueue / ack / activation / close keeps the log honest.

Whatever happens, a seq never names two messages, an active session reads the
unacknowledged durable messages in enqueue order with strictly increasing seqs, and
no unacknowledged durable message is ever lost.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field

import orjson
import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import FencingError
from gateway.store.keys import RedisKeys
from tests.gateway.store.world import Node, envelope

ACCOUNT = "demo-1"

OPS = st.lists(
    st.one_of(
        st.just(("enqueue", 0)),
        st.just(("duplicate", 0)),
        st.just(("next_seq", 0)),
        st.tuples(st.just("ack"), st.integers(0, 6)),
        st.just(("activate", 0)),
        st.tuples(st.just("promote"), st.integers(0, 6)),
        st.just(("close", 0)),
    ),
    max_size=25,
)


@dataclass
class Model:
    """What the log must contain, and every seq ever seen with its owner."""

    unacked: list[str] = field(default_factory=list)  #: durable ids, enqueue order
    owner: dict[int, str] = field(default_factory=dict)  #: seq -> message it named
    active: str | None = None  #: the session that should be active
    counter: int = 0  #: for fresh ids

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def saw(self, seq: int, name: str) -> None:
        assert self.owner.setdefault(seq, name) == name, f"seq {seq} reused"


async def pick_ack(node: Node, model: Model, arg: int) -> int:
    """Read as the active session, pick the `arg`-th seq and forget what it acks."""
    assert model.active is not None
    entries = await node.log.read(ACCOUNT, model.active, after_seq=0, limit=10_000)
    ack_seq = entries[arg - 1].seq if 0 < arg <= len(entries) else 0
    acked = {orjson.loads(e.body)["id"] for e in entries if e.seq <= ack_seq}
    model.unacked = [i for i in model.unacked if i not in acked]
    return ack_seq


async def apply(node: Node, model: Model, op: str, arg: int) -> None:
    if op == "enqueue":
        envelope_id = model.fresh("m")
        result = await node.log.enqueue(ACCOUNT, envelope_id, envelope(envelope_id))
        assert (result.seq is not None) == (model.active is not None)
        if result.seq is not None:
            model.saw(result.seq, envelope_id)
        model.unacked.append(envelope_id)
    elif op == "duplicate" and model.unacked:
        envelope_id = model.unacked[arg % len(model.unacked)]
        assert (await node.log.enqueue(ACCOUNT, envelope_id, envelope(envelope_id))).duplicate
    elif op == "next_seq":
        model.saw(await node.log.next_seq(ACCOUNT), model.fresh("direct"))
    elif op == "ack" and model.active is not None:
        ack_seq = await pick_ack(node, model, arg)
        await node.log.ack(ACCOUNT, model.active, ack_seq)
    elif op == "ack":
        with pytest.raises(FencingError):
            await node.log.ack(ACCOUNT, "never-active", 1)
    elif op == "activate":
        model.active = model.fresh("a")
        await node.open(model.active, account_id=ACCOUNT)
    elif op == "promote":
        sid = model.fresh("p")
        await node.open(sid, account_id=ACCOUNT, authenticated=False, max_pending=100)
        if model.active is not None:  # the EA reports what it processed before
            await node.sessions.remember_ack(sid, await pick_ack(node, model, arg))
        opening = [envelope(f"open-{sid}", "SessionStateChange")]
        assert await node.sessions.promote(sid, now_ms=2_000, opening_messages=opening)
        model.active = sid
        first = await node.log.read(ACCOUNT, sid, after_seq=0, limit=1)
        assert orjson.loads(first[0].body)["id"] == f"open-{sid}", "opening messages go first"
    elif op == "close" and model.active is not None:
        await node.sessions.close_session(model.active, reason="heartbeat_timeout", now_ms=3_000)
        model.active = None


async def check(node: Node, model: Model) -> None:
    numbered, held = await node.log.pending_count(ACCOUNT)
    if model.active is None:
        assert numbered + held >= len(model.unacked)
        return
    assert held == 0
    entries = await node.log.read(ACCOUNT, model.active, after_seq=0, limit=10_000)
    seqs = [e.seq for e in entries]
    assert seqs == sorted(set(seqs)), "seqs must strictly increase"
    read_ids = [orjson.loads(e.body)["id"] for e in entries]
    for seq, envelope_id in zip(seqs, read_ids, strict=True):
        model.saw(seq, envelope_id)
    assert [i for i in read_ids if not i.startswith("open-")] == model.unacked
    assert all(i == f"open-{model.active}" for i in read_ids if i.startswith("open-"))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
async def test_random_histories_keep_seqs_unique_and_lose_no_unacked_message(
    redis_client: aioredis.Redis, keys: RedisKeys, ops: list[tuple[str, int]]
) -> None:
    # a fresh namespace per example, under the test's prefix (cleaned up by `keys`)
    namespace = dataclasses.replace(keys, prefix=f"{keys.prefix}:{secrets.token_hex(3)}")
    node = Node.over(redis_client, namespace, max_log_entries=10_000)
    model = Model()
    for op, arg in ops:
        await apply(node, model, op, arg)
        await check(node, model)
