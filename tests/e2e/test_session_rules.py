"""Every numbered session rule of the wire contract, over the wire, on both transports."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest
import redis.asyncio as aioredis
import websockets

from tests.e2e.harness import EA, Admin, Server, envelope, heartbeat, init_request, order_command

INTENT = {
    "action": "open",
    "ticket": 11,
    "symbol": "EURUSD",
    "side": "buy",
    "order_type": "market",
    "volume": 0.1,
    "price": 1.1,
}


async def authenticated_ea(server: Server, admin: Admin, account: str) -> EA:
    ea = EA(server.base_url, account, key=await admin.provision(account))
    await ea.create_session()
    assert ea.session["state"] == "authenticated"
    return ea


# ---- rule 1 ------------------------------------------------------------------------


async def test_new_key_opens_a_pending_session_that_withholds_init_ack(
    server: Server, admin: Admin
) -> None:
    ea = EA(server.base_url, "acct-pending")
    await ea.create_session()
    assert ea.session["state"] == "pending"
    assert ea.session["heartbeat_interval_s"] == 1
    assert ea.session["heartbeat_timeout_s"] == 3
    async with ea.websocket(server.ws_url) as ws:
        await ws.send(init_request())
        await ws.send(heartbeat())
        await ws.send(b"{broken")  # an ErrorAlert is only logged for a pending session
        await ws.expect_silence(0.7)


async def test_pending_poll_session_gets_no_messages(server: Server, admin: Admin) -> None:
    ea = EA(server.base_url, "acct-pending-poll")
    await ea.create_session()
    await admin.queue("acct-pending-poll", order_command())
    response = await ea.exchange([init_request(), heartbeat()], wait_ms=300)
    assert response.status_code == 200
    assert response.json() == {"state": "pending", "messages": []}


# ---- rule 2 ------------------------------------------------------------------------


async def test_promotion_sends_state_change_then_init_ack_then_held_commands(
    server: Server, admin: Admin
) -> None:
    ea = EA(server.base_url, "acct-promote")
    await ea.create_session()
    await admin.queue("acct-promote", order_command(ticket=1, command_id="c-1"))
    await admin.queue("acct-promote", order_command(ticket=2, command_id="c-2"))
    async with ea.websocket(server.ws_url) as ws:
        await ws.send(init_request())
        await ws.expect_silence(0.3)
        response = await admin.approve(await admin.pending_key_id("acct-promote"))
        assert response.status_code == 200, response.text
        received = [await ws.recv() for _ in range(4)]
    assert [m["type"] for m in received] == [
        "SessionStateChange",
        "InitAck",
        "OrderCommand",
        "OrderCommand",
    ]
    assert received[0]["payload"]["state"] == "authenticated"
    assert received[1]["payload"]["session_id"] == ea.session["session_id"]
    assert [m["payload"]["command_id"] for m in received[2:]] == ["c-1", "c-2"]
    seqs = [m["seq"] for m in received]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4


async def test_held_intents_are_acted_on_in_order_after_promotion(
    server: Server, admin: Admin, redis_cleanup: aioredis.Redis, prefix: str
) -> None:
    await admin.put_account("acct-master", "master")
    ea = EA(server.base_url, "acct-master")
    await ea.create_session()
    intents = [envelope("OrderIntent", {**INTENT, "ticket": t}) for t in (1, 2, 3)]
    assert (await ea.exchange(intents)).status_code == 200
    assert await redis_cleanup.xlen(f"{prefix}:intents") == 0
    await admin.approve(await admin.pending_key_id("acct-master"))
    entries = await redis_cleanup.xrange(f"{prefix}:intents")
    tickets = [orjson.loads(fields[b"body"])["payload"]["ticket"] for _, fields in entries]
    assert tickets == [1, 2, 3]


async def test_pending_session_is_promoted_on_heartbeat_after_approval_by_poll(
    server: Server, admin: Admin
) -> None:
    ea = EA(server.base_url, "acct-poll-promote")
    await ea.create_session()
    await ea.exchange([init_request()])
    await admin.approve(await admin.pending_key_id("acct-poll-promote"))
    response = await ea.exchange([heartbeat()], wait_ms=2000)
    body = response.json()
    assert body["state"] == "authenticated"
    assert [m["type"] for m in body["messages"]][:2] == ["SessionStateChange", "InitAck"]


# ---- rule 3 ------------------------------------------------------------------------


async def test_silent_websocket_session_is_closed_with_4002_after_the_timeout(
    server: Server, admin: Admin
) -> None:
    ea = await authenticated_ea(server, admin, "acct-silent")
    loop = asyncio.get_running_loop()
    async with ea.websocket(server.ws_url) as ws:
        started = loop.time()
        notice = await ws.recv_type("ShutdownNotice", timeout=6)
        elapsed = loop.time() - started
        assert notice["payload"]["reason"] == "heartbeat_timeout"
        assert await ws.wait_closed() == 4002
    assert 2.5 < elapsed < 4.5


async def test_heartbeats_keep_the_session_alive(server: Server, admin: Admin) -> None:
    ea = await authenticated_ea(server, admin, "acct-alive")
    async with ea.websocket(server.ws_url) as ws:
        for _ in range(5):
            await ws.send(heartbeat())
            await asyncio.sleep(1)
        await ws.send(init_request())
        assert (await ws.recv_type("InitAck"))["type"] == "InitAck"


async def test_silent_poll_session_answers_410_heartbeat_timeout(
    server: Server, admin: Admin
) -> None:
    ea = await authenticated_ea(server, admin, "acct-silent-poll")
    await asyncio.sleep(3.6)
    response = await ea.exchange()
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "heartbeat_timeout"


# ---- rule 4 ------------------------------------------------------------------------


async def test_new_authenticated_session_preempts_the_old_one(server: Server, admin: Admin) -> None:
    key = await admin.provision("acct-preempt")
    first = EA(server.base_url, "acct-preempt", key=key)
    await first.create_session()
    async with first.websocket(server.ws_url) as ws:
        await ws.send(heartbeat())
        second = EA(server.base_url, "acct-preempt", key=key)
        await second.create_session()
        notice = await ws.recv_type("ShutdownNotice")
        assert notice["payload"]["reason"] == "preempted"
        assert await ws.wait_closed() == 4001
    assert (await first.exchange()).json()["error"]["code"] == "preempted"
    async with first.websocket(server.ws_url) as ws:
        assert await ws.wait_closed() == 4001


async def test_pending_session_never_preempts(server: Server, admin: Admin) -> None:
    owner = await authenticated_ea(server, admin, "acct-nopreempt")
    intruder = EA(server.base_url, "acct-nopreempt")
    await intruder.create_session()
    assert intruder.session["state"] == "pending"
    response = await owner.exchange([heartbeat()])
    assert response.status_code == 200 and response.json()["state"] == "authenticated"


# ---- rule 5 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "code", "ref_id"),
    [
        ("{not json", "malformed_json", None),
        ('{"type":"Nope","id":"x-1","ts":1,"payload":{}}', "unknown_type", "x-1"),
        ('{"type":"StatusHeartbeat","id":"x-2","ts":1,"payload":{}}', "validation_error", "x-2"),
    ],
)
async def test_bad_frame_is_dropped_with_an_alert_and_the_connection_stays(
    server: Server, admin: Admin, frame: str, code: str, ref_id: str | None
) -> None:
    ea = await authenticated_ea(server, admin, "acct-bad")
    async with ea.websocket(server.ws_url) as ws:
        await ws.send(frame)
        alert = await ws.recv_type("ErrorAlert")
        assert alert["payload"]["code"] == code
        assert alert["payload"].get("ref_id") == ref_id
        await ws.send(init_request())
        assert (await ws.recv_type("InitAck"))["payload"]["session_id"]


async def test_frame_over_64_kib_closes_with_1009(server: Server, admin: Admin) -> None:
    ea = await authenticated_ea(server, admin, "acct-big")
    async with ea.websocket(server.ws_url) as ws:
        await ws.send("x" * (64 * 1024 + 1))
        assert await ws.wait_closed() == 1009


async def test_bad_poll_message_is_dropped_and_the_rest_are_processed(
    server: Server, admin: Admin
) -> None:
    ea = await authenticated_ea(server, admin, "acct-bad-poll")
    bad = {"type": "OrderIntent", "id": "bad-1", "ts": 1, "payload": {"action": "open"}}
    response = await ea.exchange([bad, init_request()])
    types = [m["type"] for m in response.json()["messages"]]
    assert types == ["ErrorAlert", "InitAck"]
    assert response.json()["messages"][0]["payload"]["ref_id"] == "bad-1"


# ---- closing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("DELETE", ""), ("POST", "/close")],  # POST: MT4's WebRequest cannot send DELETE
)
async def test_ea_closes_its_own_session_with_a_shutdown_notice(
    server: Server, admin: Admin, method: str, suffix: str
) -> None:
    ea = await authenticated_ea(server, admin, f"acct-close-{method.lower()}")
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        response = await client.request(
            method, f"/ea-gateway/v1/sessions/{ea.session['session_id']}{suffix}", headers=ea.auth
        )
        again = await client.request(
            method, f"/ea-gateway/v1/sessions/{ea.session['session_id']}{suffix}", headers=ea.auth
        )
    assert response.status_code == 200
    assert response.json()["state"] == "closed"
    assert response.json()["messages"][0]["type"] == "ShutdownNotice"
    assert again.status_code == 410
    assert (await ea.exchange()).status_code == 410


async def test_ea_cannot_close_another_session_through_the_post_route(
    server: Server, admin: Admin
) -> None:
    mine = await authenticated_ea(server, admin, "acct-close-mine")
    other = await authenticated_ea(server, admin, "acct-close-other")
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        response = await client.post(
            f"/ea-gateway/v1/sessions/{other.session['session_id']}/close", headers=mine.auth
        )
    assert response.status_code == 403
    assert (await other.exchange()).status_code == 200


async def test_gateway_confirms_a_recorded_report_with_a_receipt_when_asked(
    server: Server, admin: Admin
) -> None:
    await admin.put_account("acct-receipts", "follower")
    ea = await authenticated_ea(server, admin, "acct-receipts")
    init = init_request()
    init["payload"]["receipts"] = True
    report = envelope("ExecutionReport", {"command_id": "c-r1", "status": "filled", "ticket": 7})
    async with ea.websocket(server.ws_url) as ws:
        await ws.send(init)
        await ws.recv_type("InitAck")
        await ws.send(report)
        receipt = await ws.recv_type("Receipt")
        await ws.send(report)  # resent after a doubt: recorded once, confirmed again
        again = await ws.recv_type("Receipt")
    assert receipt["payload"]["ids"] == again["payload"]["ids"] == [report["id"]]
    assert isinstance(receipt["seq"], int)


async def test_gateway_sends_no_receipt_to_an_ea_that_did_not_ask(
    server: Server, admin: Admin
) -> None:
    await admin.put_account("acct-no-receipts", "follower")
    ea = await authenticated_ea(server, admin, "acct-no-receipts")
    report = envelope("ExecutionReport", {"command_id": "c-n1", "status": "filled", "ticket": 7})
    async with ea.websocket(server.ws_url) as ws:
        await ws.send(init_request())
        await ws.recv_type("InitAck")
        await ws.send(report)
        await ws.send(heartbeat())
        with pytest.raises(TimeoutError):
            await ws.recv_type("Receipt", timeout=1.0)


async def test_permessage_deflate_is_never_negotiated(server: Server, admin: Admin) -> None:
    ea = await authenticated_ea(server, admin, "acct-deflate")
    async with websockets.connect(
        server.ws_url, additional_headers=ea.auth, compression="deflate"
    ) as ws:
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
