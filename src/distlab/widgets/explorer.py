"""The Explorer: run a simulated scenario by hand, break it, and watch what happens.

Give it a *factory*, a function ``factory(seed) -> Simulation`` that builds a fresh scenario,
and it shows the topology, the space-time diagram of the recent past and a table of every
node's state, under buttons to step or run the simulation, reset it with another seed,
change the network's latency and loss, crash and restart nodes, and partition the network.

Redrawing is the slow part of any such tool, so the Explorer keeps its figures (it never
makes a new one), draws messages as collections, renders PNGs with light compression into
``ipywidgets.Image`` views, and redraws the topology only when crashes or cuts change.

In a notebook::

    Explorer(make_scenario, title="Pingers").show(run_until=1_000)

shows the live controls and, below them, a static picture of the scenario run to
``run_until``: the static book has no kernel to run the controls, so that picture is what a
reader of the HTML page sees working.
"""

from __future__ import annotations

import html
import itertools
import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any

import ipywidgets as w
from IPython.display import Markdown, display
from matplotlib.figure import Figure

from distlab.sim import Constant, Exponential, Latency, LogNormal, Normal, Simulation, Uniform
from distlab.viz.palette import GREY
from distlab.viz.spacetime import SpaceTimeDrawer, draw_spacetime
from distlab.viz.style import compact_png, figure_png, legend_html, static_image
from distlab.viz.timeline import read_timeline
from distlab.viz.topology import Roles, circle_positions, draw_topology, read_topology
from distlab.widgets.controls import FITTED_DESCRIPTION, Controls, button, menu, row, slider
from distlab.widgets.tables import scrolling_table

#: When no ``window`` is given, the space-time diagram shows about this many recent events.
RECENT_EVENTS = 300
#: The state table shows at most this many columns of ``node.show()``.
MAX_COLUMNS = 8
NO_PARTITION = "none"
OTHER_CUTS = "(set by the scenario)"


