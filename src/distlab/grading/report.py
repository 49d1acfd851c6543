"""The report of a lab's checks: a table, each failure explained, and its space-time diagram.

In Jupyter a `Report` shows itself (it is the check cell's result): an HTML table, the
failures in words, and a PNG diagram of each failing run. Elsewhere ``str(report)`` is the
same as text. Everything but the wall-clock column is deterministic, so a notebook that
calls ``check(..., timing=False)`` reproduces its output exactly under nbval.

`Progress` (from `distlab.check.progress`, which the schedule explorer shares) shows which
check and seed is running.
"""

from __future__ import annotations

import base64
import html
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distlab.grading.explain import Failure
    from distlab.grading.results import CheckResult

#: the MIME type of the machine-readable summary (tests read it from executed notebooks)
REPORT_MIME = "application/vnd.distlab.grading-report+json"
#: at most this many failures get their diagrams drawn (drawing costs a fraction of a second)
MAX_DIAGRAMS = 3
_COLUMNS = ("check", "part", "result", "seeds run", "simulated", "messages")


class Report:
    """The outcome of `check`: one row per check, plus the first failure of each."""

    def __init__(self, title: str, results: list[CheckResult], timing: bool = True):
        self.title = title
        self.results = results
        self.timing = timing

    @property
    def passed(self) -> bool:
        """True when every check passed on every seed."""
        return all(r.passed for r in self.results)

    @property
    def failed(self) -> list[str]:
        """The names of the checks that failed."""
        return [r.check.name for r in self.results if not r.passed]

    @property
    def failures(self) -> list[Failure]:
        """The first failure of each failed check."""
        return [r.failure for r in self.results if r.failure is not None]

    def headline(self) -> str:
        good = sum(r.passed for r in self.results)
        return f"{self.title}: {good} of {len(self.results)} checks passed"

    def rows(self) -> list[list[str]]:
        """The table's cells, as text (the wall-clock column only with ``timing``)."""
        rows = []
        for r in self.results:
            result = "passed" if r.passed else f"FAILED (seed {r.failure.seed})"
            if r.real:  # a Trial: real code on real sockets, nothing simulated
                simulated, messages = "real run", "-"
            else:
                simulated, messages = f"{r.simulated_ms / 1000:,.1f} s", f"{r.messages:,}"
            row = [r.check.name, r.check.part, result, f"{r.seeds_run} of {r.seeds_total}",
                   simulated, messages]
            if self.timing:
                row.append(f"{r.wall_seconds:.2f} s")
            rows.append(row)
        return rows

    def columns(self) -> list[str]:
        return [*_COLUMNS, "wall time"] if self.timing else list(_COLUMNS)

    # -- text ------------------------------------------------------------------------------
    def __str__(self) -> str:
        columns, rows = self.columns(), self.rows()
        widths = [max(len(line[i]) for line in [columns, *rows]) for i in range(len(columns))]
        right = {"seeds run", "simulated", "messages", "wall time"}

        def line(cells: list[str]) -> str:
            return "  ".join(c.rjust(w) if name in right else c.ljust(w)
                             for c, w, name in zip(cells, widths, columns)).rstrip()

        out = [self.headline(), "", line(columns), line(["-" * w for w in widths])]
        out += [line(row) for row in rows]
        for failure in self.failures:
            out += ["", *failure.lines()]
        return "\n".join(out)

    def __repr__(self) -> str:
        return f"<Report {self.headline()}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    # -- HTML (Jupyter) ----------------------------------------------------------------------
    def _repr_html_(self) -> str:
        from distlab.viz.palette import FAILED, PASSED  # here: grading runs without matplotlib

        esc = html.escape
        head = "".join(f"<th>{esc(c)}</th>" for c in self.columns())
        body = []
        for r, row in zip(self.results, self.rows()):
            colour = PASSED if r.passed else FAILED
            cells = [f'<td title="{esc(r.check.description)}"><code>{esc(row[0])}</code></td>']
            cells += [f"<td>{esc(row[1])}</td>",
                      f'<td style="color:{colour};font-weight:bold">{esc(row[2])}</td>']
            cells += [f'<td style="text-align:right">{esc(c)}</td>' for c in row[3:]]
            body.append("<tr>" + "".join(cells) + "</tr>")
        parts = [f"<p><b>{esc(self.headline())}</b></p>",
                 f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"]
        for failure in self.failures:
            first, *rest = failure.lines()
            parts.append(f'<details open><summary style="color:{FAILED}"><b>{esc(first)}</b>'
                         f'</summary><pre>{esc(chr(10).join(rest))}</pre></details>')
        return "\n".join(parts)

    def summary(self) -> dict[str, Any]:
        """The outcome as plain data, without wall-clock times (it must reproduce)."""
        return {
            "title": self.title,
            "passed": self.passed,
            "checks": [{"name": r.check.name, "part": r.check.part, "passed": r.passed,
                        "seeds_run": r.seeds_run, "seeds": r.seeds_total,
                        "kind": None if r.passed else r.failure.kind,
                        "seed": None if r.passed else r.failure.seed,
                        "summary": None if r.passed else r.failure.summary}
                       for r in self.results],
        }

    def _ipython_display_(self) -> None:
        from IPython.display import display

        from distlab.viz.style import describe_figure

        display({"text/plain": str(self), "text/html": self._repr_html_(),
                 REPORT_MIME: self.summary()}, raw=True)
        for failure in self.failures[:MAX_DIAGRAMS]:
            for what, draw in (("Space-time diagram", failure.spacetime),
                               ("Picture", failure.picture)):
                figure = draw() if draw is not None else None
                if figure is not None:   # its titles are its alt text in the book
                    title = describe_figure(figure) or f"{failure.check}, seed {failure.seed}"
                    display({"image/png": _png(figure)},
                            metadata={"image/png": {"alt": f"{what} of {title}"}}, raw=True)


def _png(figure: Any) -> str:
    """The figure as base64 PNG (for a raw display), and closed so it is not shown twice."""
    import matplotlib.pyplot as plt

    from distlab.viz import figure_png

    data = figure_png(figure)
    plt.close(figure)
    return base64.b64encode(data).decode("ascii")


class ReportSummaryInBook:
    """A myst-nb mime renderer (registered in ``pyproject.toml``) for `REPORT_MIME`.

    A lab report's output carries an HTML table for people and a JSON summary for tests. The
    book shows the table; this renders the summary as nothing, where myst-nb would otherwise
    warn that it does not know the type (and the book build treats warnings as errors).
    """

    mime_priority_overrides: tuple = ()

    @staticmethod
    def handle_mime(renderer: object, data: Any, inline: bool) -> list | None:
        return [] if data.mime_type == REPORT_MIME else None
