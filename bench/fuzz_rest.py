"""REST fuzzing with schemathesis against a real `copygate serve` process.

Every operation of the OpenAPI document (the served ``/openapi.json`` when the
gateway has one, else the document generated from the models,
`schemas.api_docs.openapi_document`) is fuzzed in both schemathesis generation
modes: *positive* (bodies, paths and queries the schema allows) and *negative*
(ones it forbids). Each case is sent as one of several callers (back-office,
a tenant admin, the EA's session token, no token, a wrong token), and, half of
the time, with the path parameters replaced by ids that exist (an account with
a subscription, a key, a live session, a tenant token), so the fuzzer reaches the
handlers behind the 404s instead of bouncing off them. Then a stateful phase
(`--stateful`) lets schemathesis chain calls along the document's OpenAPI links
(provision a key -> approve it, issue a tenant token -> revoke it, create a
session -> close it, ...).

Checked, for every response: no status >= 500; the status is one the document
lists for the operation; every 4xx/5xx body is ``{"error": {"code", "message",
"details"}}`` with a string code. After the run, the server's log must hold no
traceback and no ERROR line. Hypothesis is seeded with `--seed`, so a run is
reproducible.

Usage:
    python bench/fuzz_rest.py                 # 40 examples per operation and mode, 20 chains
    python bench/fuzz_rest.py --full          # 1,000 per operation and mode, 300 chains
    python bench/fuzz_rest.py --examples 5 --seed 7 --out result.json
Exit status 1 if any check failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as seeded
from hypothesis import strategies as st
from schemathesis import GenerationMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _servers import GatewayServer

from schemas.api_docs import openapi_document

FULL_EXAMPLES = 1_000
DEFAULT_EXAMPLES = 40
ADMIN = "bench-admin"
CALLERS = ("backoffice", "tenant", "session", "none", "wrong")
#: Settings that keep the server fast and out of the fuzzer's way.
FAST_ENV = {
    "COPYGATE_ARGON2_MEMORY_KIB": "8",
    "COPYGATE_ARGON2_TIME_COST": "1",
    "COPYGATE_LOG_LEVEL": "WARNING",
}


@dataclass
class Report:
    """What the run found."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[dict[str, Any]] = field(default_factory=list)
    bad_error_bodies: list[dict[str, Any]] = field(default_factory=list)
    undocumented: list[dict[str, Any]] = field(default_factory=list)
    per_operation: dict[str, int] = field(default_factory=dict)

    def record(self, kind: list[dict[str, Any]], sample: dict[str, Any]) -> None:
        """Keep a sample of a failed check (the first 20 of each kind)."""
        if len(kind) < 20:
            kind.append(sample)


def seed_world(client: httpx.Client) -> dict[str, str]:
    """Real resources for the path parameters: accounts, a subscription, a key, a session."""
    admin = {"authorization": f"Bearer {ADMIN}"}
    for account, role, tenant in (("f1", "follower", "t1"), ("m1", "master", "t1")):
        put = client.put(
            f"/admin/v1/accounts/{account}", json={"tenant_id": tenant, "role": role}, headers=admin
        )
        put.raise_for_status()
    client.put("/admin/v1/accounts/f1/subscriptions/m1", json={}, headers=admin).raise_for_status()
    key = client.post("/admin/v1/accounts/f1/keys", headers=admin).json()
    session = client.post(
        "/ea-gateway/v1/sessions",
        json={
            "account_id": "f1",
            "auth_method": "account_session_key",
            "credentials": {"key": key["key"]},
        },
    ).json()
    tenant = client.post("/admin/v1/tenants/t1/tokens", json={}, headers=admin).json()
    return {
        "account_id": "f1",
        "follower_id": "f1",
        "master_id": "m1",
        "key_id": key["key_id"],
        "session_id": session["session_id"],
        "tenant_id": "t1",
        "token_id": tenant["token_id"],
        "session_token": session["session_token"],
        "tenant_token": tenant["token"],
    }


def headers_for(caller: str, known: dict[str, str]) -> dict[str, str]:
    token = {
        "backoffice": ADMIN,
        "tenant": known["tenant_token"],
        "session": known["session_token"],
        "wrong": "wrong-token",
    }.get(caller)
    return {} if token is None else {"authorization": f"Bearer {token}"}


def check(
    report: Report,
    op_name: str,
    documented: set[str],
    response: httpx.Response,
    sent: dict[str, Any],
) -> None:
    """Apply the three checks to one response."""
    status = response.status_code
    report.requests += 1
    report.statuses[status] += 1
    sample = {"op": op_name, "status": status, **sent, "response": response.text[:300]}
    if status >= 500:
        report.record(report.server_errors, sample)
    if str(status) not in documented:
        report.record(report.undocumented, sample)
    if status >= 400:
        try:
            error = response.json()["error"]
            ok = (
                isinstance(error["code"], str)
                and isinstance(error["message"], str)
                and "details" in error
            )
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            report.record(report.bad_error_bodies, sample)


#: Operations that answer an endless stream (Server-Sent Events): only their status,
#: headers and first event are read, then the stream is closed.
STREAMS = frozenset({"/admin/v1/console/events"})


def _request(
    client: httpx.Client, method: str, path: str, stream: bool, kwargs: dict[str, Any]
) -> httpx.Response:
    if not stream:
        return client.request(method, path, **kwargs)
    with client.stream(method, path, **kwargs) as answer:
        if answer.status_code >= 400:
            answer.read()
            return answer
        first = next(answer.iter_bytes(), b"")
        return httpx.Response(answer.status_code, headers=answer.headers, content=first)


