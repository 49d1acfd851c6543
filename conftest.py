"""pytest configuration for the whole repository (tests/, book/ and solutions/).

nbval runs every notebook cell with ``store_history=False``, but IPython decides whether a
trailing ``;`` hides a cell's result by looking at the last cell stored in the history. Under
plain nbval the ``;`` is therefore ignored: ``ax.plot(x, y);`` outputs
``[<matplotlib.lines.Line2D ...>]`` and ``x;`` outputs ``x``, which the committed notebook
(executed by Jupyter, with history) does not have, and strict nbval fails. Here nbval runs
cells with history, as Jupyter and nbconvert do, so a notebook means the same thing under nbval
as in JupyterLab. tests/book/notebooks/nbval_semicolon.ipynb checks that this stays so.

The generated student labs (``labs/``) are not collected: unexecuted, with stubs, they are
tested by tests/labs/test_lab_notebooks.py, not compared by nbval.

``make test`` runs the tests on every core with pytest-xdist, one file to a process at a time
(``-n auto --dist loadfile``), so that a notebook's cells run in order in one kernel and a
module's fixtures start once. `pytest_xdist_make_scheduler` below adds two things: the book
build, the browser test and the PDF go to the same process, which builds the book once for
them; and they go first. They are the longest unit of the run (about 4 of its 13 minutes on
2 cores), and a unit started late leaves the other process idle at the end; xdist itself
starts the files with the most tests first, which put the pipeline's 21 tests 43rd of 204.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

import pytest
from nbval.kernel import RunningKernel

#: the lab notebooks run here must not note a reader's progress (distlab.grading.progress);
#: the kernels nbval starts inherit it
os.environ["DISTLAB_PROGRESS"] = "0"

#: folders (relative to this file) that pytest never collects from
collect_ignore = ["labs"]

#: the test files that share one book build (the session fixture of tests/book/conftest.py)
BOOK_PIPELINE = ("tests/book/test_book_build.py", "tests/book/test_browser.py",
                 "tests/book/test_pdf.py")


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, called only when it is installed
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under ``--dist loadfile``: tests grouped by file, the book pipeline's files together."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class PipelineFirst(OrderedDict):
        """xdist's queue of files, in which the book pipeline goes first however it is
        ordered (xdist orders the files by their number of tests: the pipeline has 21)."""

        def __setitem__(self, scope: str, tests: Any) -> None:
            super().__setitem__(scope, tests)
            if scope == "book pipeline":
                self.move_to_end(scope, last=False)

    class BookTogether(LoadFileScheduling):
        def __init__(self, config: pytest.Config, log: Any) -> None:
            super().__init__(config, log)
            self.workqueue = PipelineFirst()

        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            return "book pipeline" if scope in BOOK_PIPELINE else scope

    return BookTogether(config, log)


def _execute_cell_input_with_history(self, cell_input, allow_stdin=None):
    """nbval's ``RunningKernel.execute_cell_input`` with ``store_history=True``."""
    return self.kc.execute(
        cell_input,
        store_history=True,
        allow_stdin=allow_stdin,
        stop_on_error=False,
    )


RunningKernel.execute_cell_input = _execute_cell_input_with_history
