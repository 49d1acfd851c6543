"""Labs from solutions: labs/ is generated from solutions/, solutions pass, labs fail cleanly.

``solutions/labNN-*.ipynb`` is the only source of a lab and ``labs/`` is generated from it by
``python -m distlab.grading.make_labs``. These tests hold for every lab in solutions/, present
and future: labs/ is exactly what the script generates; every solution carries the nbgrader
metadata nbgrader needs; every solution notebook runs and passes all its checks; every
generated lab runs without an error and its checks report failures (a table, not a crash).
The script's rules themselves are tested on small notebooks built here.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from distlab.grading.make_labs import (LAB_PATTERN, LabSourceError, differences, main, make_lab,
                                       metadata_problems, nbgrader_metadata, render)
from distlab.grading.report import REPORT_MIME

REPO_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((REPO_ROOT / "solutions").glob(LAB_PATTERN))
LABS = sorted((REPO_ROOT / "labs").glob(LAB_PATTERN))


def test_there_is_at_least_one_lab():
    assert SOLUTIONS, "solutions/ holds no labNN-*.ipynb notebook"


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
def test_every_solution_executes_and_passes_all_its_checks(path: Path):
    found = reports(executed(path))
    assert found, f"{path.name} shows no report of check(...)"
    failed = [(r["title"], c["name"], c["summary"]) for r in found for c in r["checks"]
              if not c["passed"]]
    assert failed == []


@pytest.mark.parametrize("path", LABS, ids=[p.name for p in LABS])
def test_every_generated_lab_executes_and_its_checks_report_failures(path: Path):
    notebook = executed(path)  # raises CellExecutionError if any cell crashes
    found = reports(notebook)
    assert found, f"{path.name} shows no report of check(...)"
    for report in found:
        assert report["passed"] is False
        assert all(c["kind"] == "not implemented" for c in report["checks"]), report


# -- the script's rules, on small notebooks ------------------------------------------------------

def solution_notebook() -> nbformat.NotebookNode:
    code = new_code_cell(
        "def f(x):\n"
        "    y = 1\n"
        "    ### BEGIN SOLUTION\n"
        "    y = x + 1\n"
        "    ### END SOLUTION\n"
        "    return y",
        metadata={"nbgrader": nbgrader_metadata("f", solution=True)},
        execution_count=3, outputs=[new_output("stream", name="stdout", text="hi\n")])
    test = new_code_cell(
        "assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(2) == 3\n### END HIDDEN TESTS",
        metadata={"nbgrader": nbgrader_metadata("test-f", grade=True, points=2)})
    answer = new_markdown_cell("Why?\n\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION")
    whole = new_code_cell("x = 42", metadata={"nbgrader": nbgrader_metadata("x", solution=True)})
    return new_notebook(cells=[code, test, answer, whole],
                        metadata={"widgets": {"state": {}},
                                  "kernelspec": {"name": "python3", "display_name": "Python 3"}})


def test_solution_regions_become_stubs_at_their_indentation():
    lab = make_lab(solution_notebook())
    assert lab.cells[0].source == ("def f(x):\n    y = 1\n    # YOUR CODE HERE\n"
                                   "    raise NotImplementedError()\n    return y")
    assert lab.cells[2].source == "Why?\n\nYOUR ANSWER HERE"
    assert lab.cells[3].source == "# YOUR CODE HERE\nraise NotImplementedError()"


def test_hidden_tests_are_removed_and_outputs_cleared():
    lab = make_lab(solution_notebook())
    assert lab.cells[1].source == "assert f(1) == 2"
    assert lab.cells[0].outputs == [] and lab.cells[0].execution_count is None
    assert "widgets" not in lab.metadata and lab.metadata["kernelspec"]["name"] == "python3"


def test_cells_keep_their_nbgrader_metadata_and_graded_cells_are_read_only():
    lab = make_lab(solution_notebook())
    assert lab.cells[1].metadata["nbgrader"] == nbgrader_metadata("test-f", grade=True, points=2)
    assert lab.cells[1].metadata["editable"] is False
    assert lab.cells[1].metadata["deletable"] is False
    assert "editable" not in lab.cells[0].metadata  # students write in solution cells


def test_missing_nbgrader_metadata_is_created():
    nb = new_notebook(cells=[new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"),
                             new_code_cell("### BEGIN HIDDEN TESTS\nassert x\n"
                                           "### END HIDDEN TESTS")])
    assert len(metadata_problems(nb)) == 2
    lab = make_lab(nb)
    solution, grade = (cell.metadata["nbgrader"] for cell in lab.cells)
    assert solution["solution"] is True and solution["schema_version"] == 3
    assert grade["grade"] is True and grade["points"] == 1
    assert solution["grade_id"] != grade["grade_id"]
    assert metadata_problems(lab) == []


def test_the_solution_notebook_is_not_changed():
    nb = solution_notebook()
    before = render(nb)
    make_lab(nb)
    assert render(nb) == before


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1", "never closed"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another"),
    ("x = 1\n### END SOLUTION", "without a"),
])
def test_badly_marked_regions_are_explained(source: str, message: str):
    nb = new_notebook(cells=[new_code_cell(source)])
    with pytest.raises(LabSourceError, match=message):
        make_lab(nb, "lab99-bad.ipynb")


def test_a_solution_region_in_a_cell_marked_otherwise_is_refused():
    cell = new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION",
                         metadata={"nbgrader": nbgrader_metadata("c", locked=True)})
    with pytest.raises(LabSourceError, match="not a solution cell"):
        make_lab(new_notebook(cells=[cell]))


def test_check_mode_finds_stale_missing_and_orphan_labs(tmp_path: Path, capsys):
    solutions, labs = tmp_path / "solutions", tmp_path / "labs"
    solutions.mkdir()
    nbformat.write(solution_notebook(), solutions / "lab01-demo.ipynb")
    args = ["--solutions", str(solutions), "--labs", str(labs)]
    assert main([*args, "--check"]) == 1
    assert "lab01-demo.ipynb is missing" in capsys.readouterr().out
    assert main(args) == 0
    assert main([*args, "--check"]) == 0
    (labs / "lab01-demo.ipynb").write_text("{}", encoding="utf-8")
    (labs / "lab02-orphan.ipynb").write_text("{}", encoding="utf-8")
    assert main([*args, "--check"]) == 1
    out = capsys.readouterr().out
    assert "lab01-demo.ipynb differs" in out and "lab02-orphan.ipynb has no solution" in out
    assert main(args) == 0
    assert sorted(p.name for p in labs.iterdir()) == ["lab01-demo.ipynb"]
    assert main([*args, "--check"]) == 0
