"""Grading a class: a folder of submitted lab notebooks into a gradebook.

``python -m distlab.grading submitted/ --out grades/`` finds the submissions (nbgrader's
``submitted/<student>/<assignment>/<lab>.ipynb``, or a plain folder of ``<student>.ipynb``
for one lab), grades each in a process of its own, several at a time, and writes
``gradebook.csv`` and ``gradebook.html`` (one row per student and lab, one column per check,
the points of nbgrader's metadata) and, per submission with a failure, its report with the
seeds and replay lines (``reports/``).

How one submission is graded, as nbgrader does it: only the cells the student writes (the
solution cells, found by their nbgrader ``grade_id``) come from the submission; the given
cells and the check cells come from the lab's own notebook in ``solutions/``, so an edited
check cell changes nothing. A part scores its points when every check of the part passes.

Who runs what. The grading process of a submission runs the lab's given cells and the checks'
judges, never the student's code. Each check's runs happen in a child process (as in
`distlab.grading.verdicts`), which first runs the student's cells, then the check's seeds,
and sends back records the grading process judges itself. So a submission that loops for
ever, exits, crashes or patches the harness harms only its own row: the row says why. (A
child runs as the same user as the grader; for grading code written to attack the grader
itself, run the batch in a container.)
"""

from __future__ import annotations

import argparse
import ast
import csv
import html
import json
import linecache
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from distlab.grading.isolation import MEMORY_LIMIT, Child
from distlab.grading.lab import Check, as_lab
from distlab.grading.report import Report
from distlab.grading.results import CheckResult
from distlab.grading.runner import seed_list
from distlab.grading.verdicts import graded_runs, run_seeds
from distlab.sim import Node

#: how long a submission's cells may take to define its classes (seconds)
CELLS_LIMIT = 60.0
#: how long the whole grading of one submission may take (seconds)
SUBMISSION_LIMIT = 1_800.0
_RESULT = "distlab-gradebook-result: "


# -- the lab's notebook ------------------------------------------------------------------------

@dataclass(frozen=True)
class GradedCell:
    """A check cell of the lab: the lab it builds, the part it checks, its points."""

    grade_id: str
    points: float
    lab_expression: str  # the first argument of check(...): "RaftLab(RaftNode)"
    part: str | None


@dataclass(frozen=True)
class LabNotebook:
    """What grading needs from a lab's reference notebook (``solutions/labNN-name.ipynb``)."""

    name: str
    #: code cells in order: (grade_id, source, written by the student)
    cells: tuple[tuple[str, str, bool], ...]
    graded: tuple[GradedCell, ...]

    @classmethod
    def read(cls, path: Path) -> LabNotebook:
        cells, graded = [], []
        for meta, source in _code_cells(path):
            if "grade_id" not in meta:
                continue
            if meta.get("grade"):
                graded.append(_graded_cell(path, meta, source))
            else:
                cells.append((meta["grade_id"], source, bool(meta.get("solution"))))
        if not graded:
            raise ValueError(f"{path} has no graded cell (nbgrader metadata grade: true): it is "
                             f"not a lab notebook")
        return cls(path.stem, tuple(cells), tuple(graded))

    def student_cells(self, submission: Path) -> Cells:
        """The code to run for ``submission``: the given cells, and its own solution cells."""
        theirs = {meta.get("grade_id"): source for meta, source in _code_cells(submission)}
        cells = []
        for grade_id, source, written_by_student in self.cells:
            if written_by_student and grade_id not in theirs:
                raise ValueError(f"the submission has no cell {grade_id!r} (its nbgrader "
                                 f"metadata was removed?)")
            cells.append((f"<{submission.name}, cell {grade_id}>",
                          theirs[grade_id] if written_by_student else source))
        return Cells(tuple(cells))

    def given_cells(self) -> Cells:
        """The given cells before the first cell a student writes (the imports)."""
        given = []
        for grade_id, source, written_by_student in self.cells:
            if written_by_student:
                break
            given.append((f"<given cell {grade_id}>", source))
        return Cells(tuple(given))


