"""Pictures of failure detection and membership, from plain data.

* `draw_tradeoff` -- detection time against false suspicions, one curve per detector, each
  point a setting (a timeout, a phi threshold); the setting chosen is ringed;
* `draw_suspicions` -- one run of a detector: the latency spikes of the link it watches, and
  the spans during which it suspected the sender (and the crash, if any);
* `membership_matrix` -- what every member thinks of every other (alive, suspect, dead) at
  a few moments: a grid of small matrices, observers down, members across;
* `detection_timeline` -- when each observer suspected, and declared dead, one member that
  crashed.

The membership modules turn their runs into this data (`distlab.membership.runs`), so that
this module needs nothing but matplotlib.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch, Rectangle

from distlab.viz.palette import (INK, KIND_MARKERS, LIGHT_GREY, MEMBER_STATES, ORANGE, PALETTE,
                                 VERMILLION, tint)
from distlab.viz.style import NotebookFigure

#: a state's row in the colour map of `membership_matrix` (its face and hatch: MEMBER_STATES)
STATES = ("alive", "suspect", "dead", "crashed")
_SUSPECTED = tint(VERMILLION, 0.6)

#: one point of a trade-off curve: (setting, false suspicions per run, detection time in ms)
Point = tuple[float, float, float]


def draw_tradeoff(ax: Axes, curves: Mapping[str, Sequence[Point]], *,
                  chosen: tuple[str, int] | None = None, unit: Mapping[str, str] | None = None,
                  title: str = "Detection time against false suspicions") -> None:
    """One line per detector through its settings, each its own colour and marker;
    ``chosen`` = (detector, index) is ringed and labelled with its setting (``unit[detector]``:
    "ms" for a timeout, "" for phi)."""
    ax.clear()
    unit = unit or {}
    for i, (name, points) in enumerate(curves.items()):
        false = [p[1] for p in points]
        detection = [p[2] for p in points]
        line, = ax.plot(false, detection, marker=KIND_MARKERS[i % len(KIND_MARKERS)],
                        markersize=4, label=name, color=PALETTE[i % len(PALETTE)])
        for setting, x, y in points[:: max(1, len(points) // 4)]:
            ax.annotate(f"{setting:g}{unit.get(name, '')}", (x, y), fontsize=7,
                        xytext=(3, 3), textcoords="offset points", color=line.get_color())
        if chosen is not None and chosen[0] == name:
            setting, x, y = points[chosen[1]]
            ax.plot([x], [y], marker="o", markersize=14, markerfacecolor="none", color=INK,
                    markeredgecolor=INK, markeredgewidth=1.5)
    ax.set(xlabel="false suspicions per 10 s run (live sender)",
           ylabel="detection time after a crash (ms)", title=title)
    ax.set_xlim(left=-0.2)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper right", fontsize=8)


def draw_suspicions(ax: Axes, spikes: Sequence[tuple[float, float, float]],
                    suspicions: Sequence[Sequence[float | None]], *, end: float,
                    crash_at: float | None = None, title: str = "") -> None:
    """The link's latency spikes (grey, their height the delay) and the detector's
    suspicions (hatched red spans; those before the crash are false)."""
    ax.clear()
    for start, stop, delay in spikes:
        ax.fill_between([start / 1000, stop / 1000], 0, delay, color=LIGHT_GREY, linewidth=0)
    top = max([delay for _, _, delay in spikes] + [100.0])
    for start, stop in suspicions:
        stop = end if stop is None else stop
        ax.axvspan(start / 1000, stop / 1000, facecolor=_SUSPECTED, edgecolor=VERMILLION,
                   hatch="//", linewidth=0)
    if crash_at is not None:
        ax.axvline(crash_at / 1000, color=INK, linestyle="--", linewidth=1)
    ax.set(xlim=(0, end / 1000), ylim=(0, top * 1.1), xlabel="time (s)",
           ylabel="spike delay (ms)", title=title)
    ax.legend(handles=[Patch(color=LIGHT_GREY, label="latency spike"),
                       Patch(facecolor=_SUSPECTED, edgecolor=VERMILLION, hatch="//",
                             linewidth=0, label="suspected")],
              loc="upper right", fontsize=8)


def membership_matrix(snapshots: Sequence[tuple[float, Mapping[str, Mapping[str, str]]]],
                      members: Sequence[str], *, title: str = "") -> NotebookFigure:
    """One small matrix per ``(time, views)``: row = observer, column = member, colour and
    hatch = what the observer thinks (``views[observer][member]``; "crashed" for an observer
    that is down, the diagonal left blank)."""
    fig = NotebookFigure(figsize=(2.6 * len(snapshots) + 0.6, 3.2))
    axes = fig.subplots(1, len(snapshots), squeeze=False)[0]
    cmap = ListedColormap([MEMBER_STATES[state][0] for state in STATES])
    for ax, (time, views) in zip(axes, snapshots):
        grid = np.full((len(members), len(members)), np.nan)
        for i, observer in enumerate(members):
            for j, member in enumerate(members):
                if i != j and observer in views:
                    state = views[observer].get(member, "alive")
                    grid[i, j] = STATES.index(state)
        ax.imshow(grid, cmap=cmap, vmin=-0.5, vmax=len(STATES) - 0.5)
        for (i, j), state in np.ndenumerate(grid):   # the hatches: colour is not enough
            hatch = "" if np.isnan(state) else MEMBER_STATES[STATES[int(state)]][1]
            if hatch:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch=hatch,
                                       edgecolor=INK, linewidth=0, alpha=0.6))
        ax.set_title(f"t = {time / 1000:g} s", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].set_ylabel("observer")
    for ax in axes:
        ax.set_xlabel("member")
    fig.legend(handles=[Patch(facecolor=MEMBER_STATES[s][0], hatch=MEMBER_STATES[s][1],
                              edgecolor=INK, linewidth=0.5, label=s) for s in STATES],
               loc="lower center", ncol=len(STATES), fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(bottom=0.2, top=0.82, wspace=0.08)
    return fig


def detection_timeline(suspected: Mapping[str, float], dead: Mapping[str, float], *,
                       crash_at: float, observers: Sequence[str], title: str = ""
                       ) -> NotebookFigure:
    """For each observer (one row), when it suspected (orange dot) and declared dead (red
    cross) a member that crashed at ``crash_at`` ms; times in ms after the crash."""
    fig = NotebookFigure(figsize=(8, min(5.0, 0.18 * len(observers) + 1.4)))
    ax = fig.subplots()
    rows = range(len(observers))
    ax.scatter([suspected.get(o, np.nan) - crash_at for o in observers], rows, s=14,
               color=ORANGE, label="suspects it", zorder=3)
    ax.scatter([dead.get(o, np.nan) - crash_at for o in observers], rows, s=18, marker="x",
               color=VERMILLION, label="declares it dead", zorder=3)
    ax.axvline(0, color=INK, linestyle="--", linewidth=1)
    ax.set_yticks([])
    ax.set(xlabel="ms after the crash", ylabel=f"{len(observers)} observers", title=title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig
