"""Run the code of a solution notebook as a module, so that tests check what students get.

The tests of a lab load its reference solution from the notebook itself (its import cells,
given cells and solution cells: every cell nbgrader marks as locked or as a solution), so
they always run the code the student's lab is generated from. The loader is the soak's
(`distlab.soak.solutions`), which runs the same solutions.
"""

from __future__ import annotations

from distlab.soak.solutions import solution

__all__ = ["failures", "solution"]


def failures(report) -> dict[str, str]:
    """check name -> the summary of its first failure."""
    return {f.check: f.summary for f in report.failures}
