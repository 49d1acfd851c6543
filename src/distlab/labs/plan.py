"""The study plan: the book's roadmap in weeks (6 or 12 months), and where a reader is on it.

``roadmap.toml`` (next to this module) lists the units of the roadmap in order: the pages to
read, the lab parts to do, the papers, the weeks each takes in either plan, and what the
curriculum promises that is not written yet. `weeks` lays the units out week by week;
`plan_table` shows a plan as a table (book page 00.03); `progress` reads which lab parts a
reader has passed (`distlab.grading.progress`) and `draw_progress` shows it on the plan.
``python -m distlab.labs.plan [labs/]`` prints where the reader is and what comes next.
"""

from __future__ import annotations

import html
import json
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from distlab.grading.progress import passed_parts
from distlab.viz.palette import BLUISH_GREEN, INK_SOFT, LIGHT_GREY, ORANGE, WHITE
from distlab.viz.style import NotebookFigure

ROADMAP = Path(__file__).with_name("roadmap.toml")
REPO = Path(__file__).resolve().parents[3]
MONTHS = {6: "weeks6", 12: "weeks12"}


@dataclass(frozen=True)
class Unit:
    """One step of the roadmap (see ``roadmap.toml`` for the fields)."""

    title: str
    chapter: str
    weeks6: int
    weeks12: int
    pages: tuple[str, ...] = ()
    labs: tuple[str, ...] = ()
    papers: tuple[str, ...] = ()
    planned: tuple[str, ...] = ()
    project: str = ""

    def weeks(self, months: int) -> int:
        return getattr(self, MONTHS[months])


@dataclass(frozen=True)
class Week:
    """A unit placed in a plan: its first and last week."""

    first: int
    last: int
    unit: Unit


@dataclass
class Progress:
    """Which units a reader has done (all their lab parts passed), and the next one."""

    done: list[Unit] = field(default_factory=list)
    started: list[Unit] = field(default_factory=list)  # some of their lab parts passed
    passed: set[str] = field(default_factory=set)

    def state(self, unit: Unit) -> str:
        """"done", "started", "planned" (nothing written yet) or "to do"."""
        if unit in self.done:
            return "done"
        if unit in self.started:
            return "started"
        return "planned" if not unit.pages and not unit.labs else "to do"


