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


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _resolve(document: dict[str, object], ref: str) -> object:
    node: object = document
    for part in ref.removeprefix("#/").split("/"):
        assert isinstance(node, dict) and part in node, f"unresolved $ref {ref}"
        node = node[part]
    return node


def test_openapi_and_asyncapi_references_all_resolve() -> None:
    from schemas.api_docs import asyncapi_document, openapi_document

    for document in (openapi_document(), asyncapi_document()):
        for ref in _refs(document):
            _resolve(document, ref)


def test_openapi_documents_every_contract_path() -> None:
    from schemas.api_docs import openapi_document

    paths = openapi_document()["paths"]
    for path in (
        "/ea-gateway/v1/sessions",
        "/ea-gateway/v1/sessions/{session_id}/exchange",
        "/admin/v1/keys",
        "/admin/v1/keys/{key_id}/approve",
        "/admin/v1/keys/{key_id}/reject",
        "/admin/v1/accounts/{account_id}/keys",
        "/admin/v1/accounts/{account_id}",
        "/admin/v1/sessions",
        "/admin/v1/tenants/{tenant_id}/tokens",
        "/admin/v1/accounts/{follower_id}/subscriptions/{master_id}",
        "/admin/v1/accounts/{follower_id}/subscriptions",
    ):
        assert path in paths


def test_openapi_links_name_existing_operations_and_their_parameters() -> None:
    from schemas.api_docs import openapi_document

    operations = {
        op["operationId"]: op
        for path in openapi_document()["paths"].values()
        for op in path.values()
    }
    links = [
        link
        for op in operations.values()
        for response in op["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert len(links) >= 10
    for link in links:
        target = operations[link["operationId"]]
        names = {p["name"] for p in target.get("parameters", [])}
        assert set(link["parameters"]) <= names, link
