"""The EA's README stands alone in a user's clone: no contract file outside the project,
every relative link resolves, and it documents both builds and the checker."""

from __future__ import annotations

import re

import pytest

from .conftest import REPO

README = REPO / "ea_mql4" / "README.md"


def test_readme_mentions_no_contract_file_outside_the_project() -> None:
    # paths outside the repository: tests/docs/test_references.py checks every tracked file
    assert "wire-contract.md" not in README.read_text(encoding="utf-8")


def test_readme_relative_links_resolve_inside_the_repository() -> None:
    links = re.findall(r"\]\((?!https?:|#)([^)#]+)", README.read_text(encoding="utf-8"))
    assert links
    for link in links:
        target = (README.parent / link).resolve()
        assert target.is_relative_to(REPO) and target.exists(), link


def test_readme_documents_both_builds_and_the_strict_checker() -> None:
    text = README.read_text(encoding="utf-8")
    assert "## Two builds" in text and "#define COPYGATE_WITH_DLL" in text
    assert "tools/mqlcheck.py" in text and "-Wconversion" in text
