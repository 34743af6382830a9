"""Every MQL4 source of the EA parses cleanly (tree-sitter C++ after the pre-pass).

MetaEditor is not available on Linux. The pre-pass (``ea_mql4/tools/mql2cpp.py``)
maps the few lexical differences of the EA's MQL4 subset to C++, then
tree-sitter's C++ grammar must find zero ERROR/MISSING nodes. The g++ builds in
the other test modules then compile the same pre-passed sources for real.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mql2cpp import ConversionError, check_syntax, convert

from .conftest import REPO

EA_SOURCES = sorted((REPO / "ea_mql4" / "MQL4").rglob("*.mq[4h]"))
EXPERT = REPO / "ea_mql4" / "MQL4" / "Experts" / "CopyGateway.mq4"


def test_the_ea_has_sources() -> None:
    names = {p.name for p in EA_SOURCES}
    assert "CopyGateway.mq4" in names
    assert {"JsonDoc.mqh", "MessageDecoders.mqh", "Session.mqh", "Ea.mqh"} <= names


@pytest.mark.parametrize("path", EA_SOURCES, ids=lambda p: p.name)
def test_source_parses_without_error_nodes(path: Path) -> None:
    issues = check_syntax(path.read_text(encoding="utf-8"), str(path))
    assert not issues, "\n".join(str(i) for i in issues)


@pytest.mark.parametrize("path", EA_SOURCES, ids=lambda p: p.name)
def test_source_is_utf8_with_lf_line_ends(path: Path) -> None:
    data = path.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf") and not data.startswith(b"\xff\xfe")
    assert b"\r" not in data
    data.decode("utf-8")
    assert data.endswith(b"\n")


def test_syntax_check_reports_a_broken_file() -> None:
    good = (REPO / "ea_mql4" / "MQL4" / "Include" / "CopyGateway" / "Session.mqh").read_text()
    assert check_syntax(good) == []
    edit = good.index("m_link=CG_LINK_IDLE;")
    broken = good.replace("m_link=CG_LINK_IDLE;", "m_link=CG_LINK_IDLE", 1)  # lost ';'
    issues = check_syntax(broken, "Session.mqh")
    assert issues
    assert issues[0].line == good.count("\n", 0, edit) + 1  # reported on the edited line


@pytest.mark.parametrize(
    "snippet",
    [
        "void f() { int x = ; }",
        "class C { void f() { if (x { } } };",
        "int g(int a,, int b);",
    ],
)
def test_syntax_check_finds_classic_mistakes(snippet: str) -> None:
    assert check_syntax(snippet)


@pytest.mark.parametrize(
    ("snippet", "reason"),
    [
        ("CFoo *p = new CFoo();", "new"),
        ("void f() { delete p; }", "delete"),
        ("double a[10];", "fixed-size"),
        ("datetime t = D'2024.01.01';", "literals"),
    ],
)
def test_prepass_rejects_constructs_outside_the_subset(snippet: str, reason: str) -> None:
    with pytest.raises(ConversionError, match=reason):
        convert(snippet)


def test_prepass_rewrites_inputs_arrays_imports_and_keeps_line_numbers() -> None:
    src = (
        "#property strict\n"
        'input string InpUrl="http://x/?a=1;b"; // the URL\n'
        "input int InpN=3;\n"
        "void f(const uchar &data[], string &out[]) { double a[], b[]; }\n"
        '#import "ws2_32.dll"\n'
        "int send(int s,uchar &buf[],int len,int flags);\n"
        "#import\n"
        '// uchar x[] in a comment and "y[]" in a string stay\n'
        'string s = "int z[]";\n'
    )
    out = convert(src, "x.mq4").split("\n", 1)[1]
    lines = out.splitlines()
    assert len(lines) == len(src.splitlines())
    assert lines[0] == "// #property strict"
    assert lines[1] == (
        'const string InpUrl = mql_input<string>("InpUrl", "http://x/?a=1;b"); // the URL'
    )
    assert lines[2] == 'const int InpN = mql_input<int>("InpN", 3);'
    assert lines[3] == (
        "void f(const MqlArray<uchar> &data, MqlArray<string> &out) { MqlArray<double> a, b; }"
    )
    assert lines[4] == "namespace mql_import_ws2_32 {"
    assert lines[5] == "int send(int s,MqlArray<uchar> &buf,int len,int flags);"
    assert lines[6] == "} using namespace mql_import_ws2_32;"
    assert lines[7] == '// uchar x[] in a comment and "y[]" in a string stay'
    assert lines[8] == 'string s = "int z[]";'


def test_expert_file_holds_only_inputs_and_event_dispatch() -> None:
    text = EXPERT.read_text(encoding="utf-8")
    assert "class " not in text and "struct " not in text
    assert "#include <CopyGateway/Ea.mqh>" in text
    inputs = [ln.split()[2] for ln in text.splitlines() if ln.startswith("input ")]
    assert inputs and all(name.startswith("Inp") for name in inputs)
    handlers = {"OnInit", "OnDeinit", "OnTimer", "OnTick"}
    assert all(f" {h}(" in text for h in handlers)
