"""The Raft explorer: every server's term, role, log and commit index, the messages in flight,
and buttons to break the cluster -- with a time slider that goes back to any earlier moment.

Give it ``factory(seed) -> Simulation`` (a cluster of servers that have ``log``, ``term``,
``role`` and ``commit_index``, as `distlab.viz.raftlog` reads them) and
``request(sim, number)``, a function that sends the ``number``-th client request. The buttons
act on the server chosen in the menu: crash or restart it, time it out (its election timer
goes off now), isolate it from the other servers; "heal" joins the network again and "client
request" sends a request. "Run" advances the simulated time.

Going back in time replays: the explorer remembers every action with the simulated time it
was taken at, and rebuilds the run from the same seed, taking the same actions at the same
times, up to the moment chosen on the slider. The simulator is deterministic, so the replay
is the same run. An action taken after going back starts a new future (the old one is
forgotten).

In a notebook::

    RaftExplorer(factory, request=send_request, servers=["n1", "n2", "n3"]).show(run_until=600)

shows the live controls and, below them, a static picture, which is what a reader of the
static book (no kernel) sees.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import Any

import ipywidgets as w
from IPython.display import Markdown, display
from matplotlib.figure import Figure

from distlab.sim import Envelope, Simulation
from distlab.viz.palette import VERMILLION
from distlab.viz.raftlog import draw_logs, read_logs
from distlab.viz.style import compact_png, figure_png, static_image
from distlab.widgets.controls import Controls, button, menu, row, slider
from distlab.widgets.tables import scrolling_table

#: The drawing shows at least this many log indices (so that boxes keep their size).
MIN_INDICES = 12
#: The in-flight table lists at most this many messages (the earliest to arrive).
MAX_IN_FLIGHT = 12

#: What the explorer remembers of one action: (simulated time, what, and the server it acts
#: on -- or, for a client request, its number).
Action = tuple[float, str, str | int | None]


class RaftExplorer(Controls):
    """Live controls over a Raft cluster; every action is also a method (``crash``,
    ``restart``, ``time_out``, ``isolate``, ``heal``, ``client_request``, ``run``,
    ``go_to``), which is what its button calls."""

    def __init__(self, factory: Callable[[int], Simulation], *,
                 request: Callable[[Simulation, int], None], servers: Iterable[str],
                 seed: int = 1, run_ms: int = 100, title: str = "Raft") -> None:
        if not callable(factory) or not callable(request):
            raise TypeError(f"RaftExplorer needs factory(seed) -> Simulation and "
                            f"request(sim, number); got {factory!r} and {request!r}")
        self.factory = factory
        self.request = request
        self.servers = list(servers)
        self.seed = seed
        self.title = title
        self.actions: list[Action] = []
        self.end = 0.0           # the latest time this run has reached
        self.error: str | None = None
        self.sim = self._build()
        self.figure = Figure(figsize=(8.0, 0.7 + 0.42 * len(self.servers)), dpi=80)
        self.figure.subplots_adjust(left=0.02, right=0.98, top=0.85, bottom=0.02)
        self.ax = self.figure.add_subplot()
        self._syncing = False
        self._make_widgets(run_ms)
        self.redraw()

    def _build(self) -> Simulation:
        sim = self.factory(self.seed)
        if not isinstance(sim, Simulation):
            raise TypeError(f"the factory must return a Simulation; it returned "
                            f"{type(sim).__name__}")
        missing = [s for s in self.servers if s not in sim.nodes]
        if missing:
            raise ValueError(f"servers {missing} are not in the factory's simulation "
                             f"(its nodes: {', '.join(sim.nodes)})")
        return sim

    # -- widgets ------------------------------------------------------------------------------
    def _make_widgets(self, run_ms: int) -> None:
        self.run_button = button("Run", button_style="primary")
        self.run_ms = slider(w.IntSlider, "run (ms)", value=run_ms, min=10, max=1000, step=10,
                             continuous_update=False)
        self.server = menu(self.servers, "server", value=self.servers[0])
        self.crash_button = button("crash")
        self.timeout_button = button("time out", tooltip="its election timer goes off now")
        self.isolate_button = button("isolate")
        self.heal_button = button("heal")
        self.request_button = button("client request")
        # a long track: each pixel of it is a moment of the run to go back to
        self.time = slider(w.FloatSlider, "time (ms)", track=350, value=0.0, min=0.0, max=1.0,
                           step=1.0, continuous_update=False)
        self.image = w.Image(format="png")
        self.flight = w.HTML()
        self.status = w.HTML()

        self.run_button.on_click(lambda _: self._act(lambda: self.run(self.run_ms.value)))
        self.crash_button.on_click(lambda _: self._act(self._toggle_crash))
        self.timeout_button.on_click(lambda _: self._act(lambda: self.time_out(
            self.server.value)))
        self.isolate_button.on_click(lambda _: self._act(lambda: self.isolate(
            self.server.value)))
        self.heal_button.on_click(lambda _: self._act(self.heal))
        self.request_button.on_click(lambda _: self._act(self.client_request))
        self.server.observe(lambda _: self._sync(), "value")
        self.time.observe(self._on_time, "value")
        self.widget = w.VBox([
            w.HTML(f"<b>{html.escape(self.title)}</b>"),
            row(self.run_button, self.run_ms, self.request_button, self.heal_button),
            row(self.server, self.crash_button, self.timeout_button, self.isolate_button),
            self.time,
            self.image,
            self.status,
            self.flight,
        ])


    def _on_time(self, change: dict) -> None:
        if not self._syncing:
            self._act(lambda: self.go_to(change["new"]))

    def _toggle_crash(self) -> None:
        node = self.server.value
        if self.sim.is_up(node):
            self.crash(node)
        else:
            self.restart(node)

    # -- actions ------------------------------------------------------------------------------
    def run(self, ms: float) -> None:
        """Advance the simulated time by ``ms``."""
        if self.sim.now < self.end:
            self._forget_future()
        self.sim.run(until=self.sim.now + ms)
        self.end = self.sim.now

    def crash(self, node: str) -> None:
        self._take("crash", node)

    def restart(self, node: str) -> None:
        self._take("restart", node)

    def time_out(self, node: str) -> None:
        """``node``'s election timer goes off now: it starts an election."""
        self._take("time out", node)

    def isolate(self, node: str) -> None:
        """Cut the links between ``node`` and every other server (clients still reach it:
        an isolated leader takes requests it cannot commit)."""
        self._take("isolate", node)

    def heal(self) -> None:
        self._take("heal", None)

    def client_request(self) -> None:
        """Send a client request (the ``k``-th of the run: ``request(sim, k)``)."""
        if self.sim.now < self.end:
            self._forget_future()
        self._take("request", 1 + sum(1 for a in self.actions if a[1] == "request"))

    def go_to(self, time: float) -> None:
        """Show the run as it was at ``time`` (between 0 and the latest time reached), by
        replaying it from the seed."""
        if not 0 <= time <= self.end:
            raise ValueError(f"time must be between 0 and {self.end:g} ms (the latest the "
                             f"run has reached); got {time:g}")
        self.sim = self._build()
        for when, what, arg in self.actions:
            if when > time:
                break
            self.sim.run(until=when)
            self._apply(what, arg)
        self.sim.run(until=time)

    def _take(self, what: str, arg: str | int | None) -> None:
        """Check, apply and remember an action taken now."""
        if isinstance(arg, str) and arg not in self.servers:
            raise ValueError(f"no server {arg!r}; the servers are {', '.join(self.servers)}")
        if self.sim.now < self.end:
            self._forget_future()
        self._apply(what, arg)
        self.actions.append((self.sim.now, what, arg))

    def _forget_future(self) -> None:
        """An action taken after going back in time starts a new future."""
        self.actions = [a for a in self.actions if a[0] <= self.sim.now]
        self.end = self.sim.now

    def _apply(self, what: str, arg: str | int | None) -> None:
        sim, node = self.sim, arg
        match what:
            case "crash":
                sim.crash(node)
            case "restart":
                sim.restart(node)
            case "time out":
                if not sim.is_up(node):
                    raise ValueError(f"{node} is down: restart it first")
                if sim.nodes[node].role == "leader":
                    raise ValueError(f"{node} is the leader: it has no election timer "
                                     f"running")
                sim.nodes[node].on_timer("election")
            case "isolate":
                for other in self.servers:
                    if other != node:
                        sim.cut(node, other)
            case "heal":
                sim.heal()
            case "request":
                self.request(sim, arg)

    # -- what is shown ------------------------------------------------------------------------
    def in_flight(self) -> list[tuple[float, Envelope]]:
        """The messages sent and not yet delivered (or dropped): (arrival time, envelope)."""
        sim = self.sim
        return [(entry[0], Envelope._make(entry[3])) for entry in sim.scheduler.pending()
                if sim.entry_kind(entry) == "deliver"]

    def redraw(self) -> None:
        self.ax.clear()
        rows = read_logs({s: _Shown(self.sim, s) for s in self.servers})
        last = max((r.last_index for r in rows), default=1)
        draw_logs(self.ax, rows, title=f"{self.title} at t = {self.sim.now:,.0f} ms",
                  last_index=max(last, MIN_INDICES))
        self.image.value = figure_png(self.figure)
        self.flight.value = self._flight_table()
        self.status.value = self._status()
        self._sync()

    def _sync(self) -> None:
        self._syncing = True
        try:
            self.time.max = max(self.end, 1.0)
            self.time.value = self.sim.now
            up = self.sim.is_up(self.server.value)
            self.crash_button.description = "crash" if up else "restart"
            self.crash_button.button_style = "" if up else "warning"
        finally:
            self._syncing = False

    def _flight_table(self) -> str:
        """The messages in flight, the earliest to arrive first (at most `MAX_IN_FLIGHT`), in
        a box that scrolls sideways where the table is too wide (`scrolling_table`); those
        that will be dropped (a cut link, a crashed receiver) in red."""
        flights = self.in_flight()
        rows = []
        for arrival, env in flights[:MAX_IN_FLIGHT]:
            lost = self.sim.is_cut(env.src, env.dst) or not self.sim.is_up(env.dst)
            link = f"{html.escape(env.src)} &rarr; {html.escape(env.dst)}"
            rows.append((f"{arrival:,.1f}", [link, html.escape(_short(env.msg))],
                         VERMILLION if lost else None))
        more = len(flights) - MAX_IN_FLIGHT
        tail = f"<div style='font-size:12px'>... and {more} more</div>" if more > 0 else ""
        return (f"<b style='font-size:12px'>{len(flights)} messages in flight</b> "
                f"<span style='font-size:12px'>(red: will be dropped)</span>"
                f"{scrolling_table(['arrives (ms)', 'link', 'message'], rows, font_px=11)}"
                f"{tail}")

    def summary(self) -> str:
        sim = self.sim
        leaders = [f"{s} (term {sim.nodes[s].term})" for s in self.servers
                   if sim.is_up(s) and sim.nodes[s].role == "leader"]
        down = [s for s in self.servers if not sim.is_up(s)]
        alone = [s for s in self.servers
                 if all(sim.is_cut(s, other) for other in self.servers if other != s)]
        return (f"seed {sim.seed}, t = {sim.now:,.0f} ms: leader "
                f"{', '.join(leaders) or 'none'}; down: {', '.join(down) or 'none'}; "
                f"isolated: {', '.join(alone) or 'none'}; {len(self.actions)} actions taken.")

    def _status(self) -> str:
        text = html.escape(self.summary())
        text += self.error_html()
        return f"<span style='font-size:12px'>{text}</span>"

    # -- showing it in a notebook ---------------------------------------------------------------
    def show(self, run_until: float | None = None) -> None:
        """Display the live explorer and, under it, a static picture of the cluster now (after
        running to ``run_until`` ms, if given) and its caption."""
        if run_until is not None and run_until > self.sim.now:
            self._act(lambda: self.run(run_until - self.sim.now))
        self.image.value = compact_png(self.figure)
        bundle = self.widget._repr_mimebundle_()
        bundle["text/plain"] = f"RaftExplorer: {self.title} (live controls need a running kernel)"
        display(bundle, raw=True)
        display(static_image(self.figure, alt=(
            f"The logs of {self.title}'s servers at t = {self.sim.now:,.0f} ms: one row per "
            f"server, one box per entry, its term written in it, committed entries solid")))
        display(Markdown(f"*{self.summary()} {len(self.in_flight())} messages in flight.* "
                         f"With a running kernel, the controls above crash, restart, time "
                         f"out and isolate servers, send client requests, and go back in "
                         f"time."))

    def _ipython_display_(self) -> None:
        self.show()


class _Shown:
    """A server as the drawing reads it: its live state, or greyed if it is down."""

    def __init__(self, sim: Simulation, node_id: str):
        node: Any = sim.nodes[node_id]
        self.up = sim.is_up(node_id)
        self.log = node.log
        self.term = node.term
        self.role = node.role if self.up else "crashed"
        self.commit_index = node.commit_index
        self.log_start = getattr(node, "log_start", 1)


def _short(value: Any, limit: int = 70) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
