"""Build the EA's Linux verification binaries (g++, C++17, -Wall -Werror).

The EA's own translation units also get ``-Wconversion``, a stand-in for
MetaEditor's strict mode, which warns on implicit lossy conversions ("possible
loss of data due to type conversion"); with ``-Werror`` such a conversion in the
EA fails the build. Shim and driver sources are not held to it (the shim header
switches it off for itself).

Targets:

``core``          the EA's pure modules (``Include/CopyGateway/Core.mqh``) linked into
                  ``linux/tests/protocol_driver.cpp``: golden-fixture decode/encode and
                  the C++ unit tests.
``terminal``      the whole EA (``Experts/CopyGateway.mq4`` and everything it includes)
                  in its default, DLL-free build, linked against the terminal shim
                  (``linux/shim/terminal.cpp``): a process that runs the EA against a
                  real gateway over HTTP.
``terminal-dll``  the same with ``COPYGATE_WITH_DLL`` defined (the WebSocket transport
                  over ``ws2_32.dll`` and ``RtlGenRandom``), linked with the shim's
                  ``ws2_32.cpp``.

Both compile the EA's *own* sources after the ``mql2cpp`` pre-pass. Artifacts go
to ``$COPYGATE_EA_BUILD_DIR`` or ``<tmp>/copygate-ea-build/<target>-<hash>``,
keyed by a hash of every input, so an unchanged tree is not rebuilt.

Usage: ``python ea_mql4/tools/eabuild.py core|terminal|terminal-dll`` prints the binary path.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mql2cpp import convert_tree

__all__ = [
    "CXXFLAGS",
    "DLL_SWITCH",
    "EA_DIR",
    "MQL4_DIR",
    "STRICT_FLAGS",
    "BuildError",
    "build",
    "build_root",
    "preprocess_expert",
    "syntax_only",
]

EA_DIR = Path(__file__).resolve().parents[1]
MQL4_DIR = EA_DIR / "MQL4"
SHIM_DIR = EA_DIR / "linux" / "shim"
LINUX_TESTS_DIR = EA_DIR / "linux" / "tests"
CXXFLAGS = ("-std=c++17", "-Wall", "-Werror", "-O0", "-g0", "-pipe")
#: Added for the EA's own translation units (MetaEditor's strict mode warns on
#: lossy implicit conversions); shim and driver sources are not EA code.
STRICT_FLAGS = ("-Wconversion",)
#: The compile-time switch of the DLL build (``#define COPYGATE_WITH_DLL`` in MQL4).
DLL_SWITCH = "COPYGATE_WITH_DLL"
_TERMINAL_UNITS = (
    "src/Experts/CopyGateway.cpp",
    "linux/shim/shim_core.cpp",
    "linux/shim/terminal.cpp",
)
_TARGETS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    # target: (translation units, defines, link flags); "src/" = pre-passed EA sources
    "core": (("linux/tests/protocol_driver.cpp", "linux/shim/shim_core.cpp"), (), ()),
    "terminal": (_TERMINAL_UNITS, (), ("-pthread",)),
    "terminal-dll": ((*_TERMINAL_UNITS, "linux/shim/ws2_32.cpp"), (DLL_SWITCH,), ("-pthread",)),
}


class BuildError(RuntimeError):
    """g++ (or the pre-pass) failed; the message carries its output."""


def build_root() -> Path:
    """Where build directories live (never inside the repository)."""
    configured = os.environ.get("COPYGATE_EA_BUILD_DIR")
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "copygate-ea-build"


def _inputs_digest(target: str) -> str:
    digest = hashlib.sha256(target.encode())
    digest.update(" ".join((*CXXFLAGS, *STRICT_FLAGS)).encode())
    for folder in (MQL4_DIR, SHIM_DIR, LINUX_TESTS_DIR, Path(__file__).parent):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix in (".mq4", ".mqh", ".h", ".cpp", ".py"):
                digest.update(str(path.relative_to(EA_DIR)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _compile(work: Path, target: str) -> Path:
    units, defines, link_flags = _TARGETS[target]
    convert_tree(MQL4_DIR, work / "src")
    common = [
        "g++",
        *CXXFLAGS,
        *(f"-D{name}" for name in defines),
        "-include",
        str(SHIM_DIR / "mql4_shim.h"),
        "-I",
        str(work / "src" / "Include"),
        "-I",
        str(SHIM_DIR),
    ]
    procs = []
    objects = []
    for unit in units:
        ea_unit = unit.startswith("src/")
        source = work / unit if ea_unit else EA_DIR / unit
        strict = STRICT_FLAGS if ea_unit else ()
        obj = work / (Path(unit).stem + ".o")
        objects.append(obj)
        procs.append(
            (
                unit,
                subprocess.Popen(
                    [*common, *strict, "-c", str(source), "-o", str(obj)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                ),
            )
        )
    errors = []
    for unit, proc in procs:
        output, _ = proc.communicate()
        if proc.returncode != 0:
            errors.append(f"--- {unit}\n{output}")
    if errors:
        raise BuildError("\n".join(errors))
    exe = work / target
    link = subprocess.run(
        ["g++", *[str(o) for o in objects], *link_flags, "-o", str(exe)],
        capture_output=True,
        text=True,
        check=False,
    )
    if link.returncode != 0:
        raise BuildError(link.stdout + link.stderr)
    return exe


def _gxx_on_expert(mql4_root: Path, work: Path, flags: list[str]) -> str:
    """Pre-pass ``mql4_root`` into ``work``, run g++ ``flags`` on the expert; its stdout.

    Raises:
        BuildError: g++ failed (its output is the message).
    """
    convert_tree(mql4_root, work / "src")
    result = subprocess.run(
        [
            "g++",
            *flags,
            "-I",
            str(work / "src" / "Include"),
            str(work / "src" / "Experts" / "CopyGateway.cpp"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BuildError(result.stdout + result.stderr)
    return result.stdout


def syntax_only(mql4_root: Path, work: Path) -> None:
    """Pre-pass ``mql4_root`` into ``work`` and type-check the expert with g++.

    Raises:
        BuildError: g++ rejected the sources (its output is the message).
    """
    _gxx_on_expert(
        mql4_root,
        work,
        [*CXXFLAGS, *STRICT_FLAGS, "-fsyntax-only", "-include", str(SHIM_DIR / "mql4_shim.h")],
    )


def preprocess_expert(work: Path, defines: tuple[str, ...] = ()) -> str:
    """The expert after the pre-pass and the C preprocessor, with ``defines`` set.

    The pre-pass turns every ``#import "x.dll"`` block into ``namespace
    mql_import_x {``, so the result shows which DLLs a build imports.

    Raises:
        BuildError: the preprocessor failed (its output is the message).
    """
    return _gxx_on_expert(
        MQL4_DIR, work, ["-std=c++17", "-E", "-P", *(f"-D{name}" for name in defines)]
    )


def build(target: str) -> Path:
    """Build ``target`` (one of ``core``, ``terminal``, ``terminal-dll``); return the binary.

    An unchanged tree is not rebuilt.
    """
    if target not in _TARGETS:
        raise ValueError(f"unknown target {target!r}")
    final = build_root() / f"{target}-{_inputs_digest(target)}"
    exe = final / target
    if exe.exists():
        return exe
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{target}-", dir=final.parent))
    try:
        _compile(work, target)
        try:
            work.rename(final)
        except OSError:  # another process finished the same build first
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return exe


if __name__ == "__main__":
    sys.stdout.write(f"{build(sys.argv[1] if len(sys.argv) > 1 else 'core')}\n")
