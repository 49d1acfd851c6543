"""Space-time diagrams: what happened in a run, one lane per node, time flowing right.

Lamport drew executions this way in "Time, Clocks, and the Ordering of Events in a
Distributed System" (1978): each process is a line, each message an arrow from the point of
its send to the point of its receipt. An event *happens before* another exactly when a path
of lane segments and arrows leads from the first to the second, so the picture shows
causality at a glance.

Each arrow starts with a mark whose shape, like its colour, says the message's kind (the
legend names them), so kinds can be told apart without telling colours apart. Besides the
arrows, a dropped message ends in a red ✕ (a short stub when the network
lost it at the send, the whole way when a partition or a crashed receiver dropped it on
arrival), a crashed node's lane is hatched grey until it restarts, a partition is a shaded
band naming its groups, and timers and log lines can be shown as small marks.

Speed matters because the explorer redraws after every click: all arrows are one `quiver`,
all drop lines one `LineCollection`, all marks one `scatter` each; labels are written only
where they fit. `SpaceTimeDrawer` keeps one figure and redraws into it.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.textpath import text_to_path
from matplotlib.transforms import offset_copy

from distlab.sim.helpers import trace_of
from distlab.sim.trace import Trace, TraceEvent
from distlab.viz.palette import (CRASH_COLOR, CRASH_FACE, DROP_COLOR, INK, INK_SOFT, LIGHT_GREY,
                                 PARTITION_COLOR, WHITE, readable)
from distlab.viz.style import KindColors, NotebookFigure, figure_png
from distlab.viz.timeline import Span, Timeline, describe_groups, kind_colors, read_timeline

#: At most this many message labels are written (beyond it the legend's colours tell).
MAX_LABELS = 80
LABEL_SIZE = 6.5
#: the area (points²) of the mark at each send: big enough to tell a circle from a square
SEND_MARK = 30
#: Arrows are labelled only where, in each stretch of LABEL_BIN pixels of width, there is
#: at most one arrow per ARROW_SPACING pixels: labels in a thicket of arrows cannot be read.
ARROW_SPACING = 12
LABEL_BIN = 60


def spacetime(trace: Trace | Any, *, nodes: Iterable[str] | None = None,
              start: float | None = None, end: float | None = None,
              show_timers: bool = False, show_notes: bool = False, label: bool = True,
              annotate: Callable[[TraceEvent], str | None] | None = None,
              ax: Axes | None = None, title: str | None = None) -> Figure:
    """Draw the space-time diagram of ``trace`` (a `Trace`, or a Simulation) and return the figure.

    ``nodes`` chooses and orders the lanes (default: every node, in the order added);
    ``start``/``end`` limit the time window (ms; by default from 0 to the last event, or to
    ``sim.now`` when given a Simulation); ``show_timers`` and ``show_notes`` add a
    mark for each timer that fired and each note (with its text where it fits). Arrows
    are coloured by message kind and start with the kind's marker (see the legend) and,
    with ``label=True``, are also labelled
    with it where the label fits, when the window is sparse enough to read (zoom in with
    ``start``/``end`` to see labels in a busy run); ``label=False`` writes no text on the
    arrows, timers or log marks. ``annotate`` is called on each send, deliver, timer and
    log event (every point where a node does something) and may return a short text to
    write at that point, such as a Lamport timestamp, or None to write nothing.

    The figure is not registered with pyplot: in a notebook, make the call the *last line of
    the cell, with no* ``;`` and Jupyter shows it exactly once, as a PNG (see `distlab.viz`).
    With ``ax=`` it draws into your axes instead and returns their figure.
    """
    if end is None and isinstance(getattr(trace, "now", None), (int, float)):
        end = trace.now          # a Simulation: up to its clock, even past the last event
    timeline = _read(trace, nodes, start, end)
    if ax is None:
        height = max(2.4, 0.45 * len(timeline.nodes) + 1.5)
        ax = NotebookFigure(figsize=(10, height), layout="constrained").add_subplot()
    draw_spacetime(ax, timeline, start=start, end=end, show_timers=show_timers,
                   show_notes=show_notes, label=label, annotate=annotate, title=title,
                   colors=kind_colors(trace_of(trace)))
    return ax.figure


class SpaceTimeDrawer:
    """One reusable figure for drawing space-time diagrams again and again (the explorer).

    It is not registered with pyplot, so it never shows up on its own in a notebook;
    `png()` renders it (fast PNG compression) for an ``ipywidgets.Image``. With
    ``legend=False`` the axes take the whole width and `draw` only returns the legend's
    entries, for the caller to show (text is the slowest thing matplotlib draws).
    """

    def __init__(self, figsize: tuple[float, float] = (8.5, 3.4), dpi: int = 80,
                 legend: bool = True) -> None:
        self.figure = Figure(figsize=figsize, dpi=dpi)
        self.figure.subplots_adjust(left=0.07, right=0.82 if legend else 0.98, top=0.9,
                                    bottom=0.15)
        self.ax = self.figure.add_subplot()
        self.colors = KindColors()
        self.legend = legend
        self._lane_names: tuple[str, ...] = ()

    def draw(self, trace: Trace | Any, **options: Any) -> list[Artist]:
        """Redraw with the options of `spacetime` (except ``ax``); return the legend's entries."""
        timeline = _read(trace, options.pop("nodes", None), options.get("start"),
                         options.get("end"))
        # Removing our artists is much cheaper than ax.cla(), which rebuilds the axis ticks.
        for artist in [*self.ax.collections, *self.ax.texts, *self.ax.patches]:
            artist.remove()
        if self.ax.legend_ is not None:
            self.ax.legend_.remove()
        entries = draw_spacetime(self.ax, timeline, colors=self.colors, legend=self.legend,
                                 **options)
        self._fit_lane_names()
        return entries

    def _fit_lane_names(self) -> None:
        """Make the left margin as wide as the longest lane name and the axis label need (a
        fixed margin cut "store-asia" to "re-asia"); measured once per set of lanes."""
        labels = self.ax.get_yticklabels()
        names = tuple(label.get_text() for label in labels)
        if names == self._lane_names:
            return
        self._lane_names = names
        widest = max((text_to_path.get_text_width_height_descent(
            label.get_text(), label.get_fontproperties(), ismath=False)[0] for label in labels),
            default=0.0)
        axis_label = self.ax.yaxis.label.get_fontproperties().get_size_in_points()
        room = (widest + 1.5 * axis_label + 12) / 72 / self.figure.get_figwidth()  # in points
        self.figure.subplots_adjust(left=min(0.35, max(0.07, room)))

    def png(self) -> bytes:
        return figure_png(self.figure)


