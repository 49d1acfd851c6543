"""Tasks drawn on a timeline, one lane per worker (a Gantt chart), from a trace.

A worker that notes ``self.note("start", kind="map", task=3)`` when it begins a task and
``self.note("finish", kind="map", task=3)`` when it ends it (as the workers of
`distlab.compute.mapreduce` do) gets one bar per task execution: coloured by its kind,
labelled with the kind's short name and the task (``m3``, ``r1``), so that kinds differ in more
than colour (the legend says which short name is which kind). A kind's short name is the
shortest start of it that no other kind of the chart shares: its initial when the initials
differ (``map``, ``reduce``), more when they do not (the jobs ``big``, ``q1`` and ``q2`` give
``b``, ``q1`` and ``q2``, so that the bars of two queries differ in more than colour); a
colon parts a short name ending in a digit from the task (``q1:0``, not ``q10``).

A bar that a crash cut short ends in a red cross; a task that ran more than once --
re-executed after a crash, or backed up because its first worker straggled -- has every one
of its bars hatched, so the copies are easy to match up.
`distlab.viz` depends on no topic: any trace with such notes can be drawn.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.patches import Patch

from distlab.sim.helpers import trace_of
from distlab.viz.palette import DROP_COLOR, GREY, INK, PALETTE, WHITE, text_on
from distlab.viz.style import NotebookFigure


@dataclass(frozen=True)
class TaskSpan:
    """One execution of a task: on which ``node``, from ``start`` to ``end``, and how it ended
    (``"finished"``, ``"crashed"`` or ``"running"`` at the end of the trace)."""

    node: str
    kind: str
    task: object
    start: float
    end: float
    outcome: str


def short_names(kinds: Iterable[str]) -> dict[str, str]:
    """Each of ``kinds`` by its shortest start that no other kind starts with (the whole
    kind if every start of it is shared): ``map``, ``reduce`` -> ``m``, ``r``; ``big``,
    ``q1``, ``q2`` -> ``b``, ``q1``, ``q2``."""
    kinds = sorted(set(kinds))
    names = {}
    for kind in kinds:
        others = [k for k in kinds if k != kind]
        names[kind] = next((kind[:n] for n in range(1, len(kind))
                            if not any(other.startswith(kind[:n]) for other in others)), kind)
    return names


def bar_label(short_name: str, task: object) -> str:
    """The label of a bar of ``task`` of the kind named ``short_name``: ``m3``, or ``q1:0``
    when the name ends in a digit (``q10`` would read as task 10 of ``q``)."""
    colon = ":" if short_name[-1:].isdigit() else ""
    return f"{short_name}{colon}{task}"


def task_spans(source: object, *, start: str = "start", finish: str = "finish"
               ) -> list[TaskSpan]:
    """The task executions of a trace (or simulation), in the order they began."""
    open_spans: dict[str, tuple[str, object, float]] = {}
    spans = []
    end_time = 0.0
    for event in trace_of(source):
        end_time = event.time
        if event.kind == "crash" and event.node in open_spans:
            kind, task, began = open_spans.pop(event.node)
            spans.append(TaskSpan(event.node, kind, task, began, event.time, "crashed"))
        elif event.kind == "note" and event.data.what == start:
            open_spans[event.node] = (event.data.get("kind", "task"), event.data.get("task"),
                                      event.time)
        elif event.kind == "note" and event.data.what == finish and event.node in open_spans:
            kind, task, began = open_spans.pop(event.node)
            spans.append(TaskSpan(event.node, kind, task, began, event.time, "finished"))
    spans += [TaskSpan(node, kind, task, began, end_time, "running")
              for node, (kind, task, began) in open_spans.items()]
    return sorted(spans, key=lambda s: (s.start, s.node))


def draw_tasks(ax: Axes, spans: Sequence[TaskSpan], lanes: Sequence[str], *,
               title: str = "", until: float | None = None) -> None:
    """Draw ``spans`` on ``ax``, one lane per node of ``lanes`` (top to bottom)."""
    kinds = sorted({s.kind for s in spans})
    colors = {kind: PALETTE[i % len(PALETTE)] for i, kind in enumerate(kinds)}
    names = short_names(kinds)
    copies = Counter((s.kind, s.task) for s in spans)
    row = {node: len(lanes) - 1 - i for i, node in enumerate(lanes)}
    for span in spans:
        if span.node not in row:
            continue
        y = row[span.node]
        hatch = "///" if copies[span.kind, span.task] > 1 else None
        ax.barh(y, span.end - span.start, left=span.start, height=0.6,
                color=colors[span.kind], hatch=hatch, edgecolor=INK,
                linewidth=0.6)
        ax.text((span.start + span.end) / 2, y, bar_label(names[span.kind], span.task),
                ha="center", va="center", fontsize=8, color=text_on(colors[span.kind]),
                fontweight="bold")
        if span.outcome == "crashed":
            ax.plot([span.end], [y], marker="X", markersize=11, color=DROP_COLOR)
    ax.set_yticks(range(len(lanes)), list(reversed(lanes)))
    ax.set_xlabel("simulated time (ms)")
    if until is not None:
        ax.set_xlim(0, until)
    handles = [Patch(facecolor=colors[k], label=f"{k} ({bar_label(names[k], '…')})")
               for k in kinds]
    if any(n > 1 for n in copies.values()):
        handles.append(Patch(facecolor=WHITE, edgecolor=INK, hatch="///",
                             label="ran more than once"))
    if any(s.outcome == "crashed" for s in spans):
        handles.append(Patch(facecolor=DROP_COLOR, label="crashed"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
              frameon=False)
    ax.grid(axis="x", color=GREY, alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10, loc="left")


def gantt(source: object, *, nodes: Iterable[str] | None = None, title: str = "",
          until: float | None = None) -> NotebookFigure:
    """The task executions of a trace (or simulation) as a Gantt chart, one lane per node
    that ran a task (or per node of ``nodes``); make the call the last line of a cell."""
    spans = task_spans(source)
    lanes = list(nodes) if nodes is not None else sorted({s.node for s in spans})
    fig = NotebookFigure(figsize=(9, 0.9 + 0.45 * max(len(lanes), 2)), dpi=90,
                         layout="constrained")
    draw_tasks(fig.subplots(), spans, lanes, title=title, until=until)
    return fig
