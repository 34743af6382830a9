"""Strict-MQL checker: what MetaEditor rejects but g++ (and the pre-pass) accept.

The EA is verified on Linux by compiling it with g++ against a shim, and g++ is
more permissive than MetaEditor. This checker parses the *raw* MQL4 sources
with tree-sitter's C++ grammar and reports the constructs MQL4 refuses:

``ref-arg``        a literal or temporary (any non-lvalue) passed to a ``&``
                   parameter ("parameter passed as reference, variable
                   expected"). Calls are resolved against the functions and
                   methods declared in the sources (member calls on objects of
                   a known class, overloads by arity) and the built-ins' prototypes.
``reserved-word``  an MQL4 reserved word (``input``, ``color``, ``datetime``...)
                   declared as a name.
``cpp-feature``    C++ that MQL4 lacks: pointers to non-class types, templates
                   beyond plain ``template<typename T>`` functions/classes,
                   try/catch/throw, ``auto``, lambdas, namespaces, references
                   outside parameters (members, return types, locals), default
                   arguments on reference parameters, goto, multiple
                   inheritance, and a few more.
``dll-import``     ``#import`` of a DLL outside ``#ifdef COPYGATE_WITH_DLL``:
                   the default (poll) build must import no DLL at all.
``parse``          text the grammar cannot parse: the other rules could miss
                   something there, so it is a finding too.

Usage::

    python ea_mql4/tools/mqlcheck.py [<MQL4 dir or file>...]

prints ``file:line: rule: message`` per finding and exits 1 if there is any.
Without arguments it checks the EA (``ea_mql4/MQL4``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import tree_sitter

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mqlindex import (
    BUILTINS,
    Index,
    Signature,
    build_index,
    declared_name,
    enclosing_class,
    function_declarator,
    local_types,
    parse,
    text_of,
    type_kind,
    walk,
)

__all__ = [
    "DLL_SWITCH",
    "RESERVED_WORDS",
    "RULES",
    "Finding",
    "check_paths",
    "check_sources",
]

#: The compile-time switch that enables the DLL-using parts of the EA.
DLL_SWITCH = "COPYGATE_WITH_DLL"
RULES = ("ref-arg", "reserved-word", "cpp-feature", "dll-import", "parse")

#: MQL4 reserved words (docs.mql4.com, Language Basics > Syntax > Reserved Words),
#: preprocessor directives without their ``#``.
RESERVED_WORDS = frozenset(
    (
        # data types
        *("bool", "enum", "struct", "char", "float", "uchar", "class", "int", "uint", "color"),
        *("long", "ulong", "datetime", "short", "ushort", "double", "string", "void"),
        # access specifiers
        *("const", "private", "protected", "public", "virtual"),
        # memory classes
        *("extern", "input", "static"),
        # operators
        *("break", "dynamic_cast", "return", "case", "else", "sizeof", "continue", "for"),
        *("switch", "default", "if", "while", "delete", "new", "do", "operator"),
        # other
        *("false", "define", "property", "this", "import", "template", "true", "include"),
        *("typename", "strict"),
    )
)

_FEATURES = {
    "try_statement": "try/catch (MQL4 has no exceptions)",
    "throw_expression": "throw (MQL4 has no exceptions)",
    "throw_statement": "throw (MQL4 has no exceptions)",
    "lambda_expression": "lambdas are not MQL4",
    "namespace_definition": "namespaces are not MQL4",
    "using_declaration": "`using` is not MQL4",
    "alias_declaration": "`using` aliases are not MQL4",
    "namespace_alias_definition": "namespaces are not MQL4",
    "placeholder_type_specifier": "`auto` is not MQL4",
    "for_range_loop": "range-based for is not MQL4",
    "static_assert_declaration": "static_assert is not MQL4",
    "decltype": "decltype is not MQL4",
    "nullptr": "nullptr is not MQL4 (use NULL)",
    "goto_statement": "goto is not MQL4",
}


@dataclass(frozen=True)
class Finding:
    """One construct MetaEditor would reject."""

    path: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}: {self.message}"


class _Checker:
    def __init__(self, index: Index) -> None:
        self.index = index
        self.findings: list[Finding] = []
        self.scopes: dict[int, dict[str, str]] = {}  # function node id -> local types

    def add(self, path: str, node: tree_sitter.Node, rule: str, message: str) -> None:
        self.findings.append(Finding(path, node.start_point[0] + 1, rule, message))

    # --- ref-arg ---------------------------------------------------------
    def type_of(self, expr: tree_sitter.Node, cls: str | None, scope: dict[str, str]) -> str | None:
        if expr.type == "identifier":
            name = text_of(expr)
            known = scope.get(name) or self.index.field_type(cls, name)
            return known or self.index.globals.get(name)
        if expr.type == "this":
            return cls
        if expr.type in ("subscript_expression", "parenthesized_expression"):
            inner = expr.child_by_field_name("argument") or (
                expr.named_children[0] if expr.named_children else None
            )
            return self.type_of(inner, cls, scope) if inner is not None else None
        if expr.type == "field_expression":
            base = expr.child_by_field_name("argument")
            owner = self.type_of(base, cls, scope) if base is not None else None
            return self.index.field_type(owner, text_of(expr.child_by_field_name("field")))
        return None

    def is_lvalue(self, expr: tree_sitter.Node) -> bool:
        if expr.type == "identifier":
            return text_of(expr) not in self.index.constants
        if expr.type == "this":
            return True
        if expr.type == "field_expression":
            base = expr.child_by_field_name("argument")
            return base is not None and self.is_lvalue(base)
        if expr.type == "subscript_expression":
            base = expr.child_by_field_name("argument")
            return base is not None and self.is_lvalue(base)
        if expr.type == "parenthesized_expression" and len(expr.named_children) == 1:
            return self.is_lvalue(expr.named_children[0])
        return False

    def ref_positions(
        self, call: tree_sitter.Node, nargs: int, cls: str | None, scope: dict[str, str]
    ) -> tuple[str, set[int]]:
        callee = call.child_by_field_name("function")
        sigs: list[Signature] | None = None
        name = text_of(callee)
        if callee is not None and callee.type == "identifier":
            sigs = self.index.method(cls, name)
            if sigs is not None:
                name = f"{cls}::{name}"
            sigs = sigs or self.index.functions.get(name) or BUILTINS.functions.get(name)
        elif callee is not None and callee.type == "field_expression":
            base = callee.child_by_field_name("argument")
            owner = self.type_of(base, cls, scope) if base is not None else None
            name = text_of(callee.child_by_field_name("field"))
            sigs = self.index.method(owner, name)
            name = f"{owner}::{name}"
        elif callee is not None and callee.type == "qualified_identifier":
            scope_name = text_of(callee.child_by_field_name("scope"))
            short = text_of(callee.child_by_field_name("name"))
            sigs = self.index.method(scope_name, short) if scope_name else None
            sigs = sigs or self.index.functions.get(short)
        candidates = [s for s in sigs or () if s.required <= nargs <= len(s.refs)]
        if not candidates:
            return name, set()
        return name, {i for i in range(nargs) if all(s.refs[i] for s in candidates)}

    def context(self, node: tree_sitter.Node) -> tuple[str | None, dict[str, str]]:
        """Class and local variable types seen from ``node`` (globals only outside functions)."""
        function = node.parent
        while function is not None and function.type != "function_definition":
            function = function.parent
        if function is None:
            return None, {}
        cls = enclosing_class(function)
        declarator = declared_name(function.child_by_field_name("declarator"))
        if declarator is not None and declarator.type == "qualified_identifier":
            cls = text_of(declarator.child_by_field_name("scope")) or cls
        if function.id not in self.scopes:
            self.scopes[function.id] = local_types(function)
        return cls, self.scopes[function.id]

    def check_calls(self, path: str, root: tree_sitter.Node) -> None:
        for call in walk(root):
            if call.type != "call_expression":
                continue
            cls, scope = self.context(call)
            args_node = call.child_by_field_name("arguments")
            args = [
                a
                for a in (args_node.named_children if args_node is not None else ())
                if a.type != "comment"
            ]
            name, refs = self.ref_positions(call, len(args), cls, scope)
            for i in sorted(refs):
                if not self.is_lvalue(args[i]):
                    self.add(
                        path,
                        args[i],
                        "ref-arg",
                        f"argument {i + 1} of {name}() is passed by reference but "
                        f"{text_of(args[i])[:40]!r} is not a variable",
                    )

    # --- reserved-word ---------------------------------------------------
    def check_names(self, path: str, root: tree_sitter.Node) -> None:
        for node in walk(root):
            names: list[tree_sitter.Node | None] = []
            if node.type in (
                "declaration",
                "field_declaration",
                "parameter_declaration",
                "optional_parameter_declaration",
                "function_definition",
            ):
                names = [declared_name(d) for d in node.children_by_field_name("declarator")]
            elif node.type in (
                "class_specifier",
                "struct_specifier",
                "enum_specifier",
                "enumerator",
                "preproc_def",
                "preproc_function_def",
            ):
                names = [node.child_by_field_name("name")]
            for name in names:
                if name is not None and text_of(name) in RESERVED_WORDS:
                    message = f"{text_of(name)!r} is an MQL4 reserved word"
                    self.add(path, name, "reserved-word", message)

    # --- cpp-feature -----------------------------------------------------
    def check_features(self, path: str, root: tree_sitter.Node) -> None:
        for node in walk(root):
            if node.type in _FEATURES:
                self.add(path, node, "cpp-feature", _FEATURES[node.type])
            elif node.type == "template_declaration":
                self.check_template(path, node)
            elif node.type in ("pointer_declarator", "abstract_pointer_declarator"):
                holder = node.parent
                while holder is not None and holder.child_by_field_name("type") is None:
                    holder = holder.parent
                type_name = text_of(holder.child_by_field_name("type")) if holder else ""
                if type_name not in self.index.classes or type_name in self.index.structs:
                    self.add(path, node, "cpp-feature", f"pointer to non-class type {type_name!r}")
            elif node.type == "reference_declarator":
                self.check_reference(path, node)
            elif node.type == "base_class_clause":
                bases = [c for c in node.named_children if c.type == "type_identifier"]
                if len(bases) > 1:
                    self.add(path, node, "cpp-feature", "multiple inheritance is not MQL4")

    def check_template(self, path: str, node: tree_sitter.Node) -> None:
        params = node.child_by_field_name("parameters")
        kinds = [c.type for c in params.named_children] if params is not None else []
        problems = [
            f"template parameter kind {k} is not MQL4"
            for k in kinds
            if k != "type_parameter_declaration"  # typename T / class T
        ]
        if not kinds:
            problems.append("template specialisation is not MQL4")
        for inner in node.named_children:
            if inner.type in ("template_parameter_list", "comment"):
                continue
            declarators = inner.children_by_field_name("declarator")
            is_function = inner.type == "function_definition" or (
                inner.type == "declaration" and any(function_declarator(d) for d in declarators)
            )
            is_class = inner.type in ("class_specifier", "struct_specifier") or (
                inner.type == "declaration"
                and not declarators
                and type_kind(inner) in ("class_specifier", "struct_specifier")
            )
            if not (is_function or is_class):
                problems.append("only function and class templates are MQL4")
        if problems:
            self.add(path, node, "cpp-feature", problems[0])

    def check_reference(self, path: str, node: tree_sitter.Node) -> None:
        if any(c.type == "&&" for c in node.children):
            self.add(path, node, "cpp-feature", "rvalue references are not MQL4")
        parent = node.parent
        if parent is None:
            return
        inner = node.named_children[0] if node.named_children else None
        if parent.type == "optional_parameter_declaration":
            self.add(path, node, "cpp-feature", "default argument on a reference parameter")
        elif inner is not None and inner.type == "function_declarator":
            self.add(path, node, "cpp-feature", "functions cannot return references in MQL4")
        elif parent.type == "field_declaration":
            self.add(path, node, "cpp-feature", "reference members are not MQL4")
        elif parent.type in ("declaration", "init_declarator"):
            self.add(path, node, "cpp-feature", "references exist only as parameters in MQL4")

    # --- dll-import ------------------------------------------------------
    def check_imports(self, path: str, root: tree_sitter.Node) -> None:
        for node in walk(root):
            if node.type != "preproc_call":
                continue
            if text_of(node.child_by_field_name("directive")) != "#import":
                continue
            argument = text_of(node.child_by_field_name("argument")).strip()
            if argument and not _inside_switch(node):
                self.add(
                    path,
                    node,
                    "dll-import",
                    f"#import {argument} outside #ifdef {DLL_SWITCH}: the default build "
                    "must use no DLL",
                )


def _inside_switch(node: tree_sitter.Node) -> bool:
    child, parent = node, node.parent
    while parent is not None:
        switch = text_of(parent.child_by_field_name("name"))
        if parent.type == "preproc_ifdef" and switch == DLL_SWITCH:
            negated = text_of(parent.children[0]) == "#ifndef"
            in_else = child == parent.child_by_field_name("alternative")
            if negated == in_else:
                return True
        child, parent = parent, parent.parent
    return False


def check_sources(sources: dict[str, str]) -> list[Finding]:
    """Check MQL4 ``sources`` (path -> text) together; calls resolve across files."""
    trees = {path: parse(text) for path, text in sources.items()}
    checker = _Checker(build_index(trees.values()))
    for path, root in trees.items():
        for node in walk(root):
            if node.is_error or node.is_missing:
                checker.add(path, node, "parse", f"cannot parse near {text_of(node)[:40]!r}")
        checker.check_calls(path, root)
        checker.check_names(path, root)
        checker.check_features(path, root)
        checker.check_imports(path, root)
    return sorted(checker.findings, key=lambda f: (f.path, f.line, f.rule, f.message))


def check_paths(paths: Iterable[Path]) -> list[Finding]:
    """Check every .mq4/.mqh file under ``paths`` (files or directories)."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.rglob("*.mq[4h]")) if path.is_dir() else [path])
    return check_sources({str(f): f.read_text(encoding="utf-8") for f in files})


def _main(argv: list[str]) -> int:
    default = Path(__file__).resolve().parents[1] / "MQL4"
    findings = check_paths([Path(a) for a in argv] or [default])
    for finding in findings:
        sys.stdout.write(f"{finding}\n")
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
