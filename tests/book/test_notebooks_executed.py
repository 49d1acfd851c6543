"""Every committed notebook in book/ and solutions/ is executed, without errors, and small.

Strict nbval compares each cell's fresh output with the committed one, but a cell that was
never executed has no committed output and so passes vacuously. These checks close that gap:
every non-empty code cell carries an execution count, the counts rise from top to bottom (the
notebook was run in one go, in order), no cell holds an error, and the file stays small.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIRS = ("book", "solutions")
MAX_NOTEBOOK_BYTES = 2 * 1024 * 1024


def committed_notebooks() -> list[Path]:
    notebooks = []
    for folder in NOTEBOOK_DIRS:
        for path in sorted((REPO_ROOT / folder).rglob("*.ipynb")):
            if ".ipynb_checkpoints" not in path.parts:
                notebooks.append(path)
    return notebooks


def code_cells(path: Path) -> list[tuple[int, nbformat.NotebookNode]]:
    """(cell number counted from 1, cell) for every code cell with some source."""
    notebook = nbformat.read(path, as_version=4)
    return [
        (number, cell)
        for number, cell in enumerate(notebook.cells, start=1)
        if cell.cell_type == "code" and cell.source.strip()
    ]


NOTEBOOKS = committed_notebooks()
IDS = [str(path.relative_to(REPO_ROOT)) for path in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_code_cell_was_executed_in_order(path: Path) -> None:
    cells = code_cells(path)
    unexecuted = [number for number, cell in cells if cell.execution_count is None]
    assert not unexecuted, (
        f"cells {unexecuted} of {path.name} were never executed; run "
        f"`.venv/bin/jupyter nbconvert --to notebook --execute --inplace {path}` and commit it"
    )
    counts = [cell.execution_count for _, cell in cells]
    assert counts == sorted(counts) and len(set(counts)) == len(counts), (
        f"execution counts {counts} of {path.name} are out of order: re-run the whole "
        "notebook from the top (Restart & Run All, or nbconvert --execute) and commit it"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_cell_holds_an_error(path: Path) -> None:
    errors = [
        f"cell {number}: {output.get('ename')}: {output.get('evalue')}"
        for number, cell in code_cells(path)
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors, f"{path.name} was committed with errors: {errors}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_small(path: Path) -> None:
    size = path.stat().st_size
    assert size < MAX_NOTEBOOK_BYTES, (
        f"{path.name} is {size / 1e6:.1f} MB (limit {MAX_NOTEBOOK_BYTES / 1e6:.1f} MB): draw "
        "fewer or smaller figures (PNG, lower dpi), fewer animation frames, or shorter output"
    )
