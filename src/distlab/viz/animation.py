"""Animations of a run: messages flying between nodes, as an HTML player.

The nodes sit on a circle; each message in flight is a mark moving from its sender to its
receiver, with a faint trail back to the sender; a dropped message becomes a red ✕, a
crashed node turns grey, and links cut by a partition turn dashed red. A message kind has
the colour and the marker (circle, square, triangle...) it has in the space-time diagram of
the same trace.

The result is matplotlib's JavaScript player (``to_jshtml``) with the frames embedded as
PNG images, so it plays in the static book with no kernel. Keep animations short (tens of
frames, small figures) to keep pages light: 60 frames are a few hundred kilobytes.
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Iterable
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np
import PIL.Image
from IPython.display import HTML
from matplotlib.animation import FuncAnimation, HTMLWriter
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.markers import MarkerStyle
from matplotlib.path import Path as Shape

from distlab.sim.helpers import trace_of
from distlab.sim.trace import Trace
from distlab.viz.palette import CRASH_FACE, DROP_COLOR, GREY, INK, PALE_GREY, UP_FACE, WHITE
from distlab.viz.style import KindColors, compact_png, legend_html
from distlab.viz.timeline import Flight, Span, Timeline, kind_colors, read_timeline
from distlab.viz.topology import circle_positions

#: How many frames a dropped message's ✕ stays visible.
DROP_FRAMES = 3
NODE_RADIUS = 0.13     # in data units (the nodes sit on the unit circle)
LANE_OFFSET = 0.035    # a->b and b->a messages travel side by side, not on top of each other


def animate(trace: Trace | Any, *, frames: int = 60, nodes: Iterable[str] | None = None,
            interval: int = 100, title: str | None = None, start: float | None = None,
            end: float | None = None, dpi: int = 80) -> HTML:
    """Animate ``trace`` (a `Trace`, or a Simulation) as an HTML player; return it for display.

    ``frames`` snapshots are taken evenly from ``start`` to ``end`` (ms; default from 0 to
    the last event) and shown ``interval`` ms apart. Choose the window so a frame lasts less than a
    typical message delay, or messages will only flash by as lines. The returned object
    displays itself when it is the last expression of a notebook cell (no ``;``).
    """
    if not isinstance(frames, int) or frames < 2:
        raise ValueError(f"frames must be an int of at least 2, got {frames!r}")
    if interval <= 0:
        raise ValueError(f"interval is the delay between frames in ms and must be positive; "
                         f"got {interval!r}")
    events = trace_of(trace)
    timeline = read_timeline(events, nodes, until=end)
    if not timeline.nodes:
        raise ValueError("nothing to animate: the trace names no nodes (pass nodes=[...])")
    t0 = min(0.0, timeline.first_time) if start is None else start   # runs start at 0
    t1 = timeline.last_time if end is None else end
    if t1 <= t0:
        t1 = t0 + 1.0
    player = _Player(timeline, np.linspace(t0, t1, frames), title, dpi, kind_colors(events))
    animation = FuncAnimation(player.figure, player.show_frame, frames=frames,
                              interval=interval, blit=False)
    kinds = ", ".join(player.colors.kinds()) or "none"
    alt = (f"Animation: {player.title}: messages flying between {len(timeline.nodes)} nodes "
           f"from t = {t0:,.0f} to {t1:,.0f} ms; message kinds: {kinds}")
    # The legend is HTML under the player: text is the slowest thing to draw in each frame.
    return HTML(f"{player_html(animation, interval, alt)}\n"
                f"<div style='margin-left:1em'>{legend_html(player.legend)}</div>")


def player_html(animation: FuncAnimation, interval: int, alt: str | None = None) -> str:
    """The HTML of an offline player for ``animation``, its frames ``interval`` ms apart and
    stored as small palette PNGs (any animation drawn with matplotlib can use it); ``alt``,
    what the animation shows, becomes the alt text of its frames' image."""
    with TemporaryDirectory() as folder:
        path = Path(folder, "animation.html")
        animation.save(str(path), writer=_SmallFramesWriter(fps=1000 / interval))
        player = offline_player(path.read_text(encoding="utf-8"))
    if alt:
        player = player.replace('<img id="_anim_img',
                                f'<img alt="{html.escape(alt, quote=True)}" id="_anim_img', 1)
    return player