class Explorer(Controls):
    """Interactive controls and live drawings for the scenario that ``factory(seed)`` builds.

    ``nodes`` chooses and orders the lanes drawn (default: all); ``roles`` colours the
    topology (a mapping id -> label, or a callable on the node object, e.g.
    ``lambda node: node.role``); ``window`` is the span of the space-time diagram in ms
    (default: about the last 300 events); ``run_ms`` the Run button's first step.
    """

    def __init__(self, factory: Callable[[int], Simulation], *,
                 nodes: Iterable[str] | None = None, roles: Roles = None,
                 title: str | None = None, seed: int = 1, window: float | None = None,
                 run_ms: int = 200) -> None:
        if not callable(factory):
            raise TypeError(f"Explorer needs a factory: a function seed -> Simulation; "
                            f"got {factory!r}")
        self.factory = factory
        self.lanes = None if nodes is None else list(nodes)
        self.roles = roles
        self.title = title or getattr(factory, "__name__", "scenario")
        self.window = window
        self.sim: Simulation = self._build(seed)
        self.error: str | None = None
        #: seconds taken by each redraw so far (see `bench/bench_explorer.py`)
        self.redraw_seconds: list[float] = []

        self.spacetime_drawer = SpaceTimeDrawer(figsize=(7.4, 3.2), dpi=80, legend=False)
        self.topology_figure = Figure(figsize=(3.2, 3.3), dpi=80)
        self.topology_figure.subplots_adjust(left=0.02, right=0.98, top=0.9, bottom=0.12)
        self.topology_ax = self.topology_figure.add_subplot()
        self._topology_key: Any = None
        self._syncing = False   # True while widgets are being set from the simulation
        self._make_widgets(seed, run_ms)
        self._sync_controls()
        self.redraw()

    # -- the scenario -------------------------------------------------------------------------
    def _build(self, seed: int) -> Simulation:
        sim = self.factory(seed)
        if not isinstance(sim, Simulation):
            raise TypeError(f"the Explorer's factory must return a Simulation; "
                            f"{self.factory!r}({seed}) returned {type(sim).__name__}")
        return sim

    @property
    def node_ids(self) -> list[str]:
        return self.lanes if self.lanes is not None else list(self.sim.nodes)

    # -- widgets ------------------------------------------------------------------------------
    def _make_widgets(self, seed: int, run_ms: int) -> None:
        self.step_button = button("Step", tooltip="run the next event")
        self.run_button = button("Run", tooltip="run for the time on the slider",
                                 button_style="primary")
        self.run_ms = slider(w.IntSlider, "run (ms)", value=run_ms, min=10, max=2000, step=10,
                             continuous_update=False)
        self.seed_box = w.IntText(value=seed, description="seed", style=FITTED_DESCRIPTION,
                                  layout=w.Layout(width="150px"))
        self.reset_button = button("Reset", tooltip="rebuild the scenario with this seed")
        mean = self.sim.network.latency.mean
        self.latency = slider(w.FloatSlider, "latency (ms)", value=mean, min=0.0,
                              max=max(20.0, 4 * mean), step=0.5, continuous_update=False)
        self.loss = slider(w.FloatSlider, "loss", value=self.sim.network.loss, min=0.0, max=0.5,
                           step=0.01, continuous_update=False)
        # up to 56 characters a choice ("a,b,c | d,e,f" with six long names): kept shorter
        self.partition = menu([], "partition", max_width="330px")
        self.crash_buttons: dict[str, w.Button] = {}
        self.crash_row = row()
        self.topology_image = w.Image(format="png")
        self.spacetime_image = w.Image(format="png")
        self.legend = w.HTML()
        self.table = w.HTML()
        self.status = w.HTML()

        self.step_button.on_click(lambda _: self._act(self._step))
        self.run_button.on_click(lambda _: self._act(self._run))
        self.reset_button.on_click(lambda _: self._act(self.reset))
        self.latency.observe(lambda change: self._on_slider(self._set_latency, change), "value")
        self.loss.observe(lambda change: self._on_slider(self._set_loss, change), "value")
        self.partition.observe(lambda change: self._on_slider(self._set_partition, change),
                               "value")

        self.widget = w.VBox([
            w.HTML(f"<b>{html.escape(self.title)}</b>"),
            row(self.step_button, self.run_button, self.run_ms, self.seed_box, self.reset_button),
            row(self.latency, self.loss, self.partition),
            self.crash_row,
            row(self.topology_image, w.VBox([self.spacetime_image, self.legend])),
            self.status,
            self.table,
        ])

    def _acted(self) -> None:
        self._sync_controls()

    def _on_slider(self, action: Callable[[Any], None], change: dict) -> None:
        if not self._syncing:
            self._act(lambda: action(change["new"]))

    # -- actions (each is also what a button does) ----------------------------------------------
    def _step(self) -> None:
        # One click, one visible event: events that record nothing (an on_start that only
        # sets a timer) are run on the way.
        for _ in range(self.sim.max_events):
            events = self.sim.step()
            if events is None:
                self.error = "nothing left to run: no message in flight, no timer pending"
            if events != []:
                return

    def _run(self) -> None:
        self.sim.run(until=self.sim.now + self.run_ms.value)

    def reset(self) -> None:
        """Rebuild the scenario from the factory with the seed in the seed box."""
        self.sim = self._build(self.seed_box.value)
        self._topology_key = None

    def _set_latency(self, mean: float) -> None:
        self.sim.network.latency = scaled_latency(self.sim.network.latency, mean)

    def _set_loss(self, loss: float) -> None:
        self.sim.network.loss = loss

    def _toggle_crash(self, node_id: str) -> None:
        if node_id in self.sim.crashed:
            self.sim.restart(node_id)
        else:
            self.sim.crash(node_id)

    def _set_partition(self, label: str) -> None:
        groups = self._partitions().get(label)
        if label == NO_PARTITION:
            self.sim.heal()
        elif groups is not None:
            self.sim.partition(*groups)

    def _partitions(self) -> dict[str, tuple[tuple[str, ...], ...] | None]:
        """The partition chooser's entries: none, isolate one node, or (up to 6 nodes) any
        split into two groups of two or more."""
        ids = sorted(self.sim.nodes)
        choices: dict[str, tuple[tuple[str, ...], ...] | None] = {NO_PARTITION: None}
        for node in ids:
            choices[f"isolate {node}"] = ((node,),)
        if len(ids) <= 6:
            for size in range(2, len(ids) // 2 + 1):
                for group in itertools.combinations(ids, size):
                    rest = tuple(n for n in ids if n not in group)
                    if size == len(rest) and group > rest:
                        continue   # the same split was listed from the other side
                    choices[f"{','.join(group)} | {','.join(rest)}"] = (group, rest)
        return choices

    # -- keeping the controls in step with the simulation -------------------------------------
    def _sync_controls(self) -> None:
        """Show the simulation's real state in the controls (the scenario may change it too)."""
        self._syncing = True
        try:
            self.seed_box.value = self.sim.seed if isinstance(self.sim.seed, int) else 0
            self.latency.value = self.sim.network.latency.mean
            self.loss.value = self.sim.network.loss
            choices = self._partitions()
            options = [*choices, OTHER_CUTS]
            if list(self.partition.options) != options:
                self.partition.options = options
            self.partition.value = self._current_partition(choices)
            if set(self.crash_buttons) != set(self.sim.nodes):
                self.crash_buttons = {node: self._crash_button(node) for node in self.sim.nodes}
                self.crash_row.children = list(self.crash_buttons.values())
            for node, button in self.crash_buttons.items():
                down = node in self.sim.crashed
                button.description = f"restart {node}" if down else f"crash {node}"
                button.button_style = "warning" if down else ""
        finally:
            self._syncing = False

    def _crash_button(self, node_id: str) -> w.Button:
        crash = button(f"crash {node_id}")
        crash.on_click(lambda _: self._act(lambda: self._toggle_crash(node_id)))
        return crash

    def _current_partition(self, choices: dict) -> str:
        cut = self.sim.cut_links
        if not cut:
            return NO_PARTITION
        for label, groups in choices.items():
            if groups is not None and _cut_links(groups, list(self.sim.nodes)) == cut:
                return label
        return OTHER_CUTS

    # -- drawing ------------------------------------------------------------------------------
    def _window_start(self) -> float:
        trace = self.sim.trace
        if self.window is not None:
            return max(0.0, self.sim.now - self.window)
        if len(trace) > RECENT_EVENTS:
            return trace[-RECENT_EVENTS].time
        return 0.0

    def redraw(self, everything: bool = False) -> float:
        """Redraw the views from the simulation; return the seconds it took.

        The topology is drawn again only if what it shows changed, or if ``everything``.
        """
        started = time.perf_counter()
        if everything:
            self._topology_key = None
        sim = self.sim
        end = max(sim.now, 1.0)
        entries = self.spacetime_drawer.draw(sim.trace, nodes=self.node_ids,
                                             start=self._window_start(), end=end, title="")
        self.spacetime_image.value = self.spacetime_drawer.png()
        self.legend.value = legend_html(entries)
        self._draw_topology()
        self.table.value = self.state_table()
        self.status.value = self._status()
        elapsed = time.perf_counter() - started
        self.redraw_seconds.append(elapsed)
        return elapsed

    def _draw_topology(self) -> None:
        view = read_topology(self.sim, self.roles)
        key = (tuple(view.nodes), view.crashed, view.cut, tuple(sorted(view.roles.items())))
        if key == self._topology_key:
            return   # nothing it shows has changed
        self._topology_key = key
        ax = self.topology_ax
        for artist in [*ax.collections, *ax.texts]:
            artist.remove()
        if ax.legend_ is not None:
            ax.legend_.remove()
        draw_topology(ax, view, circle_positions(view.nodes), title="topology")
        self.topology_image.value = figure_png(self.topology_figure)

    def state_table(self) -> str:
        """An HTML table of every node's ``show()`` (crashed nodes have lost theirs), in a box
        that scrolls sideways where it is too wide (`scrolling_table`)."""
        states = {}
        for node in self.node_ids:
            if node in self.sim.crashed or node not in self.sim.nodes:
                states[node] = None
            else:
                states[node] = self.sim.nodes[node].show()
        columns: list[str] = []
        for state in states.values():
            for key in state or {}:
                if key not in columns and len(columns) < MAX_COLUMNS:
                    columns.append(key)
        rows = []
        for node, state in states.items():
            if state is None:
                lost = ["<i>crashed</i>", *[""] * (len(columns) - 1)] if columns else []
                rows.append((node, lost, GREY))
            else:
                rows.append((node, [html.escape(_short(state.get(c, ""))) for c in columns],
                             None))
        return scrolling_table(["node", *map(str, columns)], rows)

    def _status(self) -> str:
        sim = self.sim
        counts = sim.trace.counts()
        text = (f"seed {html.escape(str(sim.seed))} · t = {sim.now:,.1f} ms · "
                f"{len(sim.trace):,} events · {counts.get('deliver', 0):,} delivered · "
                f"{counts.get('drop', 0):,} dropped · {html.escape(repr(sim.network))}")
        text += self.error_html()
        return f"<span style='font-size:12px'>{text}</span>"

    # -- showing it in a notebook -----------------------------------------------------------------
    def show(self, run_until: float | None = None) -> None:
        """Display the live explorer and, under it, a static figure of the scenario.

        ``run_until`` first runs the simulation to that time (ms). The static figure (the
        topology and the space-time diagram) and its caption are what the static book shows
        working, since the controls need a kernel.
        """
        if run_until is not None and run_until > self.sim.now:
            self._act(lambda: self.sim.run(until=run_until))
        # The images as first shown are saved in the notebook: make them small (later
        # redraws favour speed instead).
        self.spacetime_image.value = compact_png(self.spacetime_drawer.figure)
        self.topology_image.value = compact_png(self.topology_figure)
        bundle = self.widget._repr_mimebundle_()
        bundle["text/plain"] = f"Explorer: {self.title} (live controls need a running kernel)"
        display(bundle, raw=True)
        display(static_image(self.static_figure(), alt=(
            f"Topology and space-time diagram of {self.title}: the events up to "
            f"t = {self.sim.now:,.0f} ms")))
        display(Markdown(self.caption()))

    def _ipython_display_(self) -> None:
        self.show()

    def caption(self) -> str:
        sim = self.sim
        counts = sim.trace.counts()
        faults = []
        if sim.crashed:
            faults.append("crashed now: " + ", ".join(sorted(sim.crashed)))
        if sim.cut_links:
            faults.append(f"{len(sim.cut_links) // 2} links cut")
        more = f" ({'; '.join(faults)})" if faults else ""
        return (f"*{self.title}*, seed {sim.seed}, after {sim.now:,.0f} ms: "
                f"{counts.get('deliver', 0):,} messages delivered, {counts.get('drop', 0):,} "
                f"dropped{more}. With a running kernel, the controls above step, run, "
                f"crash, partition and reset this scenario.")

    def static_png(self) -> bytes:
        """The topology and the space-time diagram of the current run, as one PNG."""
        return compact_png(self.static_figure())

    def static_figure(self) -> Figure:
        """The topology and the space-time diagram of the current run, in one figure."""
        fig = Figure(figsize=(11, 3.6), dpi=90)
        left, right = fig.subplots(1, 2, width_ratios=[1, 3.2])
        fig.subplots_adjust(left=0.01, right=0.86, top=0.88, bottom=0.14, wspace=0.12)
        view = read_topology(self.sim, self.roles)
        draw_topology(left, view, circle_positions(view.nodes), title="topology")
        start, end = self._window_start(), max(self.sim.now, 1.0)
        timeline = read_timeline(self.sim.trace, self.node_ids, until=end,
                                 since=start - (end - start))
        draw_spacetime(right, timeline, start=start, end=end,
                       title=f"{self.title}: the last events up to t = {self.sim.now:,.0f} ms")
        return fig


def scaled_latency(latency: Latency, mean: float) -> Latency:
    """The same kind of latency distribution, scaled to have the given mean (ms)."""
    if mean <= 0:
        return Constant(0.0)
    factor = mean / latency.mean if latency.mean > 0 else None
    match latency:
        case Uniform() if factor is not None:
            return Uniform(latency.low * factor, latency.high * factor)
        case Exponential() if factor is not None:
            return Exponential(mean=mean, base=latency.base * factor)
        case Normal() if factor is not None:
            return Normal(mean, latency.stddev * factor)
        case LogNormal() if factor is not None:
            return LogNormal(median=latency.median * factor, sigma=latency.sigma)
        case _:
            return Constant(mean)


def measure_redraws(explorer: Explorer, times: int = 20) -> float:
    """The median time of ``times`` full redraws (topology included), in milliseconds."""
    samples = [explorer.redraw(everything=True) for _ in range(times)]
    return statistics.median(samples) * 1000


def _cut_links(groups: tuple[tuple[str, ...], ...], everyone: list[str]) -> set[tuple[str, str]]:
    """The directed links a `sim.partition(*groups)` cuts (unnamed nodes form one more group)."""
    named = {n for g in groups for n in g}
    rest = tuple(n for n in everyone if n not in named)
    full = [*groups, rest] if rest else list(groups)
    return {(a, b) for g in full for h in full if g is not h for a in g for b in h}


def _short(value: Any, limit: int = 30) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
