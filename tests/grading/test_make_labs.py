"""`python -m distlab.grading.make_labs`: its rules on small notebooks, and what ``--check`` finds.

The rules are nbgrader's (solution regions become stubs, hidden tests go, outputs are cleared,
metadata is kept or created); ``--check`` finds stale, missing and orphan labs, and labs
without their module or their tests, in temporary folders built here.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from distlab.grading.make_labs import (LabSourceError, main, make_lab, metadata_problems,
                                       nbgrader_metadata, pairing_problems, render)

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
    paired(tmp_path, "lab01_demo")
    args = ["--solutions", str(solutions), "--labs", str(labs),
            "--modules", str(tmp_path / "modules"), "--tests", str(tmp_path / "tests")]
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


def paired(root: Path, name: str) -> None:
    """Write an (empty) lab module and test file for lab ``name`` under ``root``."""
    for folder, file in (("modules", f"{name}.py"), ("tests", f"test_{name}.py")):
        (root / folder).mkdir(exist_ok=True)
        (root / folder / file).write_text("", encoding="utf-8")


def test_check_mode_names_a_missing_lab_module_and_missing_tests(tmp_path: Path, capsys):
    solutions, labs = tmp_path / "solutions", tmp_path / "labs"
    solutions.mkdir()
    nbformat.write(solution_notebook(), solutions / "lab03b-two-words.ipynb")
    args = ["--solutions", str(solutions), "--labs", str(labs),
            "--modules", str(tmp_path / "modules"), "--tests", str(tmp_path / "tests")]
    assert main(args) == 0  # generating labs/ does not need the module
    assert main([*args, "--check"]) == 1
    out = capsys.readouterr().out
    assert f"has no module {tmp_path / 'modules' / 'lab03b_two_words.py'}" in out
    assert f"has no tests {tmp_path / 'tests' / 'test_lab03b_two_words.py'}" in out
    paired(tmp_path, "lab03b_two_words")
    assert main([*args, "--check"]) == 0
    assert "every lab has its module and its tests" in capsys.readouterr().out


def test_a_module_or_tests_without_a_notebook_are_orphans(tmp_path: Path):
    (tmp_path / "solutions").mkdir()
    nbformat.write(solution_notebook(), tmp_path / "solutions" / "lab01-demo.ipynb")
    paired(tmp_path, "lab01_demo")
    paired(tmp_path, "lab02_renamed")
    (tmp_path / "tests" / "notebook_code.py").write_text("", encoding="utf-8")  # a helper
    found = pairing_problems(tmp_path / "solutions", tmp_path / "modules", tmp_path / "tests")
    assert len(found) == 2
    assert all("lab02_renamed.py has no solution notebook" in line for line in found)
    assert "lab02-renamed.ipynb" in found[0]


def test_a_lab_may_be_a_package_with_more_test_files(tmp_path: Path):
    (tmp_path / "solutions").mkdir()
    nbformat.write(solution_notebook(), tmp_path / "solutions" / "lab04-big.ipynb")
    (tmp_path / "modules" / "lab04_big").mkdir(parents=True)
    (tmp_path / "tests").mkdir()
    for path in ("modules/lab04_big/__init__.py", "modules/lab04_big/part_a.py",
                 "tests/test_lab04_big.py", "tests/test_lab04_big_b.py"):
        (tmp_path / path).write_text("", encoding="utf-8")
    args = (tmp_path / "solutions", tmp_path / "modules", tmp_path / "tests")
    assert pairing_problems(*args) == []
    (tmp_path / "modules" / "lab05_gone").mkdir()  # a package without its notebook: an orphan
    (tmp_path / "modules" / "lab05_gone" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "modules" / "lab04_big" / "__init__.py").unlink()  # a folder, not a package
    found = pairing_problems(*args)
    assert len(found) == 2
    assert "lab04-big.ipynb has no module" in found[0] and "lab04_big/__init__.py" in found[0]
    assert "lab05_gone has no solution notebook" in found[1]
