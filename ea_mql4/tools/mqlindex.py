"""Declarations of MQL4 sources, parsed with tree-sitter's C++ grammar.

The strict-MQL checker (``mqlcheck.py``) needs to know, for a call, whether a
parameter is a reference: this module parses raw MQL4 (``input``/``sinput``
become ``const``/``static`` of the same width, so columns and lines stay) and
indexes free functions, classes and structs (methods with their signatures,
fields with their types, base classes), globals, macros and enumerators.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import tree_sitter
import tree_sitter_cpp

__all__ = [
    "BUILTINS",
    "BUILTIN_PROTOTYPES",
    "ClassInfo",
    "Index",
    "Signature",
    "build_index",
    "declarator_chain",
    "declared_name",
    "enclosing_class",
    "function_declarator",
    "local_types",
    "parse",
    "signature",
    "text_of",
    "type_kind",
    "walk",
    "wraps",
]

#: Prototypes of the built-in MQL4 functions that take references (MQL4 reference).
BUILTIN_PROTOTYPES = """
bool StringAdd(string &string_var,const string add_substring);
bool StringInit(string &string_var,int new_len=0,ushort character=0);
int StringReplace(string &str,const string find,const string replacement);
bool StringSetCharacter(string &string_var,int pos,ushort character);
bool StringToLower(string &string_var);
bool StringToUpper(string &string_var);
int StringToCharArray(string text_string,uchar &array[],int start=0,int count=-1,uint codepage=0);
int StringSplit(const string string_value,const ushort separator,string &result[]);
string CharArrayToString(uchar &array[],int start=0,int count=-1,uint codepage=0);
int ArrayResize(void &array[],int new_size,int reserve_size=0);
void ArrayFree(void &array[]);
int ArrayInitialize(void &array[],double value);
int ArrayCopy(void &dst_array[],const void &src_array[],int dst_start=0,int src_start=0,
              int count=-1);
uint FileReadArray(int file_handle,void &array[],int start=0,int count=-1);
uint FileWriteArray(int file_handle,const void &array[],int start=0,int count=-1);
int CryptEncode(int method,const uchar &data[],const uchar &key[],uchar &result[]);
int CryptDecode(int method,const uchar &data[],const uchar &key[],uchar &result[]);
int WebRequest(const string method,const string url,const string headers,int timeout,
               const char &data[],char &result[],string &result_headers);
int WebRequest(const string method,const string url,const string cookie,const string referer,
               int timeout,const char &data[],int data_size,char &result[],
               string &result_headers);
"""

_PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_cpp.language()))
# MQL storage classes the C++ grammar does not know; same width keeps columns.
_STORAGE = re.compile(r"((?:^|;)[ \t]*)(input|sinput)(?=[ \t]+\w+[ \t]+\w)", re.M)
_DECLARATORS = {
    "init_declarator",
    "reference_declarator",
    "pointer_declarator",
    "array_declarator",
    "function_declarator",
    "parenthesized_declarator",
}


@dataclass(frozen=True)
class Signature:
    """Which parameters of one function/method overload are references."""

    refs: tuple[bool, ...]  # per parameter: declared with `&`
    required: int  # parameters without a default


@dataclass
class ClassInfo:
    """A class or struct: base class, methods (overloads) and field types."""

    base: str | None = None
    methods: dict[str, list[Signature]] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class Index:
    """Everything declared in a set of sources."""

    functions: dict[str, list[Signature]] = field(default_factory=dict)
    classes: dict[str, ClassInfo] = field(default_factory=dict)
    globals: dict[str, str] = field(default_factory=dict)
    constants: set[str] = field(default_factory=set)  # macros and enumerators
    structs: set[str] = field(default_factory=set)  # no pointers to these

    def lineage(self, cls: str | None) -> Iterator[ClassInfo]:
        """``cls`` and its base classes, nearest first (unknown classes end it)."""
        seen: set[str] = set()
        while cls is not None and cls in self.classes and cls not in seen:
            seen.add(cls)
            yield self.classes[cls]
            cls = self.classes[cls].base

    def method(self, cls: str | None, name: str) -> list[Signature] | None:
        """Overloads of ``cls.name``, looked up through base classes."""
        return next((c.methods[name] for c in self.lineage(cls) if name in c.methods), None)

    def field_type(self, cls: str | None, name: str) -> str | None:
        """Declared type of field ``cls.name``, looked up through base classes."""
        return next((c.fields[name] for c in self.lineage(cls) if name in c.fields), None)


def text_of(node: tree_sitter.Node | None) -> str:
    """Source text of ``node`` ("" for None)."""
    return node.text.decode("utf-8", "replace") if node is not None and node.text else ""


def walk(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    """``node`` and every descendant, in source order."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def declarator_chain(declarator: tree_sitter.Node | None) -> list[tree_sitter.Node]:
    """The nodes from ``declarator`` down to the name it declares (through &, *, [], (), =)."""
    chain: list[tree_sitter.Node] = []
    while declarator is not None:
        chain.append(declarator)
        if declarator.type not in _DECLARATORS:
            break
        inner = declarator.child_by_field_name("declarator")
        if inner is None:  # reference_declarator has no field name for its child
            inner = next((c for c in declarator.named_children if c.type != "type_qualifier"), None)
        declarator = inner
    return chain