def fuzz_operation(
    client: httpx.Client, op: Any, known: dict[str, str], report: Report, examples: int, seed: int
) -> None:
    """Run `examples` positive and `examples` negative cases of one operation."""
    op_name = f"{op.method.upper()} {op.path}"
    documented = {str(code) for code in op.definition.raw.get("responses", {})}
    before = report.requests
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategy = st.tuples(
            op.as_strategy(generation_mode=mode), st.sampled_from(CALLERS), st.booleans()
        )

        @seeded(seed)
        @settings(
            max_examples=examples,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def run(drawn: tuple[Any, str, bool]) -> None:
            case, caller, use_known = drawn
            params = dict(case.path_parameters or {})
            if use_known:
                params.update({k: known[k] for k in params if k in known})
            path = op.path
            for name, value in params.items():
                path = path.replace("{" + name + "}", urllib.parse.quote(str(value), safe=""))
            body = case.body
            kwargs: dict[str, Any] = {"headers": headers_for(caller, known)}
            if case.query:
                kwargs["params"] = case.query
            if isinstance(body, bytes | str):
                kwargs["content"] = body.encode() if isinstance(body, str) else body
                kwargs["headers"]["content-type"] = case.media_type or "application/json"
            elif type(body).__name__ != "NotSet":
                kwargs["content"] = json.dumps(body, allow_nan=True, default=repr).encode()
                kwargs["headers"]["content-type"] = "application/json"
            response = _request(client, op.method.upper(), path, op.path in STREAMS, kwargs)
            sent = {"path": path, "caller": caller, "body": repr(body)[:200]}
            check(report, op_name, documented, response, sent)

        run()
    report.per_operation[op_name] = report.requests - before


def fuzz_links(client: httpx.Client, schema: Any, report: Report, examples: int) -> int:
    """The stateful phase: schemathesis chains calls along the document's OpenAPI links
    (provision a key -> approve it, issue a token -> revoke it, ...), as the
    back-office; the same checks apply. Derandomised (hypothesis runs state machines
    without a seed argument), so it is reproducible too. Returns the calls made."""
    calls = 0

    class Links(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": {"authorization": f"Bearer {ADMIN}"}}

        def call(self, case: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            return case.call(base_url=str(client.base_url), **kwargs)

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            op = case.operation
            documented = {str(code) for code in op.definition.raw.get("responses", {})}
            wrapped = httpx.Response(response.status_code, content=response.content)
            sent = {"path": case.formatted_path, "caller": "backoffice (links)"}
            check(report, f"{op.method.upper()} {op.path}", documented, wrapped, sent)

    if examples:
        Links.run(
            settings=settings(
                max_examples=examples,
                stateful_step_count=8,
                derandomize=True,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
        )
    return calls


def log_problems(log_path: Path, offset: int) -> list[str]:
    """Tracebacks and ERROR lines the server logged since `offset`."""
    text = log_path.read_bytes()[offset:].decode(errors="replace")
    return [
        line
        for line in text.splitlines()
        if "Traceback" in line or " ERROR " in line or "ERROR:" in line
    ][:20]


def run_fuzz(examples: int, seed: int, redis_url: str | None, stateful: int = 0) -> dict[str, Any]:
    """Start a gateway, fuzz every operation, stop it; the JSON result."""
    server = GatewayServer(redis_url, **FAST_ENV)
    server.start()
    started = time.monotonic()
    try:
        offset = server.log_path.stat().st_size if server.log_path.exists() else 0
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            served = client.get("/openapi.json")
            document = served.json() if served.status_code == 200 else openapi_document()
            known = seed_world(client)
            schema = schemathesis.openapi.from_dict(document)
            report = Report()
            for result in schema.get_all_operations():
                fuzz_operation(client, result.ok(), known, report, examples, seed)
            link_calls = fuzz_links(client, schema, report, stateful)
        problems = log_problems(server.log_path, offset)
    finally:
        server.stop()
        server.cleanup()
    return {
        "examples_per_operation_and_mode": examples,
        "seed": seed,
        "openapi": "served" if served.status_code == 200 else "generated",
        "operations": len(report.per_operation),
        "requests": report.requests,
        "stateful_examples": stateful,
        "stateful_calls": link_calls,
        "seconds": round(time.monotonic() - started, 1),
        "statuses": dict(sorted(report.statuses.items())),
        "server_errors": report.server_errors,
        "bad_error_bodies": report.bad_error_bodies,
        "undocumented_statuses": report.undocumented,
        "server_log_problems": problems,
        "per_operation": report.per_operation,
    }


def failed(result: dict[str, Any]) -> bool:
    """Whether any check failed."""
    return bool(
        result["server_errors"]
        or result["bad_error_bodies"]
        or result["undocumented_statuses"]
        or result["server_log_problems"]
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--full", action="store_true", help=f"{FULL_EXAMPLES} examples per operation and mode"
    )
    parser.add_argument("--examples", type=int, default=None)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--stateful",
        type=int,
        default=None,
        help="state-machine examples along the OpenAPI links (default 20; --full 300)",
    )
    parser.add_argument("--redis-url", default=None, help="use Redis instead of the embedded store")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    examples = args.examples or (FULL_EXAMPLES if args.full else DEFAULT_EXAMPLES)
    stateful = args.stateful if args.stateful is not None else (300 if args.full else 20)
    result = run_fuzz(examples, args.seed, args.redis_url, stateful)
    text = json.dumps(result, indent=2, default=str)
    if args.out:
        args.out.write_text(text + "\n")
    summary = {
        k: result[k] for k in ("operations", "requests", "stateful_calls", "seconds", "statuses")
    }
    print(json.dumps(summary), file=sys.stderr)
    if failed(result):
        print(text)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
