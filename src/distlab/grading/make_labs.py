"""Generate the student labs (``labs/``) from the solution notebooks (``solutions/``).

``solutions/labNN-*.ipynb`` is the only source of a lab; ``labs/`` is generated, never edited
by hand (the way fastbook generates its student copies). For each solution notebook this
writes ``labs/`` + the same name, in which

* each region from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` becomes ``# YOUR CODE HERE``
  and ``raise NotImplementedError()``, indented like the region's first line (in a markdown
  cell: ``YOUR ANSWER HERE``); a solution cell without markers is replaced whole;
* each region from ``### BEGIN HIDDEN TESTS`` to ``### END HIDDEN TESTS`` is removed (the
  instructor's checks, which nbgrader puts back when it autogrades);
* outputs and execution counts are cleared;
* every cell keeps its ``nbgrader`` metadata, and a cell with a solution or hidden-test region
  that has none gets it (schema version 3, what nbgrader 0.9 reads); as nbgrader does, the
  cells it grades cannot be deleted, and graded and read-only cells cannot be edited.

These are the rules of nbgrader's ``generate_assignment`` (without its database and
checksums), so a teacher can also give ``solutions/`` to nbgrader directly.

A lab is three files under one name: ``solutions/lab02a-ordered-chat.ipynb`` (the notebook),
``src/distlab/labs/lab02a_ordered_chat.py`` (its checks) and
``tests/labs/test_lab02a_ordered_chat.py`` (the tests of those checks).

Run ``python -m distlab.grading.make_labs`` from the repository root (``make labs`` does);
``--check`` (``make labs-check``) writes nothing and exits with status 1 when ``labs/`` is not
exactly what would be generated, or when a lab lacks its notebook, its module or its tests
(CI runs it through ``tests/labs/test_lab_notebooks.py``).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
TEXT_STUB = ("YOUR ANSWER HERE",)
SCHEMA_VERSION = 3
#: labNN-*.ipynb, or labNNa-*.ipynb, labNNb-*.ipynb... for a chapter with several labs
LAB_PATTERN = "lab[0-9][0-9]*-*.ipynb"
#: the module of a lab's checks, and the file of their tests (see `expected_files`)
MODULE_PATTERN = "lab[0-9][0-9]*_*.py"
TEST_PATTERN = "test_lab[0-9][0-9]*_*.py"
#: where those live, relative to the repository root
MODULES = Path("src/distlab/labs")
TESTS = Path("tests/labs")
#: notebook metadata that belongs to one execution, not to the lab
EXECUTION_METADATA = ("widgets", "execution")


class LabSourceError(ValueError):
    """A solution notebook that cannot be turned into a lab (the message says where)."""


@dataclass(frozen=True)
class Region:
    """A marked region: the lines that open and close it, and what replaces it."""

    begin: str
    end: str
    what: str


SOLUTION = Region(BEGIN_SOLUTION, END_SOLUTION, "solution")
HIDDEN_TESTS = Region(BEGIN_HIDDEN, END_HIDDEN, "hidden tests")


def replace_regions(source: str, region: Region, stub: Sequence[str],
                    where: str) -> tuple[str, bool]:
    """``source`` with each ``region`` replaced by ``stub`` (indented like its opening line).

    Returns the new source and whether any region was found. An empty ``stub`` removes the
    regions. ``where`` names the cell in error messages.
    """
    out: list[str] = []
    inside = False
    found = False
    for number, line in enumerate(source.split("\n"), start=1):
        if region.begin in line:
            if inside:
                raise LabSourceError(f"{where}, line {number}: {region.begin!r} inside another "
                                     f"{region.what} region; close the first with "
                                     f"{region.end!r}")
            inside = found = True
            indent = line[:len(line) - len(line.lstrip())]
            out.extend(indent + stub_line for stub_line in stub)
        elif region.end in line:
            if not inside:
                raise LabSourceError(f"{where}, line {number}: {region.end!r} without a "
                                     f"{region.begin!r} before it")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise LabSourceError(f"{where}: a {region.what} region opened with {region.begin!r} is "
                             f"never closed with {region.end!r}")
    return "\n".join(out), found


def nbgrader_metadata(grade_id: str, *, solution: bool = False, grade: bool = False,
                      points: float = 1, locked: bool = False) -> dict:
    """The ``nbgrader`` metadata nbgrader's cell toolbar would write for such a cell."""
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked,
            "schema_version": SCHEMA_VERSION, "solution": solution, "task": False}
    if grade:
        meta["points"] = points
    return meta


