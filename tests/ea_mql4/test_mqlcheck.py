"""The strict-MQL checker (``ea_mql4/tools/mqlcheck.py``): what MetaEditor
rejects but g++ accepts.

Each rule fails on a small bad MQL4 sample; the matching good samples pass; the
whole EA has zero findings.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from mqlcheck import RESERVED_WORDS, RULES, check_paths, check_sources

from .conftest import EA_TOOLS, REPO

WRITER = """
class CWriter
  {
public:
   void              Key(const string &key) {}
   void              Pair(const string key,int &count) {}
   void              Pair(const string key) {}
  };
struct SRow { int ticket; };
void Fill(SRow &row) {}
int Twice(int &n) { return(n*2); }
#define CG_LIMIT 5
enum ENUM_SIDE { SIDE_BUY=0 };
"""

BAD: list[tuple[str, str, str]] = [
    # (rule, what, sample)
    ("ref-arg", "literal to a method", 'void f() { CWriter w; w.Key("type"); }'),
    ("ref-arg", "concatenation", 'void f(string a) { CWriter w; w.Key(a+"|"); }'),
    ("ref-arg", "conditional", 'void f(string x) { CWriter w; w.Key(x=="" ? "a" : x); }'),
    ("ref-arg", "call result", 'string g() { return(""); } void f() { CWriter w; w.Key(g()); }'),
    ("ref-arg", "overload by arity", 'void f() { CWriter w; w.Pair("k",3); }'),
    ("ref-arg", "number to a free function", "void f() { Twice(2); }"),
    ("ref-arg", "macro", "void f() { Twice(CG_LIMIT); }"),
    ("ref-arg", "enumerator", "void f() { Twice(SIDE_BUY); }"),
    ("ref-arg", "arithmetic", "void f(int a) { Twice(a+1); }"),
    ("ref-arg", "member of a field", 'class C { CWriter m_w; void f() { m_w.Key("x"); } };'),
    ("ref-arg", "array element object", 'void f() { CWriter ws[]; ws[0].Key("x"); }'),
    ("ref-arg", "unqualified own method", 'class D { void K(string &s) {} void f() { K("x"); } };'),
    ("ref-arg", "built-in", 'void f() { StringReplace("text","a","b"); }'),
    ("ref-arg", "global initializer", "int g_twice=Twice(21);"),
    ("ref-arg", "constructor initializer", "class E { int m; E(void) : m(Twice(1)) {} };"),
    ("reserved-word", "variable", "int color=0;"),
    ("reserved-word", "parameter", "void f(const datetime input) {}"),
    ("reserved-word", "function", "void uchar() {}"),
    ("reserved-word", "member", "class C { string extern_; int strict; };"),
    ("reserved-word", "enumerator", "enum E { typename=1 };"),
    ("reserved-word", "macro", "#define property 1"),
    ("reserved-word", "struct", "struct datetime { int x; };"),
    ("cpp-feature", "pointer to int", "int *p;"),
    ("cpp-feature", "pointer to struct", "struct S { int x; }; void f(S *s) {}"),
    ("cpp-feature", "non-type template parameter", "template<int N> int f() { return(N); }"),
    ("cpp-feature", "variadic template", "template<typename... T> void f(T... a) {}"),
    ("cpp-feature", "default template argument", "template<typename T=int> T f() { return(0); }"),
    ("cpp-feature", "template specialisation", "template<> int f<int>(int x) { return(x); }"),
    ("cpp-feature", "variable template", "template<typename T> T zero = T();"),
    ("cpp-feature", "try/catch", "void f() { try { g(); } catch(int e) { } }"),
    ("cpp-feature", "throw", "void f() { throw 1; }"),
    ("cpp-feature", "auto", "void f() { auto x=1; }"),
    ("cpp-feature", "lambda", "void f() { int y=[](int a) { return(a); }(1); }"),
    ("cpp-feature", "namespace", "namespace cg { int x; }"),
    ("cpp-feature", "using namespace", "using namespace cg;"),
    ("cpp-feature", "reference member", "class C { int &m_ref; };"),
    ("cpp-feature", "reference return", "class C { int m; int &Get() { return(m); } };"),
    ("cpp-feature", "free function returning a reference", "string &Name();"),
    ("cpp-feature", "local reference", "void f(int a) { int &r=a; }"),
    ("cpp-feature", "default on a reference parameter", "void f(int &n=0) {}"),
    ("cpp-feature", "rvalue reference", "void f(int &&n) {}"),
    ("cpp-feature", "range-based for", "void f() { int a[]; for(int x : a) {} }"),
    ("cpp-feature", "nullptr", "void f() { CWriter *w=nullptr; }"),
    ("cpp-feature", "goto", "void f() { goto done; done: return; }"),
    ("cpp-feature", "multiple inheritance", "class A {}; class B {}; class C : A, B {};"),
    ("parse", "unbalanced parenthesis", "void f() { if(x { } }"),
    ("dll-import", "plain #import", '#import "user32.dll"\nint MessageBoxW(int h);\n#import'),
    (
        "dll-import",
        "#import in the #else of the switch",
        '#ifdef COPYGATE_WITH_DLL\n#else\n#import "ws2_32.dll"\nint send(int s);\n#import\n#endif',
    ),
    (
        "dll-import",
        "#import under #ifndef of the switch",
        '#ifndef COPYGATE_WITH_DLL\n#import "ws2_32.dll"\nint send(int s);\n#import\n#endif',
    ),
    (
        "dll-import",
        "#import under another switch",
        '#ifdef WITH_SOCKETS\n#import "ws2_32.dll"\nint send(int s);\n#import\n#endif',
    ),
]

GOOD: list[tuple[str, str]] = [
    ("variables to references", "void f(string k,int n) { CWriter w; w.Key(k); w.Pair(k,n); }"),
    ("literal to a by-value overload", 'void f() { CWriter w; w.Pair("k"); }'),
    ("struct field and array element", "void f() { SRow rows[]; SRow r; Fill(rows[0]); Fill(r); }"),
    ("member of a struct", "struct T { int n; }; void f() { T t; Twice(t.n); }"),
    ("parenthesised variable", "void f(int a) { Twice((a)); }"),
    ("built-ins with variables", 'void f() { string s; StringReplace(s,"a","b"); }'),
    ("strings by value", 'string Url(const string path) { return(path); } void f() { Url("/x"); }'),
    ("class pointer", "class CNode { }; CNode *g_node;"),
    ("single inheritance", "class CBase { }; class CChild : public CBase { };"),
    ("function template", "template<typename T> T Max(T a,T b) { return(a>b ? a : b); }"),
    ("class template", "template<typename T> class CBox { T m_v; };"),
    ("array references", "void f(const uchar &data[],string &out[]) {}"),
    ("reserved word inside a name", "int input_count=0; string colors;"),
    ("inputs", 'input string InpUrl="x"; sinput int InpN=1; extern int InpM=2;'),
    (
        "#import inside the switch",
        '#ifdef COPYGATE_WITH_DLL\n#import "ws2_32.dll"\nint send(int s);\n#import\n#endif',
    ),
    (
        "#import in the #else of #ifndef",
        '#ifndef COPYGATE_WITH_DLL\n#else\n#import "ws2_32.dll"\nint send(int s);\n#import\n#endif',
    ),
]


def findings_of(sample: str) -> list[str]:
    found = check_sources({"writer.mqh": WRITER, "bad.mq4": sample})
    return [f"{f.rule}: {f.message}" for f in found]


def test_the_shared_declarations_are_clean() -> None:
    assert check_sources({"writer.mqh": WRITER}) == []


@pytest.mark.parametrize(("rule", "what", "sample"), BAD, ids=[f"{r}-{w}" for r, w, _ in BAD])
def test_checker_reports_a_bad_sample(rule: str, what: str, sample: str) -> None:
    found = check_sources({"writer.mqh": WRITER, "bad.mq4": sample})
    assert [f.rule for f in found if f.path == "bad.mq4"] == [rule], (what, found)
    assert all(f.path == "bad.mq4" and f.line >= 1 for f in found)


@pytest.mark.parametrize(("what", "sample"), GOOD, ids=[w for w, _ in GOOD])
def test_checker_accepts_a_good_sample(what: str, sample: str) -> None:
    assert findings_of(sample) == [], what


def test_every_rule_has_a_failing_sample() -> None:
    assert {rule for rule, _, _ in BAD} == set(RULES)


def test_reserved_words_are_the_mql4_list() -> None:
    assert {"input", "extern", "sizeof", "color", "datetime", "uchar", "strict"} <= RESERVED_WORDS
    assert len(RESERVED_WORDS) == 52
    assert "sinput" not in RESERVED_WORDS  # an input modifier, not in the reserved list


def test_ref_arg_finding_names_the_call_and_the_line() -> None:
    sample = 'void f()\n  {\n   CWriter w;\n   w.Key("type");\n  }\n'
    [finding] = check_sources({"writer.mqh": WRITER, "bad.mq4": sample})
    assert (finding.path, finding.line, finding.rule) == ("bad.mq4", 4, "ref-arg")
    assert "CWriter::Key()" in finding.message and "'\"type\"'" in finding.message


def test_the_whole_ea_has_no_findings() -> None:
    findings = check_paths([REPO / "ea_mql4" / "MQL4"])
    assert findings == [], "\n".join(str(f) for f in findings)


def test_cli_prints_file_line_rule_message_and_fails(tmp_path: Path) -> None:
    bad = tmp_path / "Bad.mqh"
    bad.write_text('void f()\n  {\n   StringReplace("x","a","b");\n  }\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(EA_TOOLS / "mqlcheck.py"), str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout.startswith(f"{bad}:3: ref-arg: argument 1 of StringReplace()")


def test_cli_passes_on_the_ea() -> None:
    result = subprocess.run(
        [sys.executable, str(EA_TOOLS / "mqlcheck.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, "")


def test_checker_finds_the_call_sites_of_defect_1_if_strings_go_back_to_references() -> None:
    # issue 10, defect 1: `const string &s` parameters made ~280+ calls with literals
    # and temporaries invalid MQL; the EA now takes strings by value
    by_reference = re.compile(r"([(,]\s*)const string (\w+)(?=\s*[,)=])")
    sources = {
        str(path): by_reference.sub(r"\1const string &\2", path.read_text(encoding="utf-8"))
        for path in sorted((REPO / "ea_mql4" / "MQL4").rglob("*.mq[4h]"))
    }
    messages = [str(f) for f in check_sources(sources) if f.rule == "ref-arg"]
    assert len(messages) > 280
    assert any("CCopyGatewayEa::Url()" in m and "/ea-gateway/v1/sessions" in m for m in messages)
    assert any("CJsonWriter::OpenContainer()" in m and "'\"{\"'" in m for m in messages)
    assert any("CKeyStore::Mix()" in m for m in messages)
