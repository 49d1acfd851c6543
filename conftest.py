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
"""

from nbval.kernel import RunningKernel

#: folders (relative to this file) that pytest never collects from
collect_ignore = ["labs"]


def _execute_cell_input_with_history(self, cell_input, allow_stdin=None):
    """nbval's ``RunningKernel.execute_cell_input`` with ``store_history=True``."""
    return self.kc.execute(
        cell_input,
        store_history=True,
        allow_stdin=allow_stdin,
        stop_on_error=False,
    )


RunningKernel.execute_cell_input = _execute_cell_input_with_history