def metadata_problems(nb: nbformat.NotebookNode, *, missing_ok: bool = False) -> list[str]:
    """What nbgrader would reject in the notebook's cell metadata (an empty list if nothing).

    With ``missing_ok``, a marked cell without any nbgrader metadata is not a problem
    (`make_lab` gives it some).

    Checks what nbgrader's own validation checks: the keys of schema version 3, a grade_id
    (unique, of letters, digits, '-' and '_') on every graded, solution or locked cell,
    points on graded cells, solution regions only in solution cells and hidden tests only in
    graded cells, and markdown cells graded and solution together or neither.
    """
    problems = []
    ids: dict[str, int] = {}
    for number, cell in enumerate(nb.cells, start=1):
        where = f"cell {number}"
        meta = cell.metadata.get("nbgrader")
        has_solution = BEGIN_SOLUTION in cell.source
        has_hidden = BEGIN_HIDDEN in cell.source
        if meta is None:
            if (has_solution or has_hidden) and not missing_ok:
                problems.append(f"{where} has a {'solution' if has_solution else 'hidden test'} "
                                f"region but no nbgrader metadata")
            continue
        missing = {"grade", "locked", "solution", "schema_version"} - set(meta)
        if missing:
            problems.append(f"{where}: nbgrader metadata lacks {', '.join(sorted(missing))}")
            continue
        if meta["schema_version"] != SCHEMA_VERSION:
            problems.append(f"{where}: nbgrader schema_version is {meta['schema_version']!r}, "
                            f"expected {SCHEMA_VERSION}")
        if meta["grade"] or meta["solution"] or meta["locked"]:
            grade_id = meta.get("grade_id", "")
            if not re.fullmatch(r"[A-Za-z0-9_\-]+", grade_id):
                problems.append(f"{where}: grade_id {grade_id!r} must be letters, digits, "
                                f"'-' and '_'")
            elif grade_id in ids:
                problems.append(f"{where}: grade_id {grade_id!r} is also the id of cell "
                                f"{ids[grade_id]}")
            ids[grade_id] = number
        if meta["grade"] and "points" not in meta:
            problems.append(f"{where} is graded but has no points")
        if has_solution and not meta["solution"]:
            problems.append(f"{where} has a solution region but is not a solution cell")
        if has_hidden and not meta["grade"]:
            problems.append(f"{where} has hidden tests but is not a graded cell")
        if cell.cell_type == "markdown" and meta["grade"] != meta["solution"]:
            problems.append(f"{where}: a markdown cell must be both graded and a solution "
                            f"cell, or neither")
    return problems


