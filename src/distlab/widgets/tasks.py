"""The task explorer: run a job under a straggler and a crash, with or without backups, and
see its tasks on a Gantt chart.

Give it ``run(slowdown=..., crash_at=..., backups=..., seed=...)``, a function that runs one
job and returns its `Simulation` and a one-line summary; the explorer's controls set those
four settings (how many times slower the straggler is, when a worker crashes -- or None --,
whether backup tasks are on, the seed), call ``run`` again at each change, and draw the
tasks of the run (`distlab.viz.gantt`): each task execution a bar on its worker's lane,
copies hatched, crashed executions crossed. What the settings mean -- which worker straggles,
which one crashes -- is the run function's to say; `distlab.widgets` knows no topic.

In a notebook::

    TaskExplorer(run, nodes=["w1", "w2", "w3", "w4"]).show()

shows the live controls and, below them, a static picture of the first run, which is what a
reader of the static book (no kernel) sees.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable

import ipywidgets as w
from IPython.display import Markdown, display
from matplotlib.figure import Figure

from distlab.sim import Simulation
from distlab.viz.gantt import draw_tasks, task_spans
from distlab.viz.style import figure_png, static_image
from distlab.widgets.controls import Controls, menu, row, slider

JobRunner = Callable[..., tuple[Simulation, str]]
#: the crash times the explorer offers, in ms (None: no crash), by the menu's words for them
#: (a menu whose choice has the value None shows no choice at all: ipywidgets reads None as
#: "nothing chosen")
CRASH_TIMES = {"no crash": None, **{f"crash at {t} ms": t for t in (50, 100, 150, 200, 300)}}


class TaskExplorer(Controls):
    """Live controls over one job's run: ``slowdown``, ``crash``, ``backups`` and ``seed``.

    ``sim`` is the latest run and ``summary`` its line; ``until`` (ms), if given, fixes the
    chart's time axis, so that runs can be compared by eye.
    """

    def __init__(self, run: JobRunner, *, nodes: Iterable[str], title: str = "Tasks",
                 until: float | None = None, slowdown: int = 1, backups: bool = True) -> None:
        if not callable(run):
            raise TypeError(f"TaskExplorer needs run(slowdown=, crash_at=, backups=, seed=) "
                            f"-> (simulation, summary); got {run!r}")
        self.run = run
        self.nodes = list(nodes)
        self.title = title
        self.until = until
        self.figure = Figure(figsize=(9.5, 0.9 + 0.45 * max(len(self.nodes), 2)), dpi=80,
                             layout="constrained")
        self.ax = self.figure.add_subplot()
        self.slowdown = slider(w.IntSlider, "straggler slowdown", value=slowdown, min=1,
                               max=20, continuous_update=False)
        self.crash = menu(list(CRASH_TIMES), value="no crash")
        self.backups = w.Checkbox(value=backups, description="backup tasks")
        self.seed = slider(w.IntSlider, "seed", value=1, min=0, max=20, continuous_update=False)
        for control in (self.slowdown, self.crash, self.backups, self.seed):
            control.observe(lambda change: self._act(self.rerun), "value")
        self.image = w.Image(format="png")
        self.status = w.HTML()
        self.widget = w.VBox([
            w.HTML(f"<b>{html.escape(title)}</b>"),
            row(self.slowdown, self.crash, self.backups, self.seed),
            self.image, self.status])
        self.sim: Simulation | None = None
        self.summary = ""
        self.rerun()
        self.redraw()

    def settings(self) -> dict[str, object]:
        """What the controls say now, as ``run``'s keyword arguments."""
        return {"slowdown": self.slowdown.value, "crash_at": CRASH_TIMES[self.crash.value],
                "backups": self.backups.value, "seed": self.seed.value}

    def rerun(self) -> None:
        """Run the job again with the current settings."""
        self.sim, self.summary = self.run(**self.settings())

    def redraw(self) -> None:
        self.ax.clear()
        if self.sim is not None:
            draw_tasks(self.ax, task_spans(self.sim), self.nodes, title=self.title,
                       until=self.until)
        self.image.value = figure_png(self.figure)
        self.status.value = (f"<span style='font-size:13px'>{html.escape(self.summary)}"
                             f"{self.error_html()}</span>")

    def show(self) -> None:
        """Display the live explorer and, under it, a static picture of the current run and
        its summary."""
        self.redraw()
        bundle = self.widget._repr_mimebundle_()
        bundle["text/plain"] = f"TaskExplorer: {self.title} (live controls need a running kernel)"
        display(bundle, raw=True)
        display(static_image(self.figure, alt=(
            f"{self.title}: the tasks each worker ran, one lane per worker, one bar per task "
            f"execution. {self.summary}")))
        display(Markdown(f"*{self.summary}* With a running kernel, the controls above slow a "
                         f"worker down, crash one, and turn backup tasks on and off."))

    def _ipython_display_(self) -> None:
        self.show()