#: The player's button icons, as characters (HTML entities, so the page's encoding does
#: not matter) instead of Font Awesome icons fetched from a CDN.
BUTTON_GLYPHS = {
    "fa fa-minus": "&#8722;",
    "fa fa-fast-backward": "|&#9664;&#9664;",
    "fa fa-step-backward": "|&#9664;",
    "fa fa-play fa-flip-horizontal": "&#9664;",
    "fa fa-pause": "&#10074;&#10074;",
    "fa fa-play": "&#9654;",
    "fa fa-step-forward": "&#9654;|",
    "fa fa-fast-forward": "&#9654;&#9654;|",
    "fa fa-plus": "+",
}
_FONT_AWESOME = re.compile(r'<link rel="stylesheet"\s+href="[^"]*font-awesome[^"]*">')


def offline_player(player_html: str) -> str:
    """matplotlib's player without its one online resource, the Font Awesome stylesheet.

    Offline (the book's pages must work with no network) its buttons would be blank; here
    each icon becomes a plain character.
    """
    player_html = _FONT_AWESOME.sub("", player_html)
    for icon, glyph in BUTTON_GLYPHS.items():
        player_html = player_html.replace(f'<i class="{icon}"></i>', glyph)
    return player_html


class _SmallFramesWriter(HTMLWriter):
    """matplotlib's HTML player, with each frame stored as a 64-colour PNG (`compact_png`):
    the page is 3-4 times lighter than with full-colour frames."""

    def __init__(self, fps: float) -> None:
        super().__init__(fps=fps, embed_frames=True, default_mode="once")

    def grab_frame(self, **savefig_kwargs: Any) -> None:
        canvas = self.fig.canvas
        canvas.draw()
        image = PIL.Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba())
        png = compact_png(image, colors=64)
        self._saved_frames.append(base64.encodebytes(png).decode("ascii"))