def make_lab(solution: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The student version of a solution notebook (the input is not changed)."""
    problems = metadata_problems(solution, missing_ok=True)
    if problems:
        raise LabSourceError(f"{name}: " + "; ".join(problems))
    lab = nbformat.from_dict(solution)
    for key in EXECUTION_METADATA:
        lab.metadata.pop(key, None)
    for number, cell in enumerate(lab.cells, start=1):
        where = f"{name}, cell {number}"
        stub = CODE_STUB if cell.cell_type == "code" else TEXT_STUB
        cell.source, had_solution = replace_regions(cell.source, SOLUTION, stub, where)
        cell.source, had_hidden = replace_regions(cell.source, HIDDEN_TESTS, (), where)
        meta = cell.metadata.get("nbgrader")
        if meta is None and (had_solution or had_hidden):
            # a written answer (markdown) is graded by hand: nbgrader wants it graded too
            graded = had_hidden or (had_solution and cell.cell_type == "markdown")
            meta = cell.metadata["nbgrader"] = nbgrader_metadata(
                f"cell-{cell.get('id') or number}", solution=had_solution, grade=graded)
        if meta is not None and meta.get("solution") and not had_solution:
            cell.source = "\n".join(stub)  # a solution cell without markers: all of it
        if meta is not None and (meta.get("grade") or meta.get("locked") or meta.get("solution")):
            cell.metadata["deletable"] = False  # the grader needs the cell (as nbgrader does)
            if not meta.get("solution"):
                cell.metadata["editable"] = False
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
    return lab


def render(nb: nbformat.NotebookNode) -> str:
    """The notebook as the text written to disk (the form ``--check`` compares)."""
    return nbformat.writes(nb) + "\n"


def plan(solutions: Path, labs: Path) -> dict[Path, str | None]:
    """Each lab file and the text it must have (None: a stale lab to delete)."""
    wanted: dict[Path, str | None] = {}
    for source in sorted(solutions.glob(LAB_PATTERN)):
        notebook = nbformat.read(source, as_version=4)
        wanted[labs / source.name] = render(make_lab(notebook, source.name))
    for existing in sorted(labs.glob(LAB_PATTERN)):
        wanted.setdefault(existing, None)
    return wanted


def differences(solutions: Path, labs: Path) -> list[str]:
    """How ``labs`` differs from what `plan` would write (an empty list: in sync)."""
    found = []
    for path, text in plan(solutions, labs).items():
        if text is None:
            found.append(f"{path} has no solution notebook {solutions / path.name}")
        elif not path.exists():
            found.append(f"{path} is missing")
        elif path.read_text(encoding="utf-8") != text:
            found.append(f"{path} differs from what {solutions / path.name} generates")
    return found


def module_name(notebook: Path) -> str:
    """The name of a lab's module: ``lab02a_ordered_chat`` for ``lab02a-ordered-chat.ipynb``."""
    return notebook.stem.replace("-", "_")


def pairing_problems(solutions: Path, modules: Path, tests: Path) -> list[str]:
    """Labs that lack their notebook, their module or their tests (an empty list: all paired).

    Every ``labNN-name.ipynb`` in ``solutions`` needs its checks in ``modules``, as a module
    ``labNN_name.py`` or, for a lab large enough to split, a package ``labNN_name/`` (with its
    ``__init__.py``), and ``test_labNN_name.py`` in ``tests`` (their tests; a large lab may
    add ``test_labNN_name_*.py`` files). A module, package or test file whose notebook is
    missing is reported too, so that a renamed lab leaves no orphan behind.
    """
    found = []
    notebooks = {module_name(path): path for path in sorted(solutions.glob(LAB_PATTERN))}
    for name, notebook in notebooks.items():
        if not ((modules / f"{name}.py").is_file()
                or (modules / name / "__init__.py").is_file()):
            found.append(f"{notebook} has no module {modules / name}.py (or package "
                         f"{modules / name}/__init__.py): the lab's checks (its Lab subclass, "
                         f"messages and workload) go there")
        if not (tests / f"test_{name}.py").is_file():
            found.append(f"{notebook} has no tests {tests / f'test_{name}.py'}: the tests of "
                         f"the lab's checks go there")
    packages = [path for path in sorted(modules.glob(MODULE_PATTERN.removesuffix(".py")))
                if (path / "__init__.py").is_file()]
    for folder, paths, prefix in ((modules, sorted(modules.glob(MODULE_PATTERN)) + packages, ""),
                                  (tests, sorted(tests.glob(TEST_PATTERN)), "test_")):
        for path in paths:
            name = path.name.removesuffix(".py").removeprefix(prefix)
            if name in notebooks or (prefix and any(name.startswith(f"{lab}_")
                                                    for lab in notebooks)):
                continue
            wanted = solutions / (name.replace("_", "-") + ".ipynb")
            found.append(f"{path} has no solution notebook (such as {wanted}): rename it "
                         f"after its notebook, or remove it")
    return found


def write(solutions: Path, labs: Path) -> list[str]:
    """Make ``labs`` what `plan` says; returns what was done, one line each."""
    done = []
    labs.mkdir(parents=True, exist_ok=True)
    for path, text in plan(solutions, labs).items():
        if text is None:
            path.unlink()
            done.append(f"removed {path} (no solution notebook)")
        elif not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            done.append(f"wrote {path}")
    return done


def check(args: argparse.Namespace) -> int:
    """``--check``: report what is out of sync or unpaired; 0 if nothing, else 1."""
    stale = differences(args.solutions, args.labs)
    unpaired = pairing_problems(args.solutions, args.modules, args.tests)
    for line in stale + unpaired:
        print(line)
    if stale:
        print("run `python -m distlab.grading.make_labs` (make labs) and commit labs/")
    if unpaired:
        print(f"each lab is solutions/labNN-name.ipynb + {args.modules}/labNN_name.py (or "
              f"a package labNN_name/) + "
              f"{args.tests}/test_labNN_name.py (see CONTRIBUTING.md)")
    if stale or unpaired:
        return 1
    print(f"{args.labs}/ is in sync with {args.solutions}/, and every lab has its module "
          f"and its tests")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m distlab.grading.make_labs",
        description="Generate labs/labNN-*.ipynb from solutions/labNN-*.ipynb: solution "
                    "regions become stubs, hidden tests and outputs are removed.")
    parser.add_argument("--solutions", type=Path, default=Path("solutions"),
                        help="folder of the solution notebooks (default: solutions)")
    parser.add_argument("--labs", type=Path, default=Path("labs"),
                        help="folder of the generated labs (default: labs)")
    parser.add_argument("--modules", type=Path, default=MODULES,
                        help=f"folder of the labs' modules (default: {MODULES})")
    parser.add_argument("--tests", type=Path, default=TESTS,
                        help=f"folder of the labs' tests (default: {TESTS})")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the labs are not what would be generated, "
                             "or if a lab lacks its notebook, its module or its tests")
    args = parser.parse_args(argv)
    if not args.solutions.is_dir():
        print(f"no folder {args.solutions}: run from the repository root, or pass --solutions",
              file=sys.stderr)
        return 2
    try:
        if args.check:
            return check(args)
        for line in write(args.solutions, args.labs) or [f"{args.labs}/ was already up to date"]:
            print(line)
    except LabSourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