def _read(trace: Trace | Any, nodes: Iterable[str] | None, start: float | None,
          end: float | None) -> Timeline:
    """Read the part of the trace a window needs: from one window's length before it (to
    find the sends of the messages that arrive in it) to its end."""
    since = start - (end - start) if start is not None and end is not None else None
    return read_timeline(trace_of(trace), nodes, until=end, since=since)


def draw_spacetime(ax: Axes, timeline: Timeline, *, start: float | None = None,
                   end: float | None = None, show_timers: bool = False,
                   show_notes: bool = False, label: bool = True,
                   annotate: Callable[[TraceEvent], str | None] | None = None,
                   title: str | None = None, colors: KindColors | None = None,
                   legend: bool = True) -> list[Artist]:
    """Draw a timeline (see `read_timeline`) into ``ax``: the work behind `spacetime`.

    Returns the legend's entries (drawn beside the axes unless ``legend=False``, for a
    caller that shows its own legend, as the explorer does in HTML).
    """
    colors = colors or KindColors()
    for f in timeline.flights:   # kinds the colours have not met yet, in order of appearance
        colors(f.kind)
    lanes = {node: i for i, node in enumerate(timeline.nodes)}
    n = len(lanes)
    if n == 0:
        raise ValueError("nothing to draw: the trace names no nodes (pass nodes=[...])")
    t0 = min(0.0, timeline.first_time) if start is None else start   # runs start at 0
    t1 = timeline.last_time if end is None else end
    if t1 <= t0:
        t1 = t0 + 1.0
    pad = (t1 - t0) * 0.01
    ax.set_xlim(t0 - pad, t1 + pad)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_yticks(range(n), labels=list(lanes))
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("node")
    ax.tick_params(axis="y", length=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.add_collection(LineCollection([((t0 - pad, i), (t1 + pad, i)) for i in range(n)],
                                     colors=LIGHT_GREY, linewidths=0.8, zorder=0, gid="lanes"))

    entries: list[Artist] = []
    _draw_partitions(ax, timeline, lanes, t0, t1, entries)
    _draw_crashes(ax, timeline, lanes, t0, t1, entries)
    flights = [f for f in timeline.flights
               if f.src in lanes and f.dst in lanes and f.end >= t0 and f.sent <= t1]
    delivered = [f for f in flights if not f.dropped]
    dropped = [f for f in flights if f.dropped]
    _draw_arrows(ax, delivered, lanes, colors)
    _draw_sends(ax, [f for f in flights if f.copy == 0 and f.sent >= t0], lanes, colors)
    _draw_drops(ax, dropped, delivered, lanes, colors, t1 - t0)
    placer = _LabelPlacer(ax)
    notes = [e for e in timeline.notes if t0 <= e.time <= t1 and e.node in lanes]
    timers = [e for e in timeline.timers if t0 <= e.time <= t1 and e.node in lanes]
    if show_notes:
        _draw_marks(ax, notes, lanes, placer if label else None, marker="o", offset=0.16,
                    color=INK, text=lambda e: _clip(str(e.data), 32))
    if show_timers:   # timer names are written only when there are few of them
        _draw_marks(ax, timers, lanes, placer if label and len(timers) <= 20 else None,
                    marker="|", offset=-0.16, color=INK_SOFT, text=lambda e: str(e.data))
    if label:   # only where arrows are sparse (see ARROW_SPACING)
        bins = [placer.bin((f.sent + f.end) / 2) for f in delivered]
        crowd = Counter(bins)
        for f, b in zip(delivered, bins):
            if f.copy == 0 and crowd[b] * ARROW_SPACING <= LABEL_BIN and not placer.full:
                placer.between(f.sent, lanes[f.src], f.end, lanes[f.dst], f.kind,
                               readable(colors(f.kind)))
    if annotate is not None:
        _draw_annotations(ax, timeline, lanes, t0, t1, annotate)

    kinds_shown = {f.kind for f in flights}
    entries[:0] = [Line2D([], [], color=colors(k), lw=1.5, marker=colors.marker(k),
                          markersize=6, label=k)
                   for k in colors.kinds() if k in kinds_shown]
    if dropped:
        entries.append(Line2D([], [], color=DROP_COLOR, marker="x", lw=0, label="dropped"))
    if any(f.copy > 0 for f in delivered):
        entries.append(Line2D([], [], color=INK_SOFT, marker="o", markerfacecolor="none",
                              lw=0, label="duplicate"))
    if show_timers and timers:
        entries.append(Line2D([], [], color=INK_SOFT, marker="|", lw=0, label="timer"))
    if show_notes and notes:
        entries.append(Line2D([], [], color=INK, marker="o", markersize=3, lw=0,
                              label="note"))
    if legend and entries:
        ax.legend(handles=entries, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7,
                  frameon=False, borderaxespad=0.0)
    if title is None:
        title = (f"Space-time diagram: {len(delivered)} deliveries, {len(dropped)} dropped, "
                 f"{len(lanes)} nodes")
    ax.set_title(title, fontsize=10)
    return entries


def _draw_partitions(ax: Axes, timeline: Timeline, lanes: dict[str, int], t0: float,
                     t1: float, entries: list[Artist]) -> None:
    # (a cut replaced at the very instant it was made never held: nothing to draw)
    spans = [s for s in timeline.partitions
             if s.end >= t0 and s.start <= t1 and (s.end > s.start or s.ongoing)]
    if not spans:
        return
    n = len(lanes)
    boxes = [_rect(s.start, s.end, -0.5, n - 0.5) for s in spans]
    ax.add_collection(PolyCollection(boxes, facecolors=PARTITION_COLOR, alpha=0.22,
                                     edgecolors="none", zorder=0, gid="partitions"))
    for i, s in enumerate(spans):
        # a label per band; bands that overlap (several cut links) stack their labels
        row = sum(1 for other in spans[:i] if other.start <= s.start < other.end)
        ax.text(max(s.start, t0), -0.47 + 0.2 * row, " " + _describe_partition(s),
                fontsize=6.5, va="top", ha="left", color=INK, clip_on=True, zorder=4)
    entries.append(Patch(facecolor=PARTITION_COLOR, alpha=0.4, label="partition"))


def _draw_crashes(ax: Axes, timeline: Timeline, lanes: dict[str, int], t0: float, t1: float,
                  entries: list[Artist]) -> None:
    spans = [s for s in timeline.crashes if s.node in lanes and s.end >= t0 and s.start <= t1]
    if not spans:
        return
    boxes = [_rect(s.start, max(s.end, s.start + (t1 - t0) * 0.002),
                   lanes[s.node] - 0.3, lanes[s.node] + 0.3) for s in spans]
    ax.add_collection(PolyCollection(boxes, facecolors=CRASH_FACE, edgecolors=CRASH_COLOR,
                                     hatch="////", linewidths=0.6, zorder=1, gid="crashes"))
    entries.append(Patch(facecolor=CRASH_FACE, edgecolor=CRASH_COLOR, hatch="////",
                         label="crashed"))


def _draw_arrows(ax: Axes, delivered: Sequence, lanes: dict[str, int],
                 colors: KindColors) -> None:
    if not delivered:
        return
    x = np.array([f.sent for f in delivered])
    y = np.array([lanes[f.src] for f in delivered], dtype=float)
    u = np.array([f.end for f in delivered]) - x
    v = np.array([lanes[f.dst] for f in delivered], dtype=float) - y
    ax.quiver(x, y, u, v, color=[colors(f.kind) for f in delivered], angles="xy",
              scale_units="xy", scale=1, width=0.0018, headwidth=4.5, headlength=6,
              headaxislength=5.5, minlength=0.1, zorder=2, gid="messages")
    extra = [f for f in delivered if f.copy > 0]
    if extra:
        ax.scatter([f.end for f in extra], [lanes[f.dst] for f in extra], s=36,
                   facecolors="none", edgecolors=[colors(f.kind) for f in extra],
                   linewidths=1.0, zorder=3, gid="duplicates")


def _draw_sends(ax: Axes, flights: Sequence, lanes: dict[str, int],
                colors: KindColors) -> None:
    """The send of each message: a mark in its kind's colour and shape (one scatter a kind)."""
    by_kind: dict[str, list[tuple[float, int]]] = {}
    for f in flights:
        by_kind.setdefault(f.kind, []).append((f.sent, lanes[f.src]))
    for kind, points in by_kind.items():
        ax.scatter(*zip(*points), marker=colors.marker(kind), s=SEND_MARK, color=colors(kind),
                   linewidths=0, zorder=3, gid=f"sends {kind}")


def _draw_drops(ax: Axes, dropped: Sequence, delivered: Sequence, lanes: dict[str, int],
                colors: KindColors, width: float) -> None:
    if not dropped:
        return
    # A message lost at its send never travels: draw a stub a third of a typical flight long.
    typical = statistics.median(f.end - f.sent for f in delivered) if delivered else width / 40
    segments, ends = [], []
    for f in dropped:
        y0, y1 = lanes[f.src], lanes[f.dst]
        if f.fate == "loss":
            end = (f.sent + 0.35 * typical, y0 + 0.35 * (y1 - y0))
        else:
            end = (f.end, y1)
        segments.append(((f.sent, y0), end))
        ends.append(end)
    ax.add_collection(LineCollection(segments, colors=[colors(f.kind) for f in dropped],
                                     linewidths=0.9, linestyles=(0, (3, 2)), zorder=2,
                                     gid="dropped"))
    ax.scatter(*zip(*ends), marker="x", s=28, color=DROP_COLOR, linewidths=1.4, zorder=4,
               gid="drops")


def _draw_marks(ax: Axes, events: list, lanes: dict[str, int], placer: _LabelPlacer | None,
                *, marker: str, offset: float, color: str,
                text: Callable[[TraceEvent], str]) -> None:
    if not events:
        return
    xs = [e.time for e in events]
    ys = [lanes[e.node] + offset for e in events]
    ax.scatter(xs, ys, marker=marker, s=14, color=color, linewidths=0.8, zorder=3,
               gid="timers" if marker == "|" else "notes")
    if placer is not None:
        for e, x, y in zip(events, xs, ys):
            if placer.full:
                break
            placer.at(x, y + offset * 0.9, text(e), color)


def _draw_annotations(ax: Axes, timeline: Timeline, lanes: dict[str, int], t0: float,
                      t1: float, annotate: Callable[[TraceEvent], str | None]) -> None:
    above = offset_copy(ax.transData, fig=ax.figure, x=2, y=3, units="points")
    below = offset_copy(ax.transData, fig=ax.figure, x=2, y=-3, units="points")
    points = []
    for e in [*timeline.sends, *timeline.deliveries, *timeline.timers, *timeline.notes]:
        if not (t0 <= e.time <= t1) or e.node not in lanes:
            continue
        text = annotate(e)
        if text is None:
            continue
        y = lanes[e.node]
        points.append((e.time, y))
        ax.text(e.time, y, str(text), fontsize=6.5, clip_on=True, zorder=5,
                transform=below if e.kind == "deliver" else above,
                va="top" if e.kind == "deliver" else "bottom")
    if points:
        ax.scatter(*zip(*points), s=9, color=INK, zorder=4, gid="annotated")


class _LabelPlacer:
    """Writes small labels where they do not overlap earlier ones (greedy, in time order)."""

    def __init__(self, ax: Axes) -> None:
        self.ax = ax
        fig = ax.figure
        box = ax.get_position()
        self.px_w = box.width * fig.get_figwidth() * fig.dpi
        self.px_h = box.height * fig.get_figheight() * fig.dpi
        (self.x0, self.x1), (self.y0, self.y1) = ax.get_xlim(), ax.get_ylim()
        self.placed: list[tuple[float, float, float, float]] = []
        self.char_px = 0.55 * LABEL_SIZE * fig.dpi / 72
        self.line_px = 1.3 * LABEL_SIZE * fig.dpi / 72

    @property
    def full(self) -> bool:
        return len(self.placed) >= MAX_LABELS

    def bin(self, x: float) -> int:
        """Which stretch of LABEL_BIN pixels the time ``x`` falls in."""
        return int(self._px(x, self.y0)[0] // LABEL_BIN)

    def _px(self, x: float, y: float) -> tuple[float, float]:
        return ((x - self.x0) / (self.x1 - self.x0) * self.px_w,
                (y - self.y0) / (self.y1 - self.y0) * self.px_h)

    def between(self, xa: float, ya: float, xb: float, yb: float, text: str,
                color: str) -> None:
        """Label the middle of an arrow if the arrow is longer than the label is wide."""
        (pa, qa), (pb, qb) = self._px(xa, ya), self._px(xb, yb)
        if ((pb - pa) ** 2 + (qb - qa) ** 2) ** 0.5 < 1.6 * len(text) * self.char_px:
            return
        self.at((xa + xb) / 2, (ya + yb) / 2, text, color)

    def at(self, x: float, y: float, text: str, color: str) -> None:
        px, py = self._px(x, y)
        if not (0 <= px <= self.px_w):
            return
        half_w, half_h = len(text) * self.char_px / 2 + 1, self.line_px / 2
        box = (px - half_w, py - half_h, px + half_w, py + half_h)
        for other in self.placed:
            if box[0] < other[2] and other[0] < box[2] and box[1] < other[3] and other[1] < box[3]:
                return
        self.placed.append(box)
        self.ax.text(x, y, text, fontsize=LABEL_SIZE, color=color, ha="center", va="center",
                     clip_on=True, zorder=5, bbox=_LABEL_BOX)


_LABEL_BOX = {"boxstyle": "square,pad=0.08", "facecolor": WHITE, "edgecolor": "none",
              "alpha": 0.8}


def _describe_partition(span: Span) -> str:
    if span.what == "cut":
        return "cut " + ("→" if span.one_way else "–").join(g[0] for g in span.groups)
    return "partition " + describe_groups(span.groups)


def _rect(x0: float, x1: float, y0: float, y1: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
