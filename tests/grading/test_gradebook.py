"""Grading a class (`distlab.grading.gradebook`) on a generated class of lab 0 submissions.

The class: the reference solution, the untouched lab, a typical mistake (the backup applies
a repeated forward twice), a cell that loops for ever, one that ends the process, one that
patches the harness and prints a forged result line, and a notebook whose check cells were
edited to always pass. Each gets its row, with the reason when it could not be graded, and
no submission stops the batch or changes another's grade.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from distlab.grading.gradebook import LabNotebook, find_submissions, grade_class

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO / "solutions"
LAB = "lab00-example"
CELLS_LIMIT = 5.0

FORGE = '''
import distlab.grading.verdicts, distlab.grading.report, os
distlab.grading.verdicts.judge_seed = lambda *args: (None, None)
distlab.grading.report.Report.passed = property(lambda self: True)
os.write(1, b'distlab-gradebook-result: {"student": "tampered", "lab": "lab00-example", '
            b'"parts": {"check-part-A": 2, "check-part-B": 2, "check-part-C": 2}}\\n')
'''


def submission(source: Path, change: dict[str, tuple[str, str]] | None = None,
               add_to: tuple[str, str] | None = None) -> nbformat.NotebookNode:
    """``source`` with cells changed: ``change[grade_id] = (old, new)``; ``add_to`` =
    (grade_id, code appended to that cell)."""
    notebook = nbformat.read(source, as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if change and grade_id in change:
            old, new = change[grade_id]
            assert old in cell.source
            cell.source = cell.source.replace(old, new)
        if add_to and grade_id == add_to[0]:
            cell.source += "\n" + add_to[1]
    return notebook


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    folder = tmp_path_factory.mktemp("submitted")
    solution, skeleton = SOLUTIONS / f"{LAB}.ipynb", REPO / "labs" / f"{LAB}.ipynb"
    twice = ("if self.applied.get(request.client, 0) < request.msg_id:",
             "if True:")
    always = ('report = check(PrimaryBackupLab(Primary, Backup), part="A", timing=False)',
              "report = None")
    class_ = {
        "ada": submission(solution),
        "bob": submission(skeleton),
        "cy": submission(solution, {"backup": twice}),
        # (a loop that waits: stopped by the same wall-clock limit as one that computes,
        # without taking a core from the other tests for CELLS_LIMIT seconds)
        "dee": submission(solution, add_to=("apply", "import time\nwhile True:\n"
                                                     "    time.sleep(1)")),
        "eve": submission(solution, add_to=("apply", "import os\nos._exit(3)")),
        "fay": submission(skeleton, add_to=("apply", FORGE)),
        "gus": submission(skeleton, {"check-part-A": always}),
    }
    for student, notebook in class_.items():
        (folder / student / LAB).mkdir(parents=True)
        nbformat.write(notebook, folder / student / LAB / f"{LAB}.ipynb")
    out = tmp_path_factory.mktemp("gradebook")
    rows = grade_class(folder, SOLUTIONS, out, workers=2, progress=lambda line: None,
                       cells_limit=CELLS_LIMIT)
    return {row.student: row for row in rows}, out


def test_the_reference_scores_full_marks_and_the_skeleton_none(graded) -> None:
    rows, _ = graded
    assert (rows["ada"].points, rows["ada"].max_points, rows["ada"].problem) == (6, 6, "")
    assert set(rows["ada"].checks.values()) == {"passed"}
    assert rows["bob"].points == 0
    assert all(v.startswith("FAILED (seed 1): not implemented yet")
               for v in rows["bob"].checks.values())


def test_a_typical_mistake_loses_the_part_that_catches_it(graded) -> None:
    cy = graded[0]["cy"]
    assert cy.parts["check-part-A"] == 2 and cy.parts["check-part-B"] == 0
    assert cy.checks["test_duplicated_messages_B"].startswith("FAILED")
    assert "replay it: replay(lab.test_duplicated_messages_B" in cy.report


def test_a_loop_or_an_exit_gets_its_row_and_its_reason(graded) -> None:
    rows, _ = graded
    assert rows["dee"].points == 0
    assert rows["dee"].problem == (f"the notebook's cells did not finish within "
                                   f"{CELLS_LIMIT:g} s (a loop?)")
    assert rows["eve"].problem == "the notebook's cells ended their process (exit code 3)"


def test_patching_the_harness_or_forging_a_result_changes_nothing(graded) -> None:
    rows, _ = graded
    assert "tampered" not in rows
    assert rows["fay"].points == 0 and rows["fay"].problem == ""
    assert rows["gus"].points == 0  # its edited check cell is not the one that runs


def test_the_gradebook_files(graded) -> None:
    rows, out = graded
    with open(out / "gradebook.csv") as f:
        table = list(csv.DictReader(f))
    assert [r["student"] for r in table] == sorted(rows)
    ada = next(r for r in table if r["student"] == "ada")
    assert (ada["points"], ada["max points"], ada["test_lost_messages_B"]) == ("6", "6", "passed")
    cy = next(r for r in table if r["student"] == "cy")
    assert cy["test_duplicated_messages_B"] == "FAILED (seed 2)"
    page = (out / "gradebook.html").read_text()
    assert page.count("<tr>") == len(rows) + 1
    assert "test_duplicated_messages_B" in (out / "reports" / f"cy-{LAB}.txt").read_text()
    assert not (out / "reports" / f"ada-{LAB}.txt").exists()


def test_submission_layouts_and_bad_folders(tmp_path: Path) -> None:
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "zoe.ipynb").write_text("{}")
    assert [(s, p.name) for s, p in find_submissions(tmp_path / "flat")] == [("zoe", "zoe.ipynb")]
    with pytest.raises(ValueError, match="no lab notebook .*--lab lab00-example"):
        grade_class(tmp_path / "flat", SOLUTIONS, tmp_path / "out")
    with pytest.raises(ValueError, match="is not a folder of submissions"):
        grade_class(tmp_path / "missing", SOLUTIONS, tmp_path / "out")
    with pytest.raises(ValueError, match="has no graded cell"):
        LabNotebook.read(REPO / "book" / "02-communication" / "02.01-rpc.ipynb")


def test_an_unreadable_submission_is_a_row_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "kim.ipynb").write_text("not json")
    rows = grade_class(tmp_path / "sub", SOLUTIONS, tmp_path / "out", lab=LAB,
                       progress=lambda line: None)
    assert rows[0].points == 0 and rows[0].problem.startswith("the submission cannot be read")
    assert json.loads(json.dumps(rows[0].__dict__))["student"] == "kim"


def test_a_file_that_is_json_but_no_notebook_of_format_4_is_named_so(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "lee.ipynb").write_text(json.dumps({"nbformat": 3, "worksheets": []}))
    (tmp_path / "sub" / "max.ipynb").write_text("[1, 2]")
    rows = grade_class(tmp_path / "sub", SOLUTIONS, tmp_path / "out", lab=LAB,
                       progress=lambda line: None)
    assert [(r.student, r.points) for r in rows] == [("lee", 0), ("max", 0)]
    for row in rows:
        assert row.problem == (f"the submission cannot be read: {row.student}.ipynb is not a "
                               f"Jupyter notebook of format 4 (save it again from JupyterLab)")


def test_a_submission_is_graded_without_importing_nbformat() -> None:
    """Each submission is graded in a new process; nbformat's import alone costs about two
    seconds of CPU there, so the grader reads notebooks as JSON."""
    probe = "import sys, distlab.grading.gradebook; print('nbformat' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, cwd=REPO)
    assert done.stdout.strip() == "False"
