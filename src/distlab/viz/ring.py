"""Ring drawings for consistent hashing: node points, the arcs they own, and keys that moved.

The hash space is drawn as a circle, position 0 at the top and growing clockwise. Each
virtual node is a tick outside the circle in its node's colour; the arc that ends at a tick
(the keys that belong to it) is drawn in the same colour; keys are dots on the circle in
their owner's colour, and keys that changed owner are drawn large, ringed in black.

The drawing reads any object with ``nodes``, ``owner(key)``, ``position(key)`` (a fraction of
a turn) and ``points()`` (every virtual node as (fraction, node)), such as
`distlab.partitioning.ring.ConsistentHashRing`: `distlab.viz` depends on no topic.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D

from distlab.viz.palette import INK, INK_SOFT, LIGHT_GREY, PALETTE
from distlab.viz.style import NotebookFigure

MOVED_EDGE = INK  # the ring around a key that changed owner


class DrawableRing(Protocol):
    """What a ring drawing reads from a consistent-hashing ring."""

    nodes: tuple[str, ...]

    def owner(self, key: str) -> str: ...

    def position(self, key: str) -> float: ...

    def points(self) -> list[tuple[float, str]]: ...


@dataclass(frozen=True)
class RingView:
    """What one ring drawing shows: virtual nodes, keys with owners, and the keys that moved."""

    nodes: tuple[str, ...]
    points: tuple[tuple[float, str], ...]        # (fraction of a turn, node), in ring order
    keys: tuple[tuple[float, str, str], ...]     # (fraction of a turn, key, owner)
    moved: frozenset[str]                        # keys whose owner changed


def read_ring(ring: DrawableRing, keys: Iterable[str],
              before: DrawableRing | None = None) -> RingView:
    """The view of ``ring`` with ``keys``; with ``before``, the keys whose owner changed."""
    keys = list(keys)
    placed = tuple((ring.position(k), k, ring.owner(k)) for k in keys)
    moved = frozenset(k for _, k, owner in placed
                      if before is not None and before.owner(k) != owner)
    return RingView(tuple(ring.nodes), tuple(sorted(ring.points())), placed, moved)


def node_colors(nodes: Iterable[str]) -> dict[str, str]:
    """A colour per node, in the order given (pass every node of both drawings you compare)."""
    return {node: PALETTE[i % len(PALETTE)] for i, node in enumerate(dict.fromkeys(nodes))}


def _xy(fraction: float, radius: float = 1.0) -> tuple[float, float]:
    angle = 2 * math.pi * fraction
    return radius * math.sin(angle), radius * math.cos(angle)


def _arc(start: float, end: float, radius: float) -> list[tuple[float, float]]:
    """Points along the circle from ``start`` to ``end`` (fractions, clockwise, end > start)."""
    steps = max(2, int(200 * (end - start)))
    return [_xy(start + (end - start) * i / steps, radius) for i in range(steps + 1)]


def draw_ring(ax: Axes, view: RingView, *, colors: dict[str, str] | None = None,
              title: str = "", key_labels: bool = False) -> None:
    """Draw ``view`` on ``ax``: coloured arcs, node ticks, keys, moved keys ringed."""
    colors = colors or node_colors(view.nodes)
    ax.set_aspect("equal")
    ax.set_axis_off()
    arcs, arc_colors = [], []
    for i, (end, node) in enumerate(view.points):
        start = view.points[i - 1][0] - (1.0 if i == 0 else 0.0)   # the first arc wraps
        arcs.append(_arc(start, end, 1.0))
        arc_colors.append(colors[node])
    ax.add_collection(LineCollection(arcs, colors=arc_colors, linewidths=5, alpha=0.45,
                                     zorder=1))
    ticks = [(_xy(f, 1.0), _xy(f, 1.16)) for f, _ in view.points]
    ax.add_collection(LineCollection(ticks, colors=[colors[n] for _, n in view.points],
                                     linewidths=2.5, zorder=2))
    if len(view.points) <= 3 * len(view.nodes):       # few points: name each of them
        for f, node in view.points:
            ax.text(*_xy(f, 1.3), node, ha="center", va="center", fontsize=8,
                    color=colors[node], fontweight="bold")
    still = [(f, k, o) for f, k, o in view.keys if k not in view.moved]
    moved = [(f, k, o) for f, k, o in view.keys if k in view.moved]
    for group, size, edge in ((still, 14, "none"), (moved, 60, MOVED_EDGE)):
        if group:
            xy = [_xy(f, 1.0) for f, _, _ in group]
            ax.scatter([x for x, _ in xy], [y for _, y in xy], s=size, zorder=3,
                       c=[colors[o] for _, _, o in group], edgecolors=edge, linewidths=1.2)
    if key_labels:
        for f, key, _ in view.keys:
            ax.text(*_xy(f, 0.86), key, ha="center", va="center", fontsize=6, color=INK_SOFT)
    ax.set_xlim(-1.42, 1.42)
    ax.set_ylim(-1.42, 1.42)
    if title:
        ax.set_title(title, fontsize=10)


def legend_handles(nodes: Sequence[str], colors: dict[str, str],
                   moved: bool = True) -> list[Line2D]:
    """Legend entries: one per node, and the mark of a key that moved."""
    handles = [Line2D([], [], color=colors[n], lw=4, alpha=0.7, label=n) for n in nodes]
    if moved:
        handles.append(Line2D([], [], marker="o", lw=0, color=LIGHT_GREY, markersize=8,
                              markeredgecolor=MOVED_EDGE, label="key that moved"))
    return handles


def ring_change(before: DrawableRing, after: DrawableRing, keys: Iterable[str], *,
                title: str = "") -> NotebookFigure:
    """Two rings side by side, before and after a change, the keys that moved ringed.

    Make the call the last line of a cell to show the figure (see `distlab.viz`).
    """
    keys = list(keys)
    old, new = read_ring(before, keys), read_ring(after, keys, before=before)
    colors = node_colors([*before.nodes, *after.nodes])
    fig = NotebookFigure(figsize=(9, 4.9), dpi=90)
    left, right = fig.subplots(1, 2)
    fig.subplots_adjust(left=0.02, right=0.98, top=0.86, bottom=0.14, wspace=0.05)
    draw_ring(left, old, colors=colors, title=f"before: {len(before.nodes)} nodes")
    draw_ring(right, new, colors=colors,
              title=f"after: {len(after.nodes)} nodes, {len(new.moved)} of "
                    f"{len(keys)} keys moved")
    handles = legend_handles(list(colors), colors)
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 7), fontsize=8,
               frameon=False)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig
