"""Generate the EA's golden protocol fixtures from the gateway's wire models.

Every fixture is produced here from ``schemas`` (never written by hand), so the
EA's C++-compiled protocol core and the gateway cannot drift apart:

``server/<case>.json``   a server->EA envelope as the gateway encodes it
``server/<case>.expect`` what the EA must decode from it (``key=value`` lines;
                         ``kind=invalid`` for envelopes the models reject)
``client/<case>.kv``     field values the EA's encoder is fed
``client/<case>.json``   the same message built and encoded by the models; the
                         EA's output must parse to an equal model

Run ``.venv/bin/python ea_mql4/tools/gen_fixtures.py [out_dir]``; a test fails
when the committed fixtures differ from a fresh run.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from schemas import (  # noqa: E402
    EnvelopeError,
    ErrorAlert,
    ExecutionReport,
    InitAck,
    InitRequest,
    OrderCommand,
    OrderIntent,
    SessionStateChange,
    Receipt,
    ShutdownNotice,
    StatusHeartbeat,
    SyncSnapshot,
    SyncSnapshotRequest,
    encode_envelope,
    parse_server_envelope,
)
from schemas.envelope import Envelope  # noqa: E402
from schemas.rest import ExchangeResponse, SessionCreated  # noqa: E402

__all__ = ["DEFAULT_OUT", "render_all", "write_all"]

DEFAULT_OUT = REPO / "tests" / "ea_mql4" / "fixtures"
TS = 1763800000123
_MT4_TYPES = {
    ("buy", "market"): 0,
    ("sell", "market"): 1,
    ("buy", "limit"): 2,
    ("sell", "limit"): 3,
    ("buy", "stop"): 4,
    ("sell", "stop"): 5,
}


def num(value: Any) -> str:
    """A number the way the EA prints it: JsonNumber(v, 8)."""
    text = f"{float(value):.8f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def quoted(value: str | None) -> str:
    return json.dumps(value or "", ensure_ascii=False)


# ---------------------------------------------------------------- server -> EA
def expect_lines(env: Envelope) -> list[str]:
    """The decode dump the EA's protocol driver must print for ``env``."""
    p: Any = env.payload  # type: ignore[attr-defined]
    seq = -1 if env.seq is None else env.seq
    lines = [f"kind={env.type}", f"id={quoted(env.id)}", f"ts={env.ts}", f"seq={seq}"]
    if isinstance(env, InitAck):
        lines += [
            f"session_id={quoted(p.session_id)}",
            f"role={quoted(str(p.role))}",
            f"heartbeat_interval_s={num(p.heartbeat_interval_s)}",
            f"heartbeat_timeout_s={num(p.heartbeat_timeout_s or 0)}",
            f"max_snapshot_parts={p.max_snapshot_parts or 0}",
        ]
    elif isinstance(env, SessionStateChange):
        lines += [f"state={quoted(p.state.value)}", f"reason={quoted(p.reason)}"]
    elif isinstance(env, OrderCommand):
        lines += [
            f"command_id={quoted(p.command_id)}",
            f"action={quoted(p.action.value)}",
            f"symbol={quoted(p.symbol)}",
            f"side={quoted(p.side.value)}",
            f"order_type={quoted(p.order_type.value)}",
            f"volume={num(p.volume)}",
            f"master_ticket={p.master_ticket}",
            f"ticket={p.ticket or 0}",
            f"price={num(p.price or 0)}",
            f"sl={num(p.sl or 0)}",
            f"tp={num(p.tp or 0)}",
            f"max_slippage_points={-1 if p.max_slippage_points is None else p.max_slippage_points}",
            f"expires_at={p.expires_at or 0}",
            f"master_account_id={quoted(p.master_account_id)}",
            f"magic={'none' if p.magic is None else p.magic}",
            f"comment={quoted(p.comment)}",
        ]
    elif isinstance(env, SyncSnapshotRequest):
        lines += [f"request_id={quoted(p.request_id)}", f"reason={quoted(p.reason)}"]
    elif isinstance(env, ErrorAlert):
        lines += [
            f"code={quoted(p.code)}",
            f"severity={quoted(p.severity.value)}",
            f"message={quoted(p.message)}",
            f"ref_id={quoted(p.ref_id)}",
            f"retry_after_ms={-1 if p.retry is None or p.retry.after_ms is None else p.retry.after_ms}",
        ]
    elif isinstance(env, Receipt):
        lines += [f"receipt_id={quoted(i)}" for i in p.ids]
    elif isinstance(env, ShutdownNotice):
        after = -1 if p.reconnect_after_s is None else p.reconnect_after_s
        lines += [
            f"reason={quoted(p.reason)}",
            f"reconnect_after_s={num(after)}",
            f"message={quoted(p.message)}",
        ]
    return lines


