"""The committed JSON Schema files are exactly what the models generate."""

from __future__ import annotations

from schemas.generate import JSON_DIR, render_all


def test_committed_json_schemas_match_the_models() -> None:
    expected = render_all()
    committed = {path.name: path.read_bytes() for path in JSON_DIR.glob("*.json")}
    stale = sorted(set(committed) - set(expected))
    missing = sorted(set(expected) - set(committed))
    drifted = sorted(n for n in expected if n in committed and committed[n] != expected[n])
    assert not (stale or missing or drifted), (
        f"schemas/json is out of date (run `python -m schemas.generate`): "
        f"stale={stale} missing={missing} drifted={drifted}"
    )


def test_every_catalogue_type_has_a_schema_file() -> None:
    names = set(render_all())
    for message in (
        "InitRequest",
        "InitAck",
        "SessionStateChange",
        "StatusHeartbeat",
        "OrderIntent",
        "OrderCommand",
        "ExecutionReport",
        "SyncSnapshot",
        "ErrorAlert",
        "ShutdownNotice",
    ):
        assert f"{message}.json" in names
