"""The reference solution of a lab, run from its notebook as a module.

A lab's reference solution lives only in ``solutions/labNN-name.ipynb``, between nbgrader's
solution markers. `solution` runs the notebook's import, given and solution cells (every
code cell nbgrader marks as locked or as a solution) in a fresh module, so that what the soak
and the tests check is the code the students' labs are generated from.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType

#: the repository's solutions folder (the library is installed from the repository, in place)
SOLUTIONS = Path(__file__).resolve().parents[3] / "solutions"


def solution(name: str, folder: Path = SOLUTIONS) -> ModuleType:
    """A module of what solution notebook ``name`` defines (``"lab00-example"``)."""
    path = folder / f"{name}.ipynb"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.ipynb")) if folder.is_dir() else []
        raise FileNotFoundError(
            f"no solution notebook {path}: the lab solutions are read from the repository's "
            f"solutions/ folder (install distlab in place, pip install -e .); "
            f"the notebooks there: {', '.join(known) or 'none'}")
    notebook = json.loads(path.read_text(encoding="utf-8"))
    module = ModuleType(f"solution_{name.replace('-', '_')}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    for number, cell in enumerate(notebook["cells"], start=1):
        grading = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] == "code" and (grading.get("solution") or grading.get("locked")):
            source = "".join(cell["source"]) if isinstance(cell["source"], list) \
                else cell["source"]
            exec(compile(source, f"{path.name}, cell {number}", "exec"), module.__dict__)
    return module