def _command(cid: str, seq: int, **payload: Any) -> OrderCommand:
    return OrderCommand(id=f"srv-{cid}", ts=TS, seq=seq, payload={"command_id": cid, **payload})


def server_envelopes() -> dict[str, Envelope]:
    """Valid server->EA envelopes, one per case."""
    open_buy = {
        "action": "open",
        "symbol": "EURUSD",
        "side": "buy",
        "order_type": "market",
        "volume": Decimal("0.1"),
        "master_ticket": 1001,
    }
    return {
        "init_ack_master": InitAck(
            id="s-1",
            ts=TS,
            seq=1,
            payload={"session_id": "sess-abc", "role": "master", "heartbeat_interval_s": 5},
        ),
        "init_ack_unassigned_timeout": InitAck(
            id="s-2",
            ts=TS,
            seq=2,
            payload={
                "session_id": "sess-def",
                "role": "unassigned",
                "heartbeat_interval_s": 1.5,
                "heartbeat_timeout_s": 4.5,
                "account_id": "demo-1001",
                "server_time_ms": TS,
                "max_snapshot_parts": 64,
            },
        ),
        "state_change_authenticated": SessionStateChange(
            id="s-3", ts=TS, seq=3, payload={"state": "authenticated", "reason": "key_approved"}
        ),
        "command_open_market_full": _command(
            "c-open-1",
            17,
            **open_buy,
            sl=Decimal("1.0950"),
            tp=Decimal("1.12345"),
            max_slippage_points=30,
            expires_at=TS + 30000,
            master_account_id="master-7",
            magic=20251122,
            comment="copy of #1001",
        ),
        "command_open_minimal": _command("c-open-2", 18, **open_buy),
        "command_close_partial": _command(
            "c-close-1",
            19,
            action="close",
            symbol="USDJPY",
            side="sell",
            order_type="market",
            volume=Decimal("0.03"),
            master_ticket=1002,
            ticket=555001,
        ),
        "command_modify": _command(
            "c-mod-1",
            20,
            action="modify",
            symbol="XAUUSD",
            side="buy",
            order_type="market",
            volume=Decimal("1.25"),
            master_ticket=1003,
            ticket=555002,
            sl=Decimal("2300.5"),
            tp=0,
        ),
        "command_place_pending": _command(
            "c-pp-1",
            21,
            action="place_pending",
            symbol="EURUSD",
            side="sell",
            order_type="limit",
            volume=Decimal("2"),
            master_ticket=1004,
            price=Decimal("1.10500"),
        ),
        "command_cancel_pending": _command(
            "c-cp-1",
            22,
            action="cancel_pending",
            symbol="EURUSD",
            side="buy",
            order_type="stop",
            volume=Decimal("0.5"),
            master_ticket=1005,
            ticket=555003,
        ),
        "command_unicode_comment": _command(
            "c-uni-1", 23, **{**open_buy, "master_ticket": 1006}, comment='Grüße € "q" \\ 日本'
        ),
        "snapshot_request": SyncSnapshotRequest(
            id="s-4", ts=TS, seq=24, payload={"request_id": "r-1", "reason": "integrity_check"}
        ),
        "error_alert": ErrorAlert(
            id="s-5",
            ts=TS,
            seq=25,
            payload={
                "code": "validation_error",
                "severity": "warning",
                "message": "OrderIntent failed validation",
                "ref_id": "i-xyz-3",
                "retry": {"policy": "none"},
            },
        ),
        "error_alert_overloaded": ErrorAlert(
            id="s-5o",
            ts=TS,
            seq=25,
            payload={
                "code": "overloaded",
                "severity": "warning",
                "message": "the copier backlog is full; send it again later",
                "ref_id": "i-o-7",
                "retry": {"policy": "resend_after", "after_ms": 2500},
            },
        ),
        "error_alert_details": ErrorAlert(
            id="s-5d",
            ts=TS,
            seq=25,
            payload={
                "code": "validation_error",
                "severity": "warning",
                "message": "OrderIntent failed validation",
                "ref_id": "i-xyz-4",
                "details": [
                    {
                        "loc": ["payload", "volume"],
                        "msg": "Input should be greater than 0",
                        "type": "greater_than",
                    },
                    {"loc": ["payload", "symbol"], "msg": "Field required", "type": "missing"},
                ],
            },
        ),
        "shutdown_preempted": ShutdownNotice(
            id="s-6", ts=TS, seq=26, payload={"reason": "preempted"}
        ),
        "receipt": Receipt(id="s-8", ts=TS, seq=27, payload={"ids": ["ea-1a-3", "ea-1a-4"]}),
        "shutdown_server": ShutdownNotice(
            id="s-7",
            ts=TS,
            payload={"reason": "server_shutdown", "reconnect_after_s": 2.5, "message": "deploy"},
        ),
    }


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(obj: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = obj
        for part in parents:
            target = target[part]
        del target[last]

    return mutate


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(obj: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = obj
        for part in parents:
            target = target[part]
        target[last] = value

    return mutate


def invalid_envelopes(valid: dict[str, Envelope]) -> dict[str, dict[str, Any]]:
    """Mutations of valid envelopes that the models reject; the EA must reject them too."""
    base_cmd = json.loads(encode_envelope(valid["command_open_market_full"]))
    close_cmd = json.loads(encode_envelope(valid["command_close_partial"]))
    ack = json.loads(encode_envelope(valid["init_ack_master"]))
    alert = json.loads(encode_envelope(valid["error_alert"]))
    cases: dict[str, tuple[dict[str, Any], Callable[[dict[str, Any]], None]]] = {}
    for field in (
        "command_id",
        "action",
        "symbol",
        "side",
        "order_type",
        "volume",
        "master_ticket",
    ):
        cases[f"invalid_command_without_{field}"] = (base_cmd, _drop(f"payload.{field}"))
    cases["invalid_command_close_without_ticket"] = (close_cmd, _drop("payload.ticket"))
    cases["invalid_command_zero_volume"] = (base_cmd, _set("payload.volume", 0))
    cases["invalid_command_bad_side"] = (base_cmd, _set("payload.side", "long"))
    cases["invalid_command_bad_action"] = (base_cmd, _set("payload.action", "flip"))
    cases["invalid_unknown_type"] = (base_cmd, _set("type", "Teleport"))
    cases["invalid_without_id"] = (base_cmd, _drop("id"))
    cases["invalid_without_ts"] = (base_cmd, _drop("ts"))
    cases["invalid_without_payload"] = (base_cmd, _drop("payload"))
    cases["invalid_init_ack_without_heartbeat"] = (ack, _drop("payload.heartbeat_interval_s"))
    cases["invalid_error_alert_bad_severity"] = (alert, _set("payload.severity", "fatal"))
    out: dict[str, dict[str, Any]] = {}
    for name, (source, mutate) in cases.items():
        obj = copy.deepcopy(source)
        mutate(obj)
        try:
            parse_server_envelope(obj)
        except EnvelopeError:
            out[name] = obj
        else:  # pragma: no cover - the generator guards its own premise
            raise AssertionError(f"{name}: the models accept this envelope")
    return out


# ---------------------------------------------------------------- EA -> server
def _row(
    ticket: int, symbol: str, side: str, otype: str, volume: str, price: str, **kw: Any
) -> dict[str, Any]:
    return {
        "ticket": ticket,
        "symbol": symbol,
        "side": side,
        "order_type": otype,
        "volume": Decimal(volume),
        "price": Decimal(price),
        **kw,
    }


def client_cases() -> dict[str, tuple[list[str], Envelope]]:
    """Each case: the EA-side input lines (``.kv``) and the model-built envelope."""
    cases: dict[str, tuple[list[str], Envelope]] = {}

    def head(env_type: str, ident: str) -> list[str]:
        return [f"type={env_type}", f"id={ident}", f"ts={TS}"]

    account = {
        "balance": Decimal("10000.5"),
        "equity": Decimal("9950.25"),
        "currency": "USD",
        "leverage": 100,
    }
    symbols = [
        ("EURUSD", 5, "0.00001", "100000", "0.01", "0.01", "100"),
        ("XAUUSD", 2, "0.01", "100", "0.01", "0.01", "50"),
    ]
    kv = [
        *head("InitRequest", "i-1"),
        "ack_seq=41",
        "balance=10000.5",
        "equity=9950.25",
        "currency=USD",
        "leverage=100",
    ]
    kv += ["symbol=" + "|".join(str(x) for x in s) for s in symbols]
    cases["init_request"] = (
        kv,
        InitRequest(
            id="i-1",
            ts=TS,
            payload={
                "ack_seq": 41,
                "account": account,
                "symbols": [
                    {
                        "symbol": s[0],
                        "digits": s[1],
                        "point": Decimal(s[2]),
                        "contract_size": Decimal(s[3]),
                        "lot_step": Decimal(s[4]),
                        "min_lot": Decimal(s[5]),
                        "max_lot": Decimal(s[6]),
                    }
                    for s in symbols
                ],
            },
        ),
    )
    cases["heartbeat"] = (
        [
            *head("StatusHeartbeat", "i-2"),
            "ack_seq=7",
            "balance=1000",
            "equity=990.5",
            "margin_level=1234.56",
        ],
        StatusHeartbeat(
            id="i-2",
            ts=TS,
            payload={
                "ack_seq": 7,
                "balance": Decimal("1000"),
                "equity": Decimal("990.5"),
                "margin_level": Decimal("1234.56"),
            },
        ),
    )
    intents: dict[str, dict[str, Any]] = {
        "intent_open": {
            "action": "open",
            "ticket": 1001,
            "symbol": "EURUSD",
            "side": "buy",
            "order_type": "market",
            "volume": "0.1",
            "price": "1.10012",
            "sl": "1.0950",
            "tp": "1.12345",
            "magic": 7,
            "comment": "manual",
        },
        "intent_close_partial": {
            "action": "close",
            "ticket": 1001,
            "symbol": "EURUSD",
            "side": "buy",
            "order_type": "market",
            "volume": "0.03",
            "price": "1.10111",
            "new_ticket": 1010,
        },
        "intent_modify": {
            "action": "modify",
            "ticket": 1002,
            "symbol": "XAUUSD",
            "side": "sell",
            "order_type": "market",
            "volume": "1.25",
            "price": "2310.55",
            "sl": "2330",
            "tp": "2290.1",
        },
        "intent_place_pending": {
            "action": "place_pending",
            "ticket": 1003,
            "symbol": "USDJPY",
            "side": "sell",
            "order_type": "stop",
            "volume": "2",
            "price": "149.123",
            "comment": 'Grüße "q"',
        },
        "intent_cancel_pending": {
            "action": "cancel_pending",
            "ticket": 1003,
            "symbol": "USDJPY",
            "side": "sell",
            "order_type": "stop",
            "volume": "2",
            "price": "149.123",
        },
    }
    for name, fields in intents.items():
        payload = {
            k: (Decimal(v) if k in ("volume", "price", "sl", "tp") else v)
            for k, v in fields.items()
        }
        ident = f"i-{name}"
        cases[name] = (
            head("OrderIntent", ident) + [f"{k}={v}" for k, v in fields.items()],
            OrderIntent(id=ident, ts=TS, payload=payload),
        )
    reports: dict[str, dict[str, Any]] = {
        "report_filled": {
            "command_id": "c-open-1",
            "status": "filled",
            "ticket": 555001,
            "symbol": "EURUSD",
            "volume": "0.1",
            "price": "1.10015",
            "executed_at_ms": TS,
        },
        "report_closed_partial": {
            "command_id": "c-close-1",
            "status": "closed",
            "ticket": 555001,
            "volume": "0.03",
            "price": "1.1011",
            "new_ticket": 555009,
        },
        "report_rejected": {
            "command_id": "c-open-2",
            "status": "rejected",
            "error_code": 134,
            "error_message": "not enough money",
        },
        "report_expired": {"command_id": "c-open-3", "status": "expired"},
    }
    for name, fields in reports.items():
        payload = {k: (Decimal(v) if k in ("volume", "price") else v) for k, v in fields.items()}
        ident = f"i-{name}"
        cases[name] = (
            head("ExecutionReport", ident) + [f"{k}={v}" for k, v in fields.items()],
            ExecutionReport(id=ident, ts=TS, payload=payload),
        )
    rows = [
        _row(
            2001, "EURUSD", "buy", "market", "0.1", "1.1", sl=Decimal("1.09"), magic=0, comment="a"
        ),
        _row(2002, "XAUUSD", "sell", "market", "1.5", "2300.25", tp=Decimal("2200"), magic=5),
        _row(2003, "USDJPY", "buy", "limit", "0.2", "148.5", magic=0),
        _row(2004, "EURUSD", "sell", "stop", "0.3", "1.0900", sl=Decimal("1.1"), magic=9),
    ]
    kv = [*head("SyncSnapshot", "i-snap"), "balance=10000", "equity=10100.75", "request_id=r-1"]
    for r in rows:
        kv.append(
            "row="
            + "|".join(
                str(x)
                for x in (
                    r["ticket"],
                    r["symbol"],
                    _MT4_TYPES[(r["side"], r["order_type"])],
                    r["volume"],
                    r["price"],
                    r.get("sl", 0),
                    r.get("tp", 0),
                    r.get("magic", 0),
                    r.get("comment", ""),
                )
            )
        )
    positions = [
        {k: v for k, v in r.items() if k not in ("order_type", "price")}
        | {"open_price": r["price"]}
        for r in rows
        if r["order_type"] == "market"
    ]
    orders = [r | {"open_price": r["price"]} for r in rows if r["order_type"] != "market"]
    cases["sync_snapshot"] = (
        kv,
        SyncSnapshot(
            id="i-snap",
            ts=TS,
            payload={
                "positions": positions,
                "orders": orders,
                "balance": Decimal("10000"),
                "equity": Decimal("10100.75"),
                "request_id": "r-1",
            },
        ),
    )
    cases["error_alert"] = (
        [
            *head("ErrorAlert", "i-alert"),
            "code=invalid_message",
            "severity=warning",
            "message=bad\nline",
            "ref_id=s-9",
        ],
        ErrorAlert(
            id="i-alert",
            ts=TS,
            payload={
                "code": "invalid_message",
                "severity": "warning",
                "message": "bad\nline",
                "ref_id": "s-9",
            },
        ),
    )
    cases["shutdown_notice"] = (
        [*head("ShutdownNotice", "i-bye"), "reason=client_shutdown"],
        ShutdownNotice(id="i-bye", ts=TS, payload={"reason": "client_shutdown"}),
    )
    return cases


def rest_cases() -> dict[str, tuple[bytes, list[str]]]:
    """REST answers the EA decodes, with the dump its driver must print."""
    created = SessionCreated(
        session_id="sess-1",
        state="pending",
        session_token="tok-xyz",
        heartbeat_interval_s=5,
        heartbeat_timeout_s=15,
    )
    valid = server_envelopes()
    exchange = ExchangeResponse(
        state="authenticated",
        messages=[
            json.loads(encode_envelope(valid[name]))
            for name in ("state_change_authenticated", "init_ack_master", "command_close_partial")
        ],
    )
    return {
        "session_created": (
            created.model_dump_json().encode(),
            [
                'session_id="sess-1"',
                'state="pending"',
                'session_token="tok-xyz"',
                "heartbeat_interval_s=5",
                "heartbeat_timeout_s=15",
            ],
        ),
        "exchange_response": (
            exchange.model_dump_json().encode(),
            [
                'state="authenticated"',
                "messages=3",
                "kinds=SessionStateChange,InitAck,OrderCommand",
            ],
        ),
        "error_body": (
            b'{"error":{"code":"preempted","message":"session was preempted","details":null}}',
            ['code="preempted"', 'message="session was preempted"'],
        ),
    }


def render_all() -> dict[str, bytes]:
    """Every fixture path (relative) mapped to its bytes."""
    files: dict[str, bytes] = {}
    valid = server_envelopes()
    for name, env in valid.items():
        files[f"server/{name}.json"] = encode_envelope(env) + b"\n"
        files[f"server/{name}.expect"] = ("\n".join(expect_lines(env)) + "\n").encode()
    ascii_variant = json.loads(encode_envelope(valid["command_unicode_comment"]))
    files["server/command_unicode_escaped.json"] = (
        json.dumps(ascii_variant, ensure_ascii=True) + "\n"
    ).encode()
    files["server/command_unicode_escaped.expect"] = files["server/command_unicode_comment.expect"]
    for name, obj in invalid_envelopes(valid).items():
        files[f"server/{name}.json"] = (json.dumps(obj, ensure_ascii=False) + "\n").encode()
        files[f"server/{name}.expect"] = b"kind=invalid\n"
    for name, (kv, env) in client_cases().items():
        files[f"client/{name}.kv"] = (
            "\n".join(line.replace("\n", "\\n") for line in kv) + "\n"
        ).encode()
        files[f"client/{name}.json"] = encode_envelope(env) + b"\n"
    for name, (body, dump) in rest_cases().items():
        files[f"rest/{name}.json"] = body + b"\n"
        files[f"rest/{name}.expect"] = ("\n".join(dump) + "\n").encode()
    return files


def write_all(out: Path = DEFAULT_OUT) -> list[Path]:
    """Write every fixture under ``out`` (stale files are removed)."""
    files = render_all()
    for stale in out.rglob("*"):
        if stale.is_file() and str(stale.relative_to(out)) not in files:
            stale.unlink()
    written = []
    for rel, data in sorted(files.items()):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    for written_path in write_all(target):
        sys.stdout.write(f"wrote {written_path}\n")
