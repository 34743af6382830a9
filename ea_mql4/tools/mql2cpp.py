"""Token pre-pass that turns the EA's MQL4 sources into C++17 (and checks syntax).

MQL4 is close to C++ but not equal. The EA is written in a subset where the
remaining differences are purely lexical, so a small pre-pass closes the gap
without changing line numbers (compiler errors point at the original lines):

===========================  ==============================================
MQL4                         C++ after the pre-pass
===========================  ==============================================
``#property strict``         ``// #property strict``
``input T InpX = v;``        ``const T InpX = mql_input<T>("InpX", v);``
``sinput`` / ``extern``      same as ``input`` (``extern`` is not const)
``T name[]`` (declaration)   ``MqlArray<T> name``
``T &name[]`` (parameter)    ``MqlArray<T> &name``
``T a[], b[];``              ``MqlArray<T> a, b;``
``#import "ws2_32.dll"``     ``namespace mql_import_ws2_32 {``
``#import`` (closing)        ``} using namespace mql_import_ws2_32;``
===========================  ==============================================

String/char literals and comments are masked first, so nothing inside them is
rewritten. Constructs that cannot be mapped lexically are rejected with a
message (see ``FORBIDDEN``): pointers (MQL4 uses ``.`` on pointers, C++ needs
``->``), ``new``/``delete``, fixed-size array declarations, ``D'..'``/``C'..'``
literals. Everything else (classes, structs, enums, references, default
arguments, ``#define``/``#include``) is spelled the same in both languages.

The syntax check parses the pre-passed text with tree-sitter's C++ grammar and
reports every ERROR or MISSING node.

Usage::

    python ea_mql4/tools/mql2cpp.py convert <MQL4 dir> <out dir>
    python ea_mql4/tools/mql2cpp.py check <file.mq4|file.mqh>...
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "FORBIDDEN",
    "ConversionError",
    "SyntaxIssue",
    "check_syntax",
    "convert",
    "convert_tree",
]

_LITERAL = re.compile(
    r"""
      //[^\n]*                      # line comment
    | /\*.*?\*/                     # block comment
    | "(?:\\.|[^"\\\n])*"           # string literal
    | '(?:\\.|[^'\\\n])+'           # char literal
    """,
    re.S | re.X,
)
_PLACEHOLDER = re.compile(r"__MQLLIT(\d+)__")
_PROPERTY = re.compile(r"^([ \t]*)#property\b", re.M)
_IMPORT_OPEN = re.compile(r"^[ \t]*#import[ \t]+(__MQLLIT\d+__)[ \t]*$", re.M)
_IMPORT_CLOSE = re.compile(r"^[ \t]*#import[ \t]*$", re.M)
_INPUT = re.compile(
    r"^([ \t]*)(input|sinput|extern)[ \t]+(\w+)[ \t]+(\w+)[ \t]*(?:=[ \t]*([^;]+?))?[ \t]*;",
    re.M,
)
_DYN_ARRAY_LIST = re.compile(r"\b([A-Za-z_]\w*)\s+(\w+\s*\[\s*\](?:\s*,\s*\w+\s*\[\s*\])+)\s*;")
_DYN_ARRAY = re.compile(r"\b([A-Za-z_]\w*)(\s*&\s*|\s+)([A-Za-z_]\w*)\s*\[\s*\]")
_NOT_TYPES = frozenset({"return", "else", "case", "new", "delete", "sizeof", "typedef"})

#: Constructs outside the compilable subset, with the reason shown to the author.
FORBIDDEN: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"\bnew\s+[A-Za-z_]"),
        "`new` (object pointers) is outside the C++-compatible subset",
    ),
    (re.compile(r"\bdelete\s+[A-Za-z_]"), "`delete` is outside the C++-compatible subset"),
    (re.compile(r"\bGetPointer\s*\("), "pointers are outside the C++-compatible subset"),
    (re.compile(r"->"), "`->` is not MQL4"),
    (
        re.compile(r"\b(?:Open|High|Low|Close|Time|Volume|Bars|Digits|Point|Bid|Ask)\s*\("),
        "MQL4 predefined series/variable name used as a function name",
    ),
    (re.compile(r"\b[DC]__MQLLIT\d+__"), "D'..'/C'..' literals are outside the subset"),
    (
        re.compile(
            r"^[ \t]*(?!return\b|else\b|case\b|do\b)(?:static\s+)?(?:const\s+)?"
            r"\w+\s+\w+\s*\[\s*\w+\s*\]\s*[;=]",
            re.M,
        ),
        "fixed-size arrays: declare `T a[]` and ArrayResize() instead",
    ),
)


class ConversionError(ValueError):
    """A source uses a construct outside the C++-compatible subset."""


@dataclass(frozen=True)
class SyntaxIssue:
    """One ERROR/MISSING node found by the parser."""

    path: str
    line: int
    column: int
    kind: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.kind} near {self.text!r}"


def _mask(text: str) -> tuple[str, list[str]]:
    literals: list[str] = []

    def repl(match: re.Match[str]) -> str:
        literals.append(match.group(0))
        token = f"__MQLLIT{len(literals) - 1}__"
        newlines = match.group(0).count("\n")
        return token + "\n" * newlines  # keep line numbers of block comments

    return _LITERAL.sub(repl, text), literals


def _unmask(text: str, literals: list[str]) -> str:
    def repl(match: re.Match[str]) -> str:
        original = literals[int(match.group(1))]
        return original.replace("\n", " ") if original.startswith("/*") else original

    return _PLACEHOLDER.sub(repl, text)


def _rewrite_input(match: re.Match[str]) -> str:
    indent, kind, type_name, name, value = match.groups()
    const = "" if kind == "extern" else "const "
    default = value if value is not None else f"{type_name}()"
    return f'{indent}{const}{type_name} {name} = mql_input<{type_name}>("{name}", {default});'


def _rewrite_array(match: re.Match[str]) -> str:
    type_name, sep, name = match.groups()
    if type_name in _NOT_TYPES:
        return match.group(0)
    amp = "&" if "&" in sep else ""
    return f"MqlArray<{type_name}> {amp}{name}"


def _rewrite_array_list(match: re.Match[str]) -> str:
    type_name, names = match.groups()
    if type_name in _NOT_TYPES:
        return match.group(0)
    plain = ", ".join(re.sub(r"\s*\[\s*\]", "", n).strip() for n in names.split(","))
    return f"MqlArray<{type_name}> {plain};"


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def convert(text: str, path: str = "<mql4>") -> str:
    """Pre-pass one MQL4 source to C++; line numbers are preserved.

    Raises:
        ConversionError: the source uses a construct outside the subset.
    """
    masked, literals = _mask(text)
    problems = [
        f"{path}:{_line_of(masked, m.start())}: {reason}"
        for pattern, reason in FORBIDDEN
        for m in pattern.finditer(masked)
    ]
    if problems:
        raise ConversionError("\n".join(problems))
    out = _PROPERTY.sub(r"\1// #property", masked)

    def open_import(match: re.Match[str]) -> str:
        dll = literals[int(_PLACEHOLDER.search(match.group(1)).group(1))].strip('"')  # type: ignore[union-attr]
        ns = "mql_import_" + re.sub(r"\W", "_", dll.lower().removesuffix(".dll"))
        open_import.current = ns  # type: ignore[attr-defined]
        return f"namespace {ns} {{"

    open_import.current = ""  # type: ignore[attr-defined]
    pieces: list[str] = []
    pos = 0
    for match in _IMPORT_OPEN.finditer(out):
        close = _IMPORT_CLOSE.search(out, match.end())
        if close is None:
            raise ConversionError(f"{path}:{_line_of(out, match.start())}: unclosed #import")
        pieces.append(out[pos : match.start()])
        pieces.append(open_import(match))
        pieces.append(out[match.end() : close.start()])
        pieces.append(f"}} using namespace {open_import.current};")  # type: ignore[attr-defined]
        pos = close.end()
    pieces.append(out[pos:])
    out = "".join(pieces)
    out = _INPUT.sub(_rewrite_input, out)
    out = _DYN_ARRAY_LIST.sub(_rewrite_array_list, out)
    out = _DYN_ARRAY.sub(_rewrite_array, out)
    return f'#line 1 "{path}"\n' + _unmask(out, literals)


def convert_tree(mql4_root: Path, out_root: Path) -> list[Path]:
    """Pre-pass every .mq4/.mqh under ``mql4_root`` into ``out_root``.

    ``Include/X/Y.mqh`` keeps its path (so ``#include <X/Y.mqh>`` resolves with
    ``-I out_root/Include``); ``Experts/E.mq4`` becomes ``Experts/E.cpp``.
    """
    written = []
    for src in sorted(mql4_root.rglob("*")):
        if src.suffix not in (".mq4", ".mqh"):
            continue
        rel = src.relative_to(mql4_root)
        dst = out_root / (rel.with_suffix(".cpp") if src.suffix == ".mq4" else rel)
        dst.parent.mkdir(parents=True, exist_ok=True)
        text = src.read_text(encoding="utf-8")
        dst.write_text(convert(text, str(src)), encoding="utf-8")
        written.append(dst)
    return written


def check_syntax(text: str, path: str = "<mql4>") -> list[SyntaxIssue]:
    """Parse MQL4 ``text`` (after the pre-pass) with tree-sitter C++; return problems."""
    import tree_sitter
    import tree_sitter_cpp

    try:
        cpp = convert(text, path)
    except ConversionError as exc:
        return [SyntaxIssue(path, 0, 0, "SUBSET", line) for line in str(exc).splitlines()]
    cpp = cpp.split("\n", 1)[1]  # drop the #line marker: keep line numbers 1-based
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_cpp.language()))
    tree = parser.parse(cpp.encode("utf-8"))
    issues: list[SyntaxIssue] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            snippet = cpp.encode("utf-8")[node.start_byte : node.end_byte][:40].decode(
                "utf-8", "replace"
            )
            kind = "MISSING " + node.type if node.is_missing else "ERROR"
            issues.append(
                SyntaxIssue(path, node.start_point[0] + 1, node.start_point[1] + 1, kind, snippet)
            )
        if node.has_error:
            stack.extend(node.children)
    return sorted(issues, key=lambda i: (i.line, i.column))


def _main(argv: list[str]) -> int:
    if len(argv) >= 3 and argv[0] == "convert":
        for path in convert_tree(Path(argv[1]), Path(argv[2])):
            sys.stdout.write(f"{path}\n")
        return 0
    if len(argv) >= 2 and argv[0] == "check":
        failed = 0
        for name in argv[1:]:
            issues = check_syntax(Path(name).read_text(encoding="utf-8"), name)
            for issue in issues:
                sys.stdout.write(f"{issue}\n")
            failed += bool(issues)
        return 1 if failed else 0
    sys.stderr.write(__doc__ or "")
    return 2


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