@dataclass(frozen=True)
class Cells:
    """Code cells to run in order, each under a name that tracebacks and reports show."""

    cells: tuple[tuple[str, str], ...]  # (name, source)

    def compile(self) -> None:
        """Raise SyntaxError now, for a cell that cannot run at all."""
        for name, source in self.cells:
            compile(source, name, "exec")

    def run(self, scope: dict[str, Any]) -> dict[str, Any]:
        """Run the cells in ``scope``; their source is kept for tracebacks (`linecache`)."""
        for name, source in self.cells:
            linecache.cache[name] = (len(source), None, source.splitlines(True), name)
            try:
                exec(compile(source, name, "exec"), scope)
            except Exception as exc:
                raise CellFailed(f"{name} raised {type(exc).__name__}: {exc}") from exc
        return scope


class CellFailed(Exception):
    """A cell of the submission raised: the checks cannot use what it should have defined."""


def _code_cells(path: Path) -> Iterator[tuple[dict, str]]:
    """Each code cell of the notebook at ``path``: its nbgrader metadata and its source.

    Read as plain JSON rather than with ``nbformat``, whose import costs about two seconds of
    CPU (its schema validator compiles grammars), paid by every submission's grading process.
    A file that is not a version-4 notebook raises ValueError, which the grade reports."""
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path.name} is not a notebook's JSON ({exc})") from exc
    if not isinstance(notebook, dict) or notebook.get("nbformat") != 4 \
            or not isinstance(notebook.get("cells"), list):
        raise ValueError(f"{path.name} is not a Jupyter notebook of format 4 (save it again "
                         f"from JupyterLab)")
    for cell in notebook["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        meta = cell.get("metadata", {}).get("nbgrader", {})
        yield meta, "".join(source) if isinstance(source, list) else source


def _graded_cell(path: Path, meta: dict, source: str) -> GradedCell:
    """The ``check(Lab(...), part="A", ...)`` call of a check cell, read from its source."""
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "check" and node.args):
            part = next((k.value for k in node.keywords if k.arg == "part"), None)
            return GradedCell(meta["grade_id"], float(meta.get("points", 0)),
                              ast.unparse(node.args[0]),
                              part.value if isinstance(part, ast.Constant) else None)
    raise ValueError(f"{path}: the graded cell {meta['grade_id']!r} calls no check(...)")


# -- one submission, in its own grading process ------------------------------------------------

@dataclass
class Row:
    """One student's grade for one lab: per check, per part, and why if it could not run."""

    student: str
    lab: str
    checks: dict[str, str] = field(default_factory=dict)  # name -> "passed", "FAILED (seed 3)"
    parts: dict[str, float] = field(default_factory=dict)  # grade_id -> points scored
    max_points: float = 0.0
    problem: str = ""  # why some or all checks could not run
    report: str = ""

    @property
    def points(self) -> float:
        return sum(self.parts.values())


def grade_submission(student: str, submission: Path, lab: LabNotebook,
                     cells_limit: float = CELLS_LIMIT) -> Row:
    """Grade one submission here (see the module: the student's code runs only in children)."""
    row = Row(student, lab.name, max_points=sum(g.points for g in lab.graded))
    row.parts = {g.grade_id: 0.0 for g in lab.graded}
    try:
        code = lab.student_cells(submission)
        code.compile()
    except (ValueError, SyntaxError) as exc:
        row.problem = f"the submission cannot be read: {exc}"
        return row
    problem = _cells_problem(code, cells_limit)
    if problem:
        row.problem = problem
        return row
    given = lab.given_cells().run({})
    reports = []
    for cell in lab.graded:
        judged = _lab_for_judging(cell.lab_expression, given)
        results = []
        for c in [c for c in judged.checks() if cell.part in (None, c.part)]:
            result = _grade_check(c, code, cell.lab_expression)
            row.checks[c.name] = "passed" if result.passed else \
                f"FAILED (seed {result.failure.seed}): {result.failure.summary}"
            results.append(result)
        report = Report(f"{lab.name} part {cell.part}", results, timing=False)
        if report.passed:
            row.parts[cell.grade_id] = cell.points
        else:
            reports.append(str(report))
    row.report = "\n\n".join(reports)
    return row


def _cells_problem(code: Cells, limit: float) -> str:
    """Run the student's cells once in a child: why they cannot define the classes, if so."""
    child = Child.fork(lambda send: send(_run_cells(code)), MEMORY_LIMIT)
    try:
        frame = child.receive(time.monotonic() + limit)
    except TimeoutError:
        child.stop(killed=True)
        return f"the notebook's cells did not finish within {limit:g} s (a loop?)"
    ending = child.stop()
    if frame is None:
        return f"the notebook's cells ended their process ({ending.describe()})"
    return frame.decode(errors="replace")[:500]