def declared_name(declarator: tree_sitter.Node | None) -> tree_sitter.Node | None:
    """The identifier a declarator declares."""
    chain = declarator_chain(declarator)
    return chain[-1] if chain and chain[-1].type not in _DECLARATORS else None


def wraps(declarator: tree_sitter.Node | None, kind: str) -> bool:
    """Whether a ``kind`` declarator lies on the path from ``declarator`` to its name."""
    return any(node.type == kind for node in declarator_chain(declarator))


def function_declarator(declarator: tree_sitter.Node | None) -> tree_sitter.Node | None:
    """The function declarator inside ``declarator``, if it declares a function."""
    return next((n for n in declarator_chain(declarator) if n.type == "function_declarator"), None)


def signature(function: tree_sitter.Node) -> Signature:
    """The signature of a function declarator."""
    params = function.child_by_field_name("parameters")
    refs: list[bool] = []
    required = 0
    for param in params.named_children if params is not None else ():
        if param.type not in ("parameter_declaration", "optional_parameter_declaration"):
            continue
        declarator = param.child_by_field_name("declarator")
        if declarator is None and text_of(param.child_by_field_name("type")) == "void":
            continue  # f(void)
        refs.append(wraps(declarator, "reference_declarator"))
        required += param.type == "parameter_declaration"
    return Signature(tuple(refs), required)


def type_kind(node: tree_sitter.Node) -> str:
    """Node type of a declaration's ``type`` ("" if it has none)."""
    type_node = node.child_by_field_name("type")
    return type_node.type if type_node is not None else ""


def enclosing_class(node: tree_sitter.Node) -> str | None:
    """Name of the class/struct whose body contains ``node``."""
    parent = node.parent
    while parent is not None:
        if parent.type in ("class_specifier", "struct_specifier"):
            return text_of(parent.child_by_field_name("name")) or None
        parent = parent.parent
    return None


def parse(text: str) -> tree_sitter.Node:
    """Parse MQL4 ``text``; return the root node."""

    def storage(match: re.Match[str]) -> str:
        return match.group(1) + ("const" if match.group(2) == "input" else "static")

    return _PARSER.parse(_STORAGE.sub(storage, text).encode("utf-8")).root_node


def build_index(trees: Iterable[tree_sitter.Node]) -> Index:
    """Index the declarations of parsed sources (calls resolve across them)."""
    index = Index()
    for root in trees:
        for node in walk(root):
            if node.type in ("class_specifier", "struct_specifier"):
                name = text_of(node.child_by_field_name("name"))
                if name and node.child_by_field_name("body") is not None:
                    info = index.classes.setdefault(name, ClassInfo())
                    if node.type == "struct_specifier":
                        index.structs.add(name)
                    base = next((c for c in node.children if c.type == "base_class_clause"), None)
                    if base is not None:
                        ids = [c for c in base.named_children if c.type == "type_identifier"]
                        info.base = text_of(ids[0]) if ids else None
            elif node.type in ("preproc_def", "preproc_function_def", "enumerator"):
                index.constants.add(text_of(node.child_by_field_name("name")))
            elif node.type in ("function_definition", "declaration", "field_declaration"):
                _index_declaration(index, node)
    return index


def _index_declaration(index: Index, node: tree_sitter.Node) -> None:
    cls = enclosing_class(node)
    owner = index.classes.setdefault(cls, ClassInfo()) if cls else None
    type_name = text_of(node.child_by_field_name("type"))
    for declarator in node.children_by_field_name("declarator"):
        name_node = declared_name(declarator)
        function = function_declarator(declarator)
        if name_node is None:
            continue
        name = text_of(name_node)
        if function is not None:
            if name_node.type in ("qualified_identifier",):
                scope = text_of(name_node.child_by_field_name("scope"))
                short = text_of(name_node.child_by_field_name("name"))
                target = index.classes.setdefault(scope, ClassInfo()).methods
                target.setdefault(short, []).append(signature(function))
            elif owner is not None:
                owner.methods.setdefault(name, []).append(signature(function))
            elif node.parent is not None and node.parent.type != "compound_statement":
                index.functions.setdefault(name, []).append(signature(function))
        elif owner is not None and node.type == "field_declaration":
            owner.fields[name] = type_name
        elif node.parent is not None and node.parent.type in (
            "translation_unit",
            "preproc_ifdef",
            "preproc_if",
            "preproc_else",
        ):
            index.globals[name] = type_name


def local_types(function: tree_sitter.Node) -> dict[str, str]:
    """Parameters and locals of a function definition: name -> declared type."""
    scope: dict[str, str] = {}
    for node in walk(function):
        if node.type in ("parameter_declaration", "optional_parameter_declaration", "declaration"):
            type_name = text_of(node.child_by_field_name("type"))
            for declarator in node.children_by_field_name("declarator"):
                if function_declarator(declarator) is not None and node.type == "declaration":
                    continue
                name_node = declared_name(declarator)
                if name_node is not None:
                    scope[text_of(name_node)] = type_name
    return scope


#: The built-in functions with reference parameters, indexed like the sources.
BUILTINS = build_index([parse(BUILTIN_PROTOTYPES)])
