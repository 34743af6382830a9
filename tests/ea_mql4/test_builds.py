"""The EA's two builds and the strict-mode compile.

The default build imports no DLL (a DLL-using EA prompts the user and is
refused by MetaQuotes' VPS); ``#define COPYGATE_WITH_DLL`` adds the WebSocket
transport (ws2_32) and RtlGenRandom (advapi32). The pre-pass turns every
``#import "x.dll"`` into ``namespace mql_import_x {``, so the preprocessed
expert shows exactly which DLLs a build imports.

g++ builds with ``-Wconversion -Werror`` in place of MetaEditor's strict mode,
which warns on implicit lossy conversions.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import eabuild
import pytest


def imported_dlls(defines: tuple[str, ...], work: Path) -> set[str]:
    text = eabuild.preprocess_expert(work, defines)
    assert "class CCopyGatewayEa" in text  # the whole expert was preprocessed
    return set(re.findall(r"namespace mql_import_(\w+)", text))


def test_the_default_poll_build_imports_no_dll(tmp_path: Path) -> None:
    assert imported_dlls((), tmp_path) == set()


def test_the_dll_build_imports_ws2_32_and_advapi32(tmp_path: Path) -> None:
    assert imported_dlls((eabuild.DLL_SWITCH,), tmp_path) == {"ws2_32", "advapi32"}


def test_ea_sources_build_with_strict_conversion_warnings_as_errors() -> None:
    assert "-Werror" in eabuild.CXXFLAGS
    assert "-Wconversion" in eabuild.STRICT_FLAGS


@pytest.mark.parametrize(
    ("original", "lossy"),
    [
        ("int sent=0;", "int sent=0.5;"),  # double -> int
        ("long ack=m_inbox.AckSeq();", "int ack=m_inbox.AckSeq();"),  # long -> int
    ],
)
def test_an_implicit_lossy_conversion_in_the_ea_fails_the_build(
    tmp_path: Path, original: str, lossy: str
) -> None:
    tree = tmp_path / "MQL4"
    shutil.copytree(eabuild.MQL4_DIR, tree)
    ea = tree / "Include" / "CopyGateway" / "EaTransport.mqh"
    text = ea.read_text(encoding="utf-8")
    assert original in text
    ea.write_text(text.replace(original, lossy, 1), encoding="utf-8")
    strict_error = r"EaTransport\.mqh:\d+:\d+: error: conversion from .*-Werror="
    with pytest.raises(eabuild.BuildError, match=strict_error):
        eabuild.syntax_only(tree, tmp_path / "work")