def _run_cells(code: Cells) -> bytes:
    """In a child: the student's cells, run; b"" if they ran, else what went wrong."""
    _silence()
    try:
        code.run({"__name__": "__main__"})
    except CellFailed as exc:  # the checks could not run either
        return str(exc).encode()
    except BaseException as exc:  # SystemExit, KeyboardInterrupt raised by a cell
        return f"a cell raised {type(exc).__name__}: {exc}".encode()
    return b""


def _silence() -> None:
    """Send what the student's code prints to /dev/null, at the level of file descriptors."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)


def _lab_for_judging(expression: str, given: dict[str, Any]) -> Any:
    """The lab as the grading process builds it: the student's classes stand-ins (the judges
    never call them), so that no code of the student's runs here."""
    names = {n.id for n in ast.walk(ast.parse(expression)) if isinstance(n, ast.Name)}
    scope = dict(given)
    for name in names - set(given):
        scope[name] = type(name, (Node,), {"__module__": "__main__"})
    return as_lab(eval(expression, scope))


def _grade_check(c: Check, code: Cells, expression: str) -> CheckResult:
    """One check over its seeds, judged here, run in a child that runs the cells first."""
    seeds = seed_list(None, c.seeds)
    result = CheckResult(c, 0, len(seeds), 0.0, 0, 0.0)

    def work(send: Callable[[bytes], None]) -> None:
        _silence()
        scope = code.run({"__name__": "__main__"})
        theirs = Check.of(getattr(as_lab(eval(expression, scope)), c.name))
        run_seeds(theirs, seeds, None, MEMORY_LIMIT, send)

    for _seed, sim, failure in graded_runs(c, seeds, work=work):
        result.seeds_run += 1
        result.simulated_ms += sim.now
        result.messages += sim.trace.counts().get("send", 0)
        result.failure = failure
    return result


# -- the class: many submissions in parallel ---------------------------------------------------

def find_submissions(folder: Path) -> Iterator[tuple[str, Path]]:
    """(student, notebook) pairs: nbgrader's ``<student>/<assignment>/<lab>.ipynb``, or
    ``<student>/<lab>.ipynb``, or ``<student>.ipynb``."""
    for depth, pattern in ((2, "*/*/*.ipynb"), (1, "*/*.ipynb"), (0, "*.ipynb")):
        found = sorted(p for p in folder.glob(pattern) if ".ipynb_checkpoints" not in p.parts)
        if found:
            for path in found:
                yield (path.parts[-depth - 1] if depth else path.stem), path
            return


def grade_class(folder: Path, solutions: Path, out: Path, workers: int | None = None,
                lab: str | None = None, progress: Callable[[str], None] = print,
                cells_limit: float = CELLS_LIMIT) -> list[Row]:
    """Grade every submission in ``folder``; write the gradebook into ``out``; the rows.

    ``workers`` submissions are graded at once (one per core by default); ``lab`` names the
    lab of notebooks named after their students; ``cells_limit`` is how long a submission's
    cells may take to run (seconds); ``progress`` receives a line per submission graded."""
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder of submissions")
    jobs = []
    for student, path in find_submissions(folder):
        name = lab or path.stem
        reference = solutions / f"{name}.ipynb"
        if not reference.is_file():
            raise ValueError(f"{path}: no lab notebook {reference} to grade it against (name "
                             f"the lab with --lab, e.g. --lab lab00-example)")
        jobs.append((student, path, reference, cells_limit))
    if not jobs:
        raise ValueError(f"no notebook (.ipynb) in {folder}")
    rows = []
    with ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
        futures = [pool.submit(_grade_in_process, *job) for job in jobs]
        for n, future in enumerate(as_completed(futures), start=1):
            rows.append(future.result())
            progress(f"[{n}/{len(jobs)}] {rows[-1].student}: {rows[-1].points:g} of "
                     f"{rows[-1].max_points:g}" + (f" ({rows[-1].problem})"
                                                   if rows[-1].problem else ""))
    rows.sort(key=lambda r: (r.student, r.lab))
    write_gradebook(rows, out)
    return rows