class _Player:
    """The figure of an animation and how to draw frame ``k`` into it."""

    def __init__(self, timeline: Timeline, times: np.ndarray, title: str | None,
                 dpi: int, colors: KindColors | None = None) -> None:
        self.timeline = timeline
        self.times = times
        self.step = times[1] - times[0]
        self.title = title or "Messages in flight"
        self.nodes = timeline.nodes
        self.pos = circle_positions(self.nodes)
        self.colors = colors or KindColors()
        for f in timeline.flights:
            self.colors(f.kind)

        self.figure = fig = Figure(figsize=(4.6, 4.1), dpi=dpi)
        FigureCanvasAgg(fig)
        fig.subplots_adjust(left=0.0, right=1.0, top=0.93, bottom=0.01)
        self.ax = ax = fig.add_subplot()
        ax.set_xlim(-1.2, 1.2)
        ax.set_ylim(-1.2, 1.2)
        ax.set_aspect("equal")
        ax.set_axis_off()
        pairs = [(a, b) for i, a in enumerate(self.nodes) for b in self.nodes[i + 1:]]
        ax.add_collection(LineCollection([(self.pos[a], self.pos[b]) for a, b in pairs],
                                         colors=PALE_GREY, linewidths=0.8, zorder=0))
        self.cut_links = ax.add_collection(LineCollection([], colors=DROP_COLOR, linewidths=1.4,
                                                          linestyles=(0, (4, 3)), zorder=1))
        xy = np.array([self.pos[n] for n in self.nodes])
        self.node_dots = ax.scatter(xy[:, 0], xy[:, 1], s=700, c=[UP_FACE] * len(self.nodes),
                                    edgecolors=INK, linewidths=1.0, zorder=2)
        for node, (x, y) in self.pos.items():
            ax.text(x, y, node, ha="center", va="center", fontsize=9, fontweight="bold",
                    zorder=3)
        self.trails = ax.add_collection(LineCollection([], linewidths=1.0, alpha=0.45, zorder=4))
        self.dots = ax.scatter([], [], s=34, zorder=5, edgecolors=WHITE, linewidths=0.5)
        self.drops = ax.scatter([], [], marker="x", s=45, color=DROP_COLOR, linewidths=1.8,
                                zorder=6)
        self.legend = [Line2D([], [], marker=self.colors.marker(k), lw=0, color=self.colors(k),
                              label=k)
                       for k in self.colors.kinds()]
        self.legend += [
            Line2D([], [], marker="x", lw=0, color=DROP_COLOR, label="dropped"),
            Line2D([], [], marker="o", lw=0, color=GREY, label="crashed node"),
            Line2D([], [], color=DROP_COLOR, linestyle=(0, (4, 3)), label="cut link")]

    def show_frame(self, k: int) -> None:
        t = float(self.times[k])
        crashed = {s.node for s in self.timeline.crashes if _holds(s, t)}
        self.node_dots.set_facecolor([CRASH_FACE if n in crashed else UP_FACE
                                      for n in self.nodes])
        self.cut_links.set_segments([(self.pos[a], self.pos[b]) for a, b in self._cut(t)])

        dots, dot_colors, dot_shapes, trails, trail_colors, drops = [], [], [], [], [], []
        for f in self.timeline.flights:
            if f.sent > t or f.end < t - DROP_FRAMES * self.step:
                continue
            if f.dropped and f.end <= t:
                drops.append(self._point(f, 0.15 if f.fate == "loss" else 0.85))
                continue
            if f.end < t - self.step or f.dropped and f.end == f.sent:
                continue
            frac = 1.0 if f.end <= f.sent else min(1.0, (t - f.sent) / (f.end - f.sent))
            here = self._point(f, frac)
            dots.append(here)
            dot_colors.append(self.colors(f.kind))
            dot_shapes.append(_shape(self.colors.marker(f.kind)))
            trails.append((self._point(f, 0.0), here))
            trail_colors.append(self.colors(f.kind))
        self.dots.set_offsets(np.array(dots).reshape(-1, 2))
        self.dots.set_facecolor(dot_colors)
        self.dots.set_paths(dot_shapes)
        self.trails.set_segments(trails)
        self.trails.set_color(trail_colors)
        self.drops.set_offsets(np.array(drops).reshape(-1, 2))
        self.ax.set_title(f"{self.title}   t = {t:,.0f} ms", fontsize=10)

    def _point(self, f: Flight, frac: float) -> tuple[float, float]:
        """Where message ``f`` is when it has done ``frac`` of its way (border to border)."""
        (xa, ya), (xb, yb) = self.pos[f.src], self.pos[f.dst]
        length = math.hypot(xb - xa, yb - ya) or 1.0
        ux, uy = (xb - xa) / length, (yb - ya) / length
        along = NODE_RADIUS + frac * max(0.0, length - 2 * NODE_RADIUS)
        return (xa + ux * along + uy * LANE_OFFSET, ya + uy * along - ux * LANE_OFFSET)

    def _cut(self, t: float) -> set[tuple[str, str]]:
        """The links (as sorted pairs of drawn nodes) that are cut at time ``t``."""
        cut: set[tuple[str, str]] = set()
        drawn = set(self.nodes)
        for span in self.timeline.partitions:
            if not _holds(span, t):
                continue
            for i, group in enumerate(span.groups):
                for other in span.groups[i + 1:]:
                    cut.update(tuple(sorted((a, b))) for a in group for b in other
                               if a in drawn and b in drawn)
        return cut


def _shape(marker: str) -> Shape:
    """The outline of a matplotlib marker, as a scatter draws it (one per message dot)."""
    style = MarkerStyle(marker)
    return style.get_path().transformed(style.get_transform())


def _holds(span: Span, t: float) -> bool:
    return span.start <= t < span.end or (span.ongoing and t >= span.start)
