"""The reference documents stand alone and cover the whole API.

A route of the application (from Starlette's route table), a message type (from
the schemas catalogue) or an error code missing from the reference fails here; so
does a tracked file that points outside the repository or a relative link to a
file that does not exist.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from schemas.api_docs import asyncapi_document
from schemas.codes import ErrorCode
from schemas.generate import PROTOCOL_PAGE, render_protocol_page
from tests.e2e.harness import ROOT
from tests.route_table import WEBSOCKET, api_routes, documented

DOCS = ROOT / "docs"
#: Where a clone has nothing: spelled in pieces so this file does not match itself.
OUTSIDE = ("../" + "shared", "shared" + "/spec", "/" + "work/")
_MENTION = re.compile(r"\b(GET|PUT|POST|DELETE|PATCH)\s+`?(/[A-Za-z0-9_./{}:-]+)")
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _mentions(*pages: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for page in pages:
        for method, path in _MENTION.findall((DOCS / page).read_text(encoding="utf-8")):
            found.setdefault(method, []).append(path.rstrip(".`"))
    return found


def _tracked() -> list[str]:
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    return [name for name in listing.decode().split("\0") if name]


@pytest.mark.parametrize(("method", "path"), api_routes())
def test_reference_documents_the_route_when_the_app_serves(method: str, path: str) -> None:
    if method == WEBSOCKET:
        assert f"GET {path}" in (DOCS / "protocol.md").read_text(encoding="utf-8")
        return
    page = "admin-api.md" if path.startswith("/admin/") else "protocol.md"
    mentions = _mentions(page).get(method, [])
    assert documented(path, mentions), f"{method} {path} is missing from docs/{page}"


@pytest.mark.parametrize("message", list(asyncapi_document()["components"]["messages"]))
def test_protocol_reference_lists_every_message_type_with_its_fields(message: str) -> None:
    text = PROTOCOL_PAGE.read_text(encoding="utf-8")
    assert f"\n### {message}\n" in text


@pytest.mark.parametrize("code", [c.value for c in ErrorCode])
def test_protocol_reference_explains_every_error_code(code: str) -> None:
    assert f"| `{code}` |" in PROTOCOL_PAGE.read_text(encoding="utf-8")


def test_protocol_reference_message_catalogue_matches_the_models() -> None:
    assert PROTOCOL_PAGE.read_text(encoding="utf-8") == render_protocol_page(), (
        "docs/protocol.md is out of date: run `python -m schemas.generate`"
    )


def test_no_tracked_file_points_outside_the_repository() -> None:
    offenders = []
    for name in _tracked():
        path = ROOT / name
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        offenders += [f"{name}: {needle}" for needle in OUTSIDE if needle in text]
    assert offenders == []


def test_relative_links_of_every_markdown_file_resolve() -> None:
    broken = []
    for name in (n for n in _tracked() if n.endswith(".md")):
        page = ROOT / name
        for target in _LINK.findall(page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{name} -> {target}")
    assert broken == []


def test_readme_starts_with_the_two_commands_and_links_the_ea_guide_and_deploy() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.startswith(
        "# copygate\n\n```bash\n"
        "./scripts/demo    # fresh machine: set up .venv and run copygate "
        "(embedded store, no Redis needed)\n"
        "./scripts/test    # fresh machine: set up .venv, make sure Redis runs, "
        "run the whole test suite\n```\n"
    )
    assert "](ea_mql4/README.md)" in readme
    assert "](deploy/README.md)" in readme


@pytest.mark.parametrize(
    "item", ["TLS termination", "Pepper", "Admin token rotation", "Redis persistence"]
)
def test_readme_production_checklist_covers(item: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    checklist = readme.split("## Production checklist", 1)[1].split("\n## ", 1)[0]
    assert f"**{item}**" in checklist