def load(path: Path = ROADMAP) -> list[Unit]:
    """The units of the roadmap, in order."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    units = []
    for n, raw in enumerate(data.get("unit", []), start=1):
        try:
            units.append(Unit(**{k: tuple(v) if isinstance(v, list) else v
                                 for k, v in raw.items()}))
        except TypeError as exc:
            raise ValueError(f"{path}: unit {n} ({raw.get('title', '?')}): {exc}") from None
    return units


def weeks(months: int, units: list[Unit] | None = None) -> list[Week]:
    """The units laid out over a ``months``-month plan (6 or 12), week by week."""
    if months not in MONTHS:
        raise ValueError(f"there is a 6-month and a 12-month plan, not a {months}-month one")
    placed, week = [], 1
    for unit in units if units is not None else load():
        placed.append(Week(week, week + unit.weeks(months) - 1, unit))
        week += unit.weeks(months)
    return placed


def page_title(page: str, repo: Path = REPO) -> str:
    """The title of a page of the book (its first heading), from its path in ``_toc.yml``."""
    for suffix in (".ipynb", ".md"):
        path = repo / f"{page}{suffix}"
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            if suffix == ".ipynb":
                text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"]
                                 if c["cell_type"] == "markdown")
            heading = re.search(r"^#\s+(.+)$", text, re.MULTILINE)
            if heading:
                return heading.group(1).strip()
    return page.rsplit("/", 1)[-1]


class PlanTable:
    """A plan as a table: one row per unit, with its weeks (shown as HTML in Jupyter)."""

    def __init__(self, months: int, progress: Progress | None = None):
        self.months, self.rows, self.progress = months, weeks(months), progress

    def _cells(self, week: Week) -> list[str]:
        unit = week.unit
        when = (f"{week.first}" if week.first == week.last else f"{week.first}-{week.last}")
        read = "; ".join(page_title(p) for p in unit.pages)
        coming = "; ".join(unit.planned)
        do = ", ".join(unit.labs)
        if unit.project and self.months == 12:
            do = f"{do}; project: {unit.project}" if do else f"project: {unit.project}"
        done = (f"the checks of {', '.join(unit.labs)} pass" if unit.labs
                else "the page's exercises, done without the solutions")
        return [when, unit.chapter, unit.title, read or "-", coming or "-", do or "-",
                ", ".join(unit.papers) or "-", done]

    HEADER = ["week", "chapter", "unit", "read", "coming (not yet written)", "do",
              "papers", "done when"]

    def _repr_html_(self) -> str:
        rows = ["<tr>" + "".join(f"<th>{h}</th>" for h in self.HEADER) + "</tr>"]
        for week in self.rows:
            rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>"
                                         for c in self._cells(week)) + "</tr>")
        return "<table>\n" + "\n".join(rows) + "\n</table>"

    def __str__(self) -> str:
        lines = [f"A {self.months}-month plan ({self.rows[-1].last} weeks)"]
        for week in self.rows:
            when, chapter, title, *_ = self._cells(week)
            lines.append(f"  week {when:>5}  {chapter}: {title}")
        return "\n".join(lines)

    __repr__ = __str__


def plan_table(months: int) -> PlanTable:
    """The ``months``-month plan (6 or 12) as a table."""
    return PlanTable(months)


def progress(folder: Path | str = ".", units: list[Unit] | None = None) -> Progress:
    """What the reader has done, from the lab parts passed in ``folder`` (their labs/)."""
    passed = passed_parts(Path(folder))
    result = Progress(passed=passed)
    for unit in units if units is not None else load():
        got = [lab for lab in unit.labs if lab in passed]
        if unit.labs and len(got) == len(unit.labs):
            result.done.append(unit)
        elif got:
            result.started.append(unit)
    return result


def next_unit(done: Progress, units: list[Unit] | None = None) -> Unit | None:
    """The first unit with lab parts not passed yet (None once every written lab passes)."""
    for unit in units if units is not None else load():
        if unit.labs and unit not in done.done:
            return unit
    return None


#: how a unit is drawn, by where the reader is: (colour, hatch), so not by colour alone
LOOKS = {"done": (BLUISH_GREEN, ""), "started": (ORANGE, "...."), "to do": (LIGHT_GREY, ""),
         "planned": (WHITE, "//")}


def draw_progress(done: Progress, months: int = 6) -> Figure:
    """The plan as a bar of weeks, each unit coloured by where the reader is."""
    placed = weeks(months)
    fig = NotebookFigure(figsize=(10, 0.32 * len(placed) + 1))
    ax = fig.subplots()
    for row, week in enumerate(placed):
        color, hatch = LOOKS[done.state(week.unit)]
        ax.barh(row, week.last - week.first + 1, left=week.first - 0.5, color=color,
                edgecolor=INK_SOFT, hatch=hatch)
        ax.text(placed[-1].last + 1, row, week.unit.title, va="center", fontsize=8)
    upcoming = next_unit(done)
    if upcoming is not None:
        row = [w.unit for w in placed].index(upcoming)
        ax.annotate("next", (placed[row].first - 0.5, row), xytext=(-30, 0),
                    textcoords="offset points", va="center", fontsize=8,
                    arrowprops={"arrowstyle": "->"})
    ax.set_yticks([])
    ax.invert_yaxis()
    ax.set_xlim(0, placed[-1].last + 1)
    ax.set_xlabel("week")
    ax.set_title(f"The {months}-month plan: {len(done.done)} of "
                 f"{sum(1 for w in placed if w.unit.labs)} units with labs done")
    ax.legend(handles=[Patch(facecolor=color, edgecolor=INK_SOFT, label=state, hatch=hatch)
                       for state, (color, hatch) in LOOKS.items()],
              loc="lower left", fontsize=8, ncol=4)
    fig.subplots_adjust(right=0.62)
    return fig


def main(argv: list[str] | None = None) -> int:
    """``python -m distlab.labs.plan [folder]``: where the reader is, and what comes next."""
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0]) if args else Path("labs")
    done = progress(folder)
    print(f"{len(done.passed)} lab parts passed in {folder}")
    for unit in load():
        print(f"  [{done.state(unit):7}] {unit.chapter}: {unit.title}")
    upcoming = next_unit(done)
    if upcoming is None:
        print("Every lab written so far passes.")
    else:
        print(f"Next: {upcoming.title}: read {', '.join(page_title(p) for p in upcoming.pages)}"
              f"; do {', '.join(upcoming.labs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
