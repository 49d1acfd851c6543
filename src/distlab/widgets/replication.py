"""The replication explorer: write and read one key of a replicated store, crash a replica,
cut one off, change R and W, and see what each replica holds and what each request returned.

The store comes from outside (widgets import no protocol): ``make(r, w)`` builds a
`Simulation` whose nodes ``replicas`` replicate a key, ``ask(sim, coordinator, f, key,
value)`` adds a client that sends one ``get`` or ``put`` to ``coordinator`` and returns its
id, ``set_quorums(sim, r, w)`` changes R and W, and ``held(node, key)`` says what a replica
holds. `distlab.kv.playground` has all four for a Dynamo-style leaderless store. Each action
runs the simulation ``settle`` ms further, long enough for the request to be answered or to
time out.

In a notebook::

    ReplicationExplorer(store, ask, set_quorums, held, replicas=REPLICAS).show()

shows the live controls and, below them, a static picture of the replicas, which is what a
reader of the static book (no kernel) sees.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w
from IPython.display import Markdown, display
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from distlab.sim import Node, Simulation
from distlab.viz.palette import INK, INK_SOFT, SKY_BLUE, VERMILLION, YELLOW, tint
from distlab.viz.style import figure_png, static_image
from distlab.widgets.controls import Controls, button, menu, row, slider

#: the colour of a replica's box: up and reachable, crashed, cut off from the other replicas
#: (the box also names its state, so the colour is never the only cue)
STATE_COLORS = {"up": tint(SKY_BLUE, 0.7), "crashed": tint(VERMILLION, 0.7),
                "cut off": tint(YELLOW, 0.5)}


class ReplicationExplorer(Controls):
    """Live controls over a replicated key ``key``: `write`, `read`, `crash`, `restart`,
    `cut_off`, `heal`, `set_quorums`. ``log`` lists what each request returned, newest last.
    """

    def __init__(self, make: Callable[[int, int], Simulation],
                 ask: Callable[[Simulation, str, str, str, str | None], str],
                 set_quorums: Callable[[Simulation, int, int], None],
                 held: Callable[[Node, str], str], *, replicas: Sequence[str], key: str = "x",
                 r: int = 2, w: int = 2, settle: float = 400.0,
                 title: str = "Quorum replication") -> None:
        if not replicas:
            raise ValueError("ReplicationExplorer needs the ids of the replicas, e.g. "
                             "replicas=['a', 'b', 'c']")
        self.make, self.ask, self.tune, self.held = make, ask, set_quorums, held
        self.replicas, self.key, self.settle, self.title = list(replicas), key, settle, title
        self.start = (r, w)
        self.error: str | None = None
        self.figure = Figure(figsize=(7.0, 3.2), dpi=80)
        self.ax = self.figure.add_subplot()
        self._make_widgets(r, w)
        self.reset()
        self.redraw()

    # -- widgets ------------------------------------------------------------------------------
    def _make_widgets(self, r: int, w_: int) -> None:
        n = len(self.replicas)
        self.target = menu(self.replicas, "replica")
        buttons = {"write": lambda: self.write(self.target.value),
                   "read": lambda: self.read(self.target.value),
                   "crash": lambda: self.crash(self.target.value),
                   "restart": lambda: self.restart(self.target.value),
                   "cut off": lambda: self.cut_off(self.target.value),
                   "heal": self.heal, "reset": self.reset}
        self.buttons: dict[str, w.Button] = {}
        for label, action in buttons.items():
            self.buttons[label] = button(label)
            self.buttons[label].on_click(lambda _, action=action: self._act(action))
        self.r_slider = slider(w.IntSlider, "R", value=r, min=1, max=n, continuous_update=False)
        self.w_slider = slider(w.IntSlider, "W", value=w_, min=1, max=n,
                               continuous_update=False)
        for quorum in (self.r_slider, self.w_slider):
            quorum.observe(lambda _: self._act(lambda: self.set_quorums(
                self.r_slider.value, self.w_slider.value)), "value")
        self.image = w.Image(format="png")
        self.status = w.HTML()
        self.widget = w.VBox([w.HTML(f"<b>{html.escape(self.title)}</b>"),
                              row(self.target, *self.buttons.values()),
                              row(self.r_slider, self.w_slider),
                              self.image, self.status])

    # -- actions ------------------------------------------------------------------------------
    def reset(self) -> None:
        """Start again: every replica up and empty, R and W as at the start."""
        self.r, self.w = self.start
        self.sim = self.make(self.r, self.w)
        self.cut: set[str] = set()
        self.log: list[str] = []
        self.writes = 0

    def write(self, coordinator: str) -> str:
        """Put the next value (``v1``, ``v2``...) through ``coordinator``; what it returned."""
        self.writes += 1
        return self._request(coordinator, "put", f"v{self.writes}")

    def read(self, coordinator: str) -> str:
        """Get the key through ``coordinator``; what it returned."""
        return self._request(coordinator, "get", None)

    def _request(self, coordinator: str, f: str, value: str | None) -> str:
        self._check(coordinator)
        if not self.sim.is_up(coordinator):
            raise ValueError(f"{coordinator} is crashed: restart it, or send the request to "
                             f"another replica")
        client = self.ask(self.sim, coordinator, f, self.key, value)
        self.sim.run(until=self.sim.now + self.settle)
        op = next(op for op in self.sim.history if op.process == client)
        asked = f"put {value}" if f == "put" else "get"
        if op.status == "ok":
            outcome = "ok" if f == "put" else f"returned {op.output!r}"
        else:
            outcome = {"fail": "failed", "info": "timed out (its fate is unknown)",
                       "pending": "got no answer"}.get(op.status, op.status)
        line = f"{asked} via {coordinator} (R={self.r}, W={self.w}): {outcome}"
        self.log.append(line)
        return line

    def crash(self, replica: str) -> None:
        self._check(replica)
        self.sim.crash(replica)
        self.log.append(f"{replica} crashed")

    def restart(self, replica: str) -> None:
        self._check(replica)
        self.sim.restart(replica)
        self.log.append(f"{replica} restarted (from what it had stored)")

    def cut_off(self, replica: str) -> None:
        """Cut ``replica`` off from the other replicas (clients still reach it)."""
        self._check(replica)
        for other in self.replicas:
            if other != replica:
                self.sim.cut(replica, other)
        self.cut.add(replica)
        self.log.append(f"{replica} cut off from the other replicas")

    def heal(self) -> None:
        self.sim.heal()
        self.cut.clear()
        self.log.append("the network is whole again")

    def set_quorums(self, r: int, w_: int) -> None:
        self.tune(self.sim, r, w_)
        self.r, self.w = r, w_
        self.log.append(f"R = {r}, W = {w_}")

    def _check(self, replica: str) -> None:
        if replica not in self.replicas:
            raise ValueError(f"no replica {replica!r}; the replicas are "
                             f"{', '.join(self.replicas)}")

    # -- what it shows ------------------------------------------------------------------------
    def state(self, replica: str) -> str:
        """"up", "crashed" or "cut off"."""
        if not self.sim.is_up(replica):
            return "crashed"
        return "cut off" if replica in self.cut else "up"

    def holdings(self) -> dict[str, str]:
        """What each replica holds for the key (a crashed one: what it had stored)."""
        return {replica: self.held(self.sim.nodes[replica], self.key)
                for replica in self.replicas}

    def summary(self) -> str:
        n = len(self.replicas)
        overlap = ("every read quorum meets every write quorum" if self.r + self.w > n
                   else "a read quorum can miss the last write quorum")
        relation = ">" if self.r + self.w > n else "<="
        return f"N = {n}, R = {self.r}, W = {self.w}: R + W {relation} N, {overlap}."

    def redraw(self) -> None:
        self._draw(self.ax)
        self.image.value = figure_png(self.figure)
        lines = "".join(f"<li>{html.escape(line)}</li>" for line in self.log[-6:])
        self.status.value = (f"<span style='font-size:13px'>{html.escape(self.summary())}"
                             f"<ol start='{max(1, len(self.log) - 5)}'>{lines}</ol>"
                             f"{self.error_html()}</span>")

    def _draw(self, ax: Any) -> None:
        ax.clear()
        ax.set_xlim(0, len(self.replicas))
        ax.set_ylim(0, 1.25)
        ax.axis("off")
        for i, (replica, text) in enumerate(self.holdings().items()):
            state = self.state(replica)
            ax.add_patch(FancyBboxPatch((i + 0.08, 0.3), 0.84, 0.65, boxstyle="round,pad=0.02",
                                        facecolor=STATE_COLORS[state], edgecolor=INK))
            ax.text(i + 0.5, 0.82, f"{replica} ({state})", ha="center", fontsize=11,
                    weight="bold")
            value, _, version = text.partition(" @ ")
            ax.text(i + 0.5, 0.6, f"{self.key} = {value}", ha="center", fontsize=11)
            ax.text(i + 0.5, 0.42, f"version: {version}" if version else "", ha="center",
                    fontsize=8, color=INK_SOFT)
        last = self.log[-1] if self.log else "no request yet"
        ax.text(len(self.replicas) / 2, 0.1, f"last: {last}", ha="center", fontsize=9)
        ax.set_title(f"{self.title}: N = {len(self.replicas)}, R = {self.r}, W = {self.w}",
                     fontsize=11)

    # -- showing it in a notebook ---------------------------------------------------------------
    def show(self) -> None:
        """Display the live explorer and, under it, a static picture of the replicas now and
        the log of the actions taken so far."""
        self.redraw()
        bundle = self.widget._repr_mimebundle_()
        bundle["text/plain"] = (f"ReplicationExplorer: {self.title} (live controls need a "
                                f"running kernel)")
        display(bundle, raw=True)
        display(static_image(self.figure))
        steps = "; ".join(self.log) or "no action yet"
        display(Markdown(f"*{self.summary()} What happened: {steps}.* With a running kernel, "
                         f"the controls above write, read, crash, cut off and change R and W."))

    def _ipython_display_(self) -> None:
        self.show()
