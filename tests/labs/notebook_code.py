"""Run the code of a solution notebook as a module, so that tests check what students get.

The tests of a lab load its reference solution from the notebook itself (its import cells,
given cells and solution cells: every cell nbgrader marks as locked or as a solution), so
they always run the code the student's lab is generated from.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import nbformat

SOLUTIONS = Path(__file__).resolve().parents[2] / "solutions"


def solution(name: str) -> ModuleType:
    """A module of what a solution notebook defines: its import, given and solution cells."""
    path = SOLUTIONS / f"{name}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    module = ModuleType(f"solution_{name.replace('-', '_')}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    for number, cell in enumerate(notebook.cells, start=1):
        grading = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (grading.get("solution") or grading.get("locked")):
            exec(compile(cell.source, f"{path.name}, cell {number}", "exec"), module.__dict__)
    return module


def failures(report) -> dict[str, str]:
    """check name -> the summary of its first failure."""
    return {f.check: f.summary for f in report.failures}
