"""Pictures of client histories: one lane per process, one bar per operation.

A bar runs from an operation's invocation to its completion and is labelled with what it did
(``w(3)``, ``r→1``...). A linearization is drawn as numbered points, one inside each bar, in
the order the operations take effect; the operation the checker could not place is red; an
operation with unknown outcome fades out to the right (it may take effect at any later time,
or never); a failed operation is a dashed outline (it took no effect). This is the picture
Knossos and Porcupine draw {cite:p}`athalye2017porcupine`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from distlab.check.models import Model
from distlab.viz.palette import (BLUE, GREY, INK, LIGHT_GREY, ORANGE, SKY_BLUE, VERMILLION, WHITE,
                                 readable, text_on, tint)

# The colours of distlab.viz.palette; each kind of bar also differs in outline or hatch.
LINEARIZED = tint(SKY_BLUE, 0.5)
PLACED_NOT = LIGHT_GREY
IMPOSSIBLE = VERMILLION          # with a thick outline
UNKNOWN_FILL = tint(ORANGE, 0.6)  # hatched
UNKNOWN_EDGE = readable(ORANGE)
ORDER = BLUE                     # the numbered points of the linearization


def _lane_order(process: Any) -> tuple[bool, Any]:
    """Numbers first in numeric order, then everything else by its text."""
    if isinstance(process, (int, float)):
        return (False, process)
    return (True, str(process))


def _window(ops: Sequence[Any], focus: Sequence[Any], max_ops: int) -> list[Any]:
    """At most ``max_ops`` operations: those leading up to the focus, or the first ones."""
    by_invoke = sorted(ops, key=lambda op: (op.invoke_time, op.id))
    if len(by_invoke) <= max_ops:
        return by_invoke
    if not focus:
        return by_invoke[:max_ops]
    ends = [op.complete_time for op in focus if op.complete_time is not None]
    end = max(ends) if ends else max(op.invoke_time for op in focus)
    before = [op for op in by_invoke if op.invoke_time <= end]
    chosen = before[-max_ops:]
    missing = [op for op in focus if op not in chosen]
    return sorted(missing + chosen[len(missing):], key=lambda op: (op.invoke_time, op.id))


def linearization_points(order: Sequence[Any], spread: float = 0.0) -> list[float]:
    """A time inside each operation's interval, increasing along ``order``.

    Each point is as early as possible: the operation's invocation, or just after the previous
    point (by ``spread``, so points at one instant stay apart). A valid linearization respects
    real time, so the point never passes the operation's completion.
    """
    points: list[float] = []
    previous = -math.inf
    for op in order:
        t = max(op.invoke_time, previous + spread)
        if op.status == "ok" and op.complete_time is not None:
            t = min(t, op.complete_time)
        points.append(t)
        previous = t
    return points


def _middle(op: Any, right: float) -> float:
    """The middle of an operation's bar (one never completed ends at ``right``)."""
    stop = op.complete_time if op.complete_time is not None else right
    return (op.invoke_time + stop) / 2


