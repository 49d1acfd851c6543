"""The library's dependencies point one way: every import of every module is checked.

DESIGN.md draws the layers as ``sim <- {check, viz, net} <- topics and workloads <- grading <-
labs`` (and ``widgets <- viz``, ``check <- viz``: the checkers' pictures take the drawings'
colours); the soak (`distlab.soak`) sits on top of the labs.
`MAY_IMPORT` below writes that down, one row per layer: the layers its modules may import,
besides their own. Every module under ``src/distlab/`` is parsed (not imported) and each
``import distlab...`` in it -- at the top, inside a function, under ``TYPE_CHECKING`` alike --
must be allowed by its row; a failure names the module, the line and the import that goes the
wrong way.

A *topic* is any other top-level module or package: ``clocks``, ``election``, ``failures``,
``gossip``, ``rpc``, ``kv``, ``consensus``, ``serialization``, ``membership``... Topics may
import each other (later chapters reuse earlier ones) and the workloads (one client vocabulary
for every chapter); the workloads, shared by every chapter, import no topic.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
TESTS = Path(__file__).resolve().parent

#: layer -> the other layers its modules may import (every layer may import itself)
MAY_IMPORT: dict[str, set[str]] = {
    "sim":       set(),
    # the pictures of histories (check.history_plot) take their colours from viz.palette
    "check":     {"sim", "viz"},
    "viz":       {"sim"},
    "net":       {"sim"},
    "widgets":   {"sim", "viz"},
    "workloads": {"sim", "check"},
    "topics":    {"sim", "check", "viz", "net", "workloads"},
    "grading":   {"sim", "check", "viz", "net", "workloads", "topics"},
    "labs":      {"sim", "check", "viz", "net", "workloads", "topics", "grading", "widgets"},
    # the soak runs the library's protocols and the labs' solutions under random faults
    "soak":      {"sim", "check", "viz", "net", "workloads", "topics", "grading", "labs",
                  "widgets"},
    # the package itself (distlab/__init__.py, a `python -m distlab` entry point)
    "distlab":   {"sim", "check", "viz", "net", "workloads", "topics", "grading", "widgets"},
}
#: the layers that are one package each; every other top-level name is a topic
PACKAGES = set(MAY_IMPORT) - {"topics", "distlab"}


def layer(module: str) -> str:
    """The layer of a module: ``distlab.sim.trace`` -> sim, ``distlab.kv.register`` -> topics."""
    parts = module.split(".")
    if parts == ["distlab"] or parts[1] in ("__main__", "__init__"):
        return "distlab"
    return parts[1] if parts[1] in PACKAGES else "topics"


def module_name(path: Path) -> str:
    """``src/distlab/sim/trace.py`` -> ``distlab.sim.trace`` (a package by its own name)."""
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every distlab module that ``path`` imports, relative imports resolved."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # from . import x, from ..sim import y
                base = package[:len(package) - node.level + 1]
                found.append((node.lineno, ".".join([*base, node.module or ""]).rstrip(".")))
            elif node.module:
                found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name.split(".")[0] == "distlab"]


def lab_of(module: str) -> str | None:
    """The lab a module of ``distlab.labs`` belongs to: ``lab04_raft`` for
    ``distlab.labs.lab04_raft.part_b`` (a lab may be a package), None for ``distlab.labs``."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 else None


def violations(module: str, found: list[tuple[int, str]]) -> list[str]:
    """The imports of ``module`` that go the wrong way, in words."""
    mine = layer(module)
    wrong = []
    for line, imported in found:
        theirs = layer(imported)
        if theirs == mine:
            if mine == "labs" and lab_of(module) != lab_of(imported) and lab_of(imported):
                wrong.append(f"{module} (line {line}) imports {imported}: a lab imports no "
                             f"other lab (one lab, one place)")
            continue
        if theirs not in MAY_IMPORT[mine]:
            allowed = ", ".join(sorted(MAY_IMPORT[mine])) or "nothing outside itself"
            wrong.append(f"{module} (line {line}) imports {imported}: {mine} may import "
                         f"only {allowed}, not {theirs}")
    return wrong


MODULES = sorted(SRC.joinpath("distlab").rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[module_name(p) for p in MODULES])
def test_every_import_points_down_the_layers(path: Path) -> None:
    assert violations(module_name(path), imports(path)) == []


def test_the_layer_table_catches_imports_that_go_up() -> None:
    assert layer("distlab.kv.register") == layer("distlab.election") == "topics"
    assert violations("distlab.check.explore", [(3, "distlab.grading.runner"),
                                                 (4, "distlab.net"),
                                                 (5, "distlab.gossip")]) == [
        "distlab.check.explore (line 3) imports distlab.grading.runner: check may import only "
        "sim, viz, not grading",
        "distlab.check.explore (line 4) imports distlab.net: check may import only sim, viz, "
        "not net",
        "distlab.check.explore (line 5) imports distlab.gossip: check may import only sim, viz, "
        "not topics"]
    assert violations("distlab.check.history_plot", [(1, "distlab.viz.palette")]) == []
    # the drawings never import the checkers: no cycle
    assert violations("distlab.viz.spacetime", [(2, "distlab.check.history_plot")]) == [
        "distlab.viz.spacetime (line 2) imports distlab.check.history_plot: viz may import only "
        "sim, not check"]
    assert violations("distlab.viz.spacetime", [(9, "distlab.widgets")]) != []
    assert violations("distlab.grading.runner", [(1, "distlab.labs.lab00_example")]) != []
    assert violations("distlab.labs.lab02b_vector_clocks", [(1, "distlab.labs.lab02a_x")]) != []
    assert violations("distlab.labs.lab02b_vector_clocks", [(1, "distlab.clocks"),
                                                             (2, "distlab.grading.lab")]) == []
    # the modules of one lab's package import each other; another lab's, never
    assert violations("distlab.labs.lab04_raft.part_b", [(1, "distlab.labs.lab04_raft.common"),
                                                          (2, "distlab.labs.lab04_raft")]) == []
    assert violations("distlab.labs.lab04_raft.part_b", [(1, "distlab.labs.lab02a_x.y")]) != []
    assert violations("distlab.labs.lab04_raft", [(1, "distlab.labs.lab04_raft_old")]) != []


def test_test_files_have_unique_names() -> None:
    # without __init__.py files, pytest imports each test file by its name alone
    names = Counter(path.name for path in TESTS.rglob("*.py") if path.name != "conftest.py")
    assert [name for name, count in names.items() if count > 1] == []
