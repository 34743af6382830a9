"""Reconnect policy: close codes, 410 reasons, backoff (pure, no loop)."""

from __future__ import annotations

import pytest

from gateway.client.policy import Backoff, CloseInfo, Reconnect, ReconnectPolicy, Stop


def policy(rand: float = 0.5, **kwargs: object) -> ReconnectPolicy:
    return ReconnectPolicy(Backoff(base_s=1.0, factor=2.0, cap_s=8.0), rand=lambda: rand, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("info", "reason"),
    [
        (CloseInfo.websocket(4001), "preempted"),
        (CloseInfo.websocket(4001, "preempted"), "preempted"),
        (CloseInfo.websocket(4003), "auth_failed"),
        (CloseInfo.http(410, "preempted"), "preempted"),
        (CloseInfo.http(410, "key_rejected"), "key_rejected"),
        (CloseInfo.http(410, "key_revoked"), "key_revoked"),
        (CloseInfo.http(401, "invalid_token"), "invalid_token"),
        (CloseInfo.http(401, "invalid_credentials"), "invalid_credentials"),
        (CloseInfo.http(403, "forbidden"), "forbidden"),
        (CloseInfo.http(422, "validation_error"), "validation_error"),
        (CloseInfo.by_client(), "client_shutdown"),
    ],
)
def test_client_stops_and_never_fights_when_the_close_is_terminal(
    info: CloseInfo, reason: str
) -> None:
    decision = policy().decide(info)
    assert isinstance(decision, Stop)
    assert decision.reason == reason


@pytest.mark.parametrize(
    "info",
    [
        CloseInfo.websocket(4002),
        CloseInfo.http(410, "heartbeat_timeout"),
        CloseInfo.websocket(None),
        CloseInfo.websocket(1000),
        CloseInfo.websocket(1009),
        CloseInfo.network("ConnectError: refused"),
        CloseInfo.http(500, "internal_error"),
    ],
)
def test_client_reconnects_with_backoff_when_the_close_is_not_terminal(info: CloseInfo) -> None:
    decision = policy(rand=0.5).decide(info)
    assert decision == Reconnect(0.75, decision.reason)  # base 1 s: 0.5 + 0.5 * 0.5


@pytest.mark.parametrize(
    "info",
    [
        CloseInfo.websocket(4004).with_notice("server_shutdown", 3.0),
        CloseInfo.http(410, "server_shutdown", None).with_notice("server_shutdown", 3.0),
        CloseInfo.http(410, "store_unavailable", 3.0),
        CloseInfo.http(410, "closed_by_operator", 3.0),
    ],
)
def test_client_reconnects_after_reconnect_after_s_when_the_server_shuts_down(
    info: CloseInfo,
) -> None:
    decision = policy(rand=0.0).decide(info)
    assert isinstance(decision, Reconnect)
    assert decision.delay_s == 3.0


def test_client_spreads_a_shutdown_reconnect_by_the_jitter_fraction() -> None:
    decision = policy(rand=1.0, shutdown_jitter=0.5).decide(CloseInfo.websocket(4004))
    assert decision == Reconnect(1.5, "close 4004")  # default 1 s after, +50 %


def test_client_does_not_count_a_planned_shutdown_as_a_failure() -> None:
    rules = policy(rand=0.0)
    rules.decide(CloseInfo.network("down"))
    rules.decide(CloseInfo.websocket(4004))
    assert rules.failures == 0


def test_client_waits_at_least_retry_after_when_rate_limited() -> None:
    decision = policy(rand=0.0).decide(CloseInfo.http(429, "rate_limited", 7.0))
    assert isinstance(decision, Reconnect)
    assert decision.delay_s == 7.0


def test_client_backs_off_at_least_a_second_after_a_policy_close() -> None:
    decision = ReconnectPolicy(Backoff(base_s=0.1), rand=lambda: 0.0).decide(
        CloseInfo.websocket(1008)
    )
    assert isinstance(decision, Reconnect)
    assert decision.delay_s == 1.0


def test_backoff_doubles_per_consecutive_failure_up_to_the_cap() -> None:
    rules = policy(rand=1.0)
    delays = [rules.decide(CloseInfo.network("x")) for _ in range(6)]
    assert [d.delay_s for d in delays if isinstance(d, Reconnect)] == [1, 2, 4, 8, 8, 8]


@pytest.mark.parametrize(("rand", "expected"), [(0.0, 2.0), (0.5, 3.0), (0.999, 3.998)])
def test_backoff_jitter_keeps_the_delay_between_half_and_full(rand: float, expected: float) -> None:
    assert Backoff(base_s=1.0).delay(2, rand) == pytest.approx(expected)


def test_client_restarts_the_backoff_once_a_session_is_established() -> None:
    rules = policy(rand=1.0)
    for _ in range(3):
        rules.decide(CloseInfo.network("x"))
    rules.established()
    assert rules.decide(CloseInfo.network("x")) == Reconnect(1.0, "x")


def test_client_gives_up_after_max_attempts() -> None:
    rules = policy(max_attempts=2)
    assert isinstance(rules.decide(CloseInfo.network("x")), Reconnect)
    assert isinstance(rules.decide(CloseInfo.network("x")), Reconnect)
    assert rules.decide(CloseInfo.network("x")) == Stop("gave_up", None)


def test_close_info_maps_410_reasons_to_their_websocket_codes() -> None:
    assert CloseInfo.http(410, "preempted").code == 4001
    assert CloseInfo.http(410, "heartbeat_timeout").code == 4002
    assert CloseInfo.http(410, "key_revoked").code == 4003
    assert CloseInfo.http(410, "server_shutdown").code == 4004
    assert CloseInfo.http(401, "invalid_token").code == 4003
    assert CloseInfo.http(503, "store_unavailable", 5.0).code == 4004


def test_a_shutdown_notice_completes_a_bare_close() -> None:
    info = CloseInfo.websocket(4004).with_notice("server_shutdown", 2.5)
    assert (info.reason, info.retry_after_s) == ("server_shutdown", 2.5)
