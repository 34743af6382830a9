"""The EA's protocol core, compiled with g++, against fixtures generated from schemas/.

The fixtures come from ``ea_mql4/tools/gen_fixtures.py`` (the gateway's own
pydantic models); nothing here is hand-written JSON, so the EA and the gateway
cannot drift apart unnoticed.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import orjson
import pytest

from schemas import parse_client_envelope
from schemas.rest import ExchangeRequest, SessionCreateRequest

from .conftest import FIXTURES, REPO

SERVER_CASES = sorted(p.stem for p in (FIXTURES / "server").glob("*.json"))
CLIENT_CASES = sorted(p.stem for p in (FIXTURES / "client").glob("*.kv"))
REST_CASES = sorted(p.stem for p in (FIXTURES / "rest").glob("*.json"))
#: the C++ unit tests of the pure modules, one pytest item each
CORE_UNIT_TESTS = re.findall(
    r"^TEST\((\w+)\)",
    (REPO / "ea_mql4" / "linux" / "tests" / "core_tests.h").read_text(encoding="utf-8"),
    re.M,
)


def run(driver: Path, *args: str) -> str:
    result = subprocess.run(
        [str(driver), *args], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_fixtures_are_generated_from_current_schemas() -> None:
    import gen_fixtures

    expected = gen_fixtures.render_all()
    committed = {
        str(p.relative_to(FIXTURES)): p.read_bytes() for p in FIXTURES.rglob("*") if p.is_file()
    }
    stale = sorted(set(committed) ^ set(expected)) + sorted(
        name for name in expected if name in committed and committed[name] != expected[name]
    )
    assert not stale, (
        "EA fixtures differ from the models; run "
        f"`.venv/bin/python ea_mql4/tools/gen_fixtures.py`: {stale[:10]}"
    )


@pytest.mark.parametrize("case", SERVER_CASES)
def test_ea_decodes_server_envelope_as_the_gateway_encodes_it(core_driver: Path, case: str) -> None:
    dump = run(core_driver, "decode", str(FIXTURES / "server" / f"{case}.json"))
    assert dump == (FIXTURES / "server" / f"{case}.expect").read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CLIENT_CASES)
def test_ea_encodes_envelope_the_gateway_accepts_unchanged(core_driver: Path, case: str) -> None:
    ea_json = run(core_driver, "encode", str(FIXTURES / "client" / f"{case}.kv")).strip()
    orjson.loads(ea_json)  # strict JSON
    ea_model = parse_client_envelope(ea_json)
    golden = parse_client_envelope((FIXTURES / "client" / f"{case}.json").read_bytes())
    assert ea_model.model_dump() == golden.model_dump()


@pytest.mark.parametrize("case", REST_CASES)
def test_ea_decodes_rest_answers(core_driver: Path, case: str) -> None:
    dump = run(core_driver, "rest", case, str(FIXTURES / "rest" / f"{case}.json"))
    assert dump == (FIXTURES / "rest" / f"{case}.expect").read_text(encoding="utf-8")


def test_ea_session_create_body_validates_against_the_rest_model(core_driver: Path) -> None:
    body = SessionCreateRequest.model_validate_json(run(core_driver, "body", "session_create"))
    assert body.account_id == "demo-1001"
    assert body.auth_method == "account_session_key"
    assert body.credentials == {"key": 'k3y-"x"'}
    assert body.client is not None
    assert body.client.platform == "mt4"


def test_ea_exchange_body_validates_and_carries_valid_envelopes(core_driver: Path) -> None:
    body = ExchangeRequest.model_validate_json(run(core_driver, "body", "exchange"))
    assert (body.ack_seq, body.wait_ms) == (12, 250)
    kinds = [type(parse_client_envelope(m)).__name__ for m in body.messages]
    assert kinds == ["StatusHeartbeat", "ShutdownNotice"]


@pytest.mark.parametrize("name", CORE_UNIT_TESTS)
def test_ea_core_unit_test(core_driver: Path, name: str) -> None:
    result = subprocess.run(
        [str(core_driver), "selftest", name],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"PASS {name}\n"), result.stdout
    assert "1 run, 0 failed" in result.stdout


def test_gxx_check_rejects_a_type_error_in_the_ea_sources(tmp_path: Path) -> None:
    import shutil

    import eabuild

    tree = tmp_path / "MQL4"
    shutil.copytree(eabuild.MQL4_DIR, tree)
    protocol = tree / "Include" / "CopyGateway" / "MessageEncoders.mqh"
    text = protocol.read_text(encoding="utf-8")
    assert 'w.KeyInt("ts",ts);' in text
    protocol.write_text(text.replace('w.KeyInt("ts",ts);', 'w.KeyStr("ts",ts);'), encoding="utf-8")
    with pytest.raises(eabuild.BuildError, match=r"MessageEncoders\.mqh:\d+"):
        eabuild.syntax_only(tree, tmp_path / "work")


def test_every_core_unit_test_is_collected_and_passes(core_driver: Path) -> None:
    result = subprocess.run(
        [str(core_driver), "selftest"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout
    assert f"{len(CORE_UNIT_TESTS)} run, 0 failed" in result.stdout