def _grade_in_process(student: str, path: Path, reference: Path, cells_limit: float) -> Row:
    """Grade one submission in a fresh grading process; a row even if that process fails."""
    argv = [sys.executable, "-m", "distlab.grading.gradebook", "--one", str(path),
            "--student", student, "--solution", str(reference), "--cells-limit",
            str(cells_limit)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=SUBMISSION_LIMIT,
                              start_new_session=True)
    except subprocess.TimeoutExpired:
        return Row(student, reference.stem,
                   problem=f"grading took longer than {SUBMISSION_LIMIT:g} s")
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(_RESULT):
            return Row(**json.loads(line[len(_RESULT):]))
    last = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return Row(student, reference.stem, problem=f"grading failed: {last}")


def write_gradebook(rows: list[Row], out: Path) -> None:
    """``gradebook.csv``, ``gradebook.html`` and ``reports/<student>-<lab>.txt`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    checks = sorted({name for row in rows for name in row.checks})
    header = ["student", "lab", "points", "max points", *checks, "problem"]
    with open(out / "gradebook.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.student, row.lab, f"{row.points:g}", f"{row.max_points:g}",
                             *(row.checks.get(name, "not run").split(":")[0]
                               for name in checks), row.problem])
    (out / "gradebook.html").write_text(_html(rows, header, checks), encoding="utf-8")
    reports = out / "reports"
    reports.mkdir(exist_ok=True)
    for row in rows:
        if row.report or row.problem:
            (reports / f"{row.student}-{row.lab}.txt").write_text(
                (row.problem + "\n\n" if row.problem else "") + row.report, encoding="utf-8")


def _html(rows: list[Row], header: list[str], checks: list[str]) -> str:
    from distlab.viz.palette import FAILED, LIGHT_GREY, PASSED, tint  # only for the page

    def cell(text: str) -> str:
        colour = (tint(PASSED, 0.8) if text == "passed"
                  else tint(FAILED, 0.8) if text.startswith("FAILED") else "")
        style = f' style="background:{colour}"' if colour else ""
        return f"<td{style} title=\"{html.escape(text)}\">{html.escape(text.split(':')[0])}</td>"

    lines = ["<!doctype html><meta charset=utf-8><title>Gradebook</title>",
             "<style>table{border-collapse:collapse;font:14px sans-serif}"
             f"td,th{{border:1px solid {LIGHT_GREY};padding:3px 6px}}</style>",
             "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"]
    for row in rows:
        lines.append("<tr>" + "".join(
            [f"<td>{html.escape(row.student)}</td>", f"<td>{html.escape(row.lab)}</td>",
             f"<td>{row.points:g}</td>", f"<td>{row.max_points:g}</td>",
             *(cell(row.checks.get(name, "not run")) for name in checks),
             f"<td>{html.escape(row.problem)}</td>"]) + "</tr>")
    return "\n".join([*lines, "</table>"]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m distlab.grading",
        description="Grade a folder of submitted lab notebooks into a gradebook (CSV, HTML "
                    "and a report per submission with a failure).")
    parser.add_argument("folder", nargs="?", type=Path,
                        help="nbgrader's submitted/ folder, or a folder of <student>.ipynb")
    parser.add_argument("--out", type=Path, default=Path("gradebook"))
    parser.add_argument("--solutions", type=Path, default=Path("solutions"),
                        help="the folder of the labs' reference notebooks")
    parser.add_argument("--lab", help="the lab of every submission (labNN-name), when the "
                                      "notebooks are named after the students")
    parser.add_argument("--workers", type=int, help="submissions graded at once (one per core)")
    parser.add_argument("--cells-limit", type=float, default=CELLS_LIMIT,
                        help="seconds a submission's cells may take to run (default: "
                             "%(default)g)")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--student", help=argparse.SUPPRESS)
    parser.add_argument("--solution", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one is not None:  # one submission, in the grading process of its own
        row = grade_submission(args.student, args.one, LabNotebook.read(args.solution),
                               args.cells_limit)
        print(_RESULT + json.dumps(asdict(row)), flush=True)
        return 0
    if args.folder is None:
        parser.error("give the folder of submissions")
    try:
        rows = grade_class(args.folder, args.solutions, args.out, args.workers, args.lab,
                           cells_limit=args.cells_limit)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(rows)} submissions graded: {args.out / 'gradebook.csv'}, "
          f"{args.out / 'gradebook.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