def draw_history(ops: Sequence[Any], model: Model, *, linearization: Sequence[Any] = (),
                 impossible: Sequence[Any] = (), ax: Any = None, title: str | None = None,
                 max_ops: int = 30, arrows: Sequence[tuple[Any, Any]] = (),
                 legend_labels: dict[str, str] | None = None) -> Any:
    """Draw ``ops`` as a timeline and return the matplotlib figure.

    ``linearization`` (an order of some of the operations) is shown as numbered points,
    ``impossible`` operations in red. Histories longer than ``max_ops`` are shown in a window
    that ends at the impossible operation (or, without one, the first ``max_ops``).
    ``arrows`` are pairs (a, b) of operations drawn as a dashed red arrow from a to b: the
    session checkers draw one from a write to the read that should have seen it.
    ``legend_labels`` renames entries of the legend (keys ``"linearized"``, ``"not placed"``,
    ``"impossible"``), for pictures of other checks.
    """
    names = {"linearized": "linearized (dots: order)", "not placed": "not placed",
             "impossible": "cannot be placed", **(legend_labels or {})}
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    focus = list(impossible) or list(linearization[-1:])
    shown = _window(ops, focus, max_ops)
    shown_ids = {op.id for op in shown}
    lanes = sorted({op.process for op in shown}, key=_lane_order)
    lane_of = {p: i for i, p in enumerate(lanes)}

    finite = [t for op in shown for t in (op.invoke_time, op.complete_time) if t is not None]
    start, end = (min(finite), max(finite)) if finite else (0.0, 1.0)
    span = (end - start) or 1.0
    right = end + 0.08 * span  # where an unknown operation's bar fades out

    if ax is None:
        fig, ax = plt.subplots(figsize=(10, 1.2 + 0.55 * max(len(lanes), 1)))
    else:
        fig = ax.figure

    impossible_ids = {op.id for op in impossible}
    linearized_ids = {op.id for op in linearization}
    for op in shown:
        y = lane_of[op.process]
        # a bar to the completion; an unknown outcome that was given up on (info) continues as
        # a dotted line (it may still take effect), one never completed (pending) as its bar
        stop = op.complete_time if op.complete_time is not None else right
        width = max(stop - op.invoke_time, 0.004 * span)
        style: dict[str, Any] = {"edgecolor": INK, "linewidth": 0.8}
        if op.id in impossible_ids:
            style.update(color=IMPOSSIBLE, edgecolor=INK, linewidth=1.8)
        elif op.status == "fail":
            style.update(color=WHITE, edgecolor=GREY, linestyle="--")
        elif op.unknown:
            style.update(color=UNKNOWN_FILL, hatch="///", edgecolor=UNKNOWN_EDGE)
            if op.complete_time is not None:
                ax.plot([op.complete_time, right], [y, y], color=UNKNOWN_EDGE, linestyle=":",
                        linewidth=1, zorder=0.5)
        elif op.id in linearized_ids:
            style.update(color=LINEARIZED)
        else:
            style.update(color=PLACED_NOT)
        (bar,) = ax.barh(y, width, left=op.invoke_time, height=0.5, **style)
        label = model.describe(op) + (" ✗" if op.status == "fail" else "")
        text = ax.text(op.invoke_time + width / 2, y + 0.02, label, ha="center", va="center",
                       fontsize=8, color=text_on(IMPOSSIBLE) if op.id in impossible_ids else INK,
                       clip_on=True)
        text.set_clip_path(bar)  # a label never spills over its neighbours

    points = linearization_points(linearization, spread=0.004 * span)
    xs, ys, numbers = [], [], []
    for n, (op, t) in enumerate(zip(linearization, points), start=1):
        if op.id in shown_ids:
            xs.append(t)
            ys.append(lane_of[op.process] - 0.25)
            numbers.append(n)
    if xs:
        ax.plot(xs, ys, color=ORDER, linewidth=0.8, alpha=0.6, zorder=3)
        ax.scatter(xs, ys, s=18, color=ORDER, zorder=4)
        for x, y, n in zip(xs, ys, numbers):
            ax.annotate(str(n), (x, y), xytext=(0, 4), textcoords="offset points",
                        ha="center", va="bottom", fontsize=7, color=ORDER, zorder=5)

    for a, b in arrows:
        if a.id in shown_ids and b.id in shown_ids:
            ax.annotate("", xy=(_middle(b, right), lane_of[b.process]),
                        xytext=(_middle(a, right), lane_of[a.process]),
                        arrowprops={"arrowstyle": "->", "color": IMPOSSIBLE, "linestyle": "--",
                                    "linewidth": 1.2, "shrinkA": 6, "shrinkB": 6}, zorder=6)
    ax.set_yticks(range(len(lanes)), [f"process {p}" for p in lanes])
    ax.set_ylim(len(lanes) - 0.4, -0.8)
    ax.set_xlim(start - 0.02 * span, right + 0.02 * span)
    ax.set_xlabel("time")
    if title is None:
        title = "history"
    if len(shown) < len(ops):
        title += f"\n(showing {len(shown)} of {len(ops)} operations)"
    ax.set_title(title, fontsize=10, pad=26)
    legend = []
    if linearized_ids:
        legend.append(Patch(color=LINEARIZED, label=names["linearized"]))
    if any(op.status == "ok" and op.id not in linearized_ids | impossible_ids for op in shown):
        legend.append(Patch(color=PLACED_NOT, label=names["not placed"]))
    if impossible_ids:
        legend.append(Patch(facecolor=IMPOSSIBLE, edgecolor=INK, linewidth=1.8,
                            label=names["impossible"]))
    if any(op.unknown for op in shown):
        legend.append(Patch(facecolor=UNKNOWN_FILL, hatch="///", edgecolor=UNKNOWN_EDGE,
                            label="unknown outcome"))
    if any(op.status == "fail" for op in shown):
        legend.append(Patch(facecolor=WHITE, edgecolor=GREY, linestyle="--",
                            label="failed (no effect)"))
    if legend:
        ax.legend(handles=legend, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=len(legend),
                  fontsize=8, frameon=False, borderaxespad=0.2)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig
