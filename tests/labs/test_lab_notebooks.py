"""Every lab notebook: paired, in sync, graded, passing as a solution and failing cleanly as a lab.

``solutions/labNN-*.ipynb`` is the only source of a lab and ``labs/`` is generated from it by
``python -m distlab.grading.make_labs``. These tests hold for every lab in solutions/, present
and future: each has its module in ``src/distlab/labs/`` and its tests here (``make
labs-check``); labs/ is exactly what the script generates; every solution carries the
nbgrader metadata nbgrader needs; every solution notebook shows all its checks passing;
every generated lab runs without an error and its checks report failures (a table, not a
crash). That every solution passes all its checks is read from its committed outputs, which
strict nbval reproduces. The script's rules themselves are tested in
``tests/grading/test_make_labs.py``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from distlab.grading.make_labs import LAB_PATTERN, differences, main, metadata_problems
from distlab.grading.report import REPORT_MIME

REPO_ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = sorted((REPO_ROOT / "solutions").glob(LAB_PATTERN))
LABS = sorted((REPO_ROOT / "labs").glob(LAB_PATTERN))


def test_there_is_at_least_one_lab():
    assert SOLUTIONS, "solutions/ holds no labNN-*.ipynb notebook"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda path: path.stem)
def test_what_students_read_with_help_names_no_file_they_lack(solution):
    # students have labs/, not solutions/: help(module) must not send them there
    import importlib
    import pydoc

    module = importlib.import_module("distlab.labs." + solution.stem.replace("-", "_"))
    assert "solutions/" not in pydoc.render_doc(module, renderer=pydoc.plaintext)


def test_help_on_the_labs_package_names_no_file_students_lack():
    import pydoc

    import distlab.labs

    assert "solutions/" not in pydoc.render_doc(distlab.labs, renderer=pydoc.plaintext)


def test_make_labs_check_passes(monkeypatch, capsys):
    # what `make labs-check` runs: every lab paired with its module and tests, labs/ in sync
    monkeypatch.chdir(REPO_ROOT)
    assert main(["--check"]) == 0, capsys.readouterr().out


def test_labs_are_exactly_what_make_labs_generates():
    assert differences(REPO_ROOT / "solutions", REPO_ROOT / "labs") == [], (
        "labs/ is out of date: run `python -m distlab.grading.make_labs` (make labs) and "
        "commit labs/")


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.name for p in SOLUTIONS])
def test_every_solution_has_the_metadata_nbgrader_needs(path: Path):
    notebook = nbformat.read(path, as_version=4)
    assert metadata_problems(notebook) == []
    graded = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert graded, f"{path.name} has no graded cell: nbgrader would give no points"


def executed(path: Path) -> nbformat.NotebookNode:
    """The notebook at ``path``, executed in a fresh kernel (the file is not changed)."""
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return notebook


def reports(notebook: nbformat.NotebookNode) -> list[dict]:
    """The lab reports the notebook displayed (their machine-readable summaries)."""
    return [output.data[REPORT_MIME] for cell in notebook.cells if cell.cell_type == "code"
            for output in cell.outputs if REPORT_MIME in output.get("data", {})]


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.name for p in SOLUTIONS])
def test_every_solution_shows_all_its_checks_passing_on_every_seed(path: Path):
    """The committed solution shows every check passed on all its seeds, and each check
    cell fails when its part does not pass. Strict nbval runs the solution notebooks
    (``make test``) and finds these same outputs again, so the solution passes today; running
    the notebook a second time here would prove nothing more."""
    notebook = nbformat.read(path, as_version=4)
    found = reports(notebook)
    assert found, f"{path.name} shows no report of check(...)"
    failed = [(r["title"], c["name"], c["summary"]) for r in found for c in r["checks"]
              if not c["passed"] or c["seeds_run"] != c["seeds"]]
    assert failed == []
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade") and "check(" in cell.source:
            assert "assert report.passed" in cell.source, (
                f"{path.name}, cell {cell.get('id')}: a graded check cell must assert "
                f"report.passed in its hidden tests, or a failing part scores")


@pytest.mark.parametrize("path", LABS, ids=[p.name for p in LABS])
def test_every_generated_lab_executes_and_its_checks_report_failures(path: Path):
    notebook = executed(path)  # raises CellExecutionError if any cell crashes
    found = reports(notebook)
    assert found, f"{path.name} shows no report of check(...)"
    for report in found:
        assert report["passed"] is False
        assert all(c["kind"] == "not implemented" for c in report["checks"]), report
