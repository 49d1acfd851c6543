"""A service seen by its users: latency per region, work done over time, load curves.

The book's first page compares one server with one replica per region
(`distlab.kv.world` runs them). Three pictures carry the comparison: `draw_latency_bars`,
the median latency each region's users see under each design; `draw_completions`, the
operations each user completes per time window, with a crash shaded; `draw_load`, throughput
and median latency as users are added. `distlab.viz` depends on no topic: the data are plain
numbers, keyed by the names the legends show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from distlab.viz.palette import GREY, HATCHES, KIND_MARKERS, LINE_STYLES, PALETTE
from distlab.viz.style import NotebookFigure


def draw_latency_bars(latencies: Mapping[str, Mapping[str, float]],
                      title: str = "Latency seen by users in each region") -> NotebookFigure:
    """Bars of ``{design: {region: median ms}}``, the designs side by side in each region."""
    if not latencies:
        raise ValueError("draw_latency_bars needs at least one design: {name: {region: ms}}")
    regions = list(next(iter(latencies.values())))
    fig = NotebookFigure(figsize=(7, 3.6))
    ax = fig.add_subplot()
    width = 0.8 / len(latencies)
    for k, (name, by_region) in enumerate(latencies.items()):
        offset = (k - (len(latencies) - 1) / 2) * width
        bars = ax.bar([i + offset for i in range(len(regions))],
                      [by_region[region] for region in regions], width=width, label=name,
                      color=PALETTE[k % len(PALETTE)], hatch=HATCHES[k % len(HATCHES)],
                      edgecolor=GREY)
        ax.bar_label(bars, fmt="%.0f ms", fontsize=8)
    ax.set_xticks(range(len(regions)), [f"user in {region}" for region in regions])
    ax.set_ylabel("median operation latency (ms)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def draw_completions(panels: Mapping[str, tuple[Sequence[float], Mapping[str, Sequence[int]]]],
                     down: tuple[float, float] | None = None,
                     width: float = 250.0) -> NotebookFigure:
    """One panel per ``{title: (window starts, {user: completions per window})}``, side by
    side; ``down``, a (start, end) pair in ms, is shaded in each."""
    if not panels:
        raise ValueError("draw_completions needs at least one panel: {title: (starts, counts)}")
    fig = NotebookFigure(figsize=(5.5 * len(panels), 3.6))
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    for ax, (title, (starts, counts)) in zip(axes, panels.items()):
        for i, (user, per_window) in enumerate(counts.items()):
            ax.step(starts, per_window, where="post", label=user, color=PALETTE[i % len(PALETTE)],
                    linestyle=LINE_STYLES[i % len(LINE_STYLES)])
        if down is not None:
            ax.axvspan(*down, color=GREY, alpha=0.15)
        ax.set_title(title)
        ax.set_xlabel("time (ms)")
    axes[0].set_ylabel(f"operations completed per {width:g} ms")
    axes[-1].legend(loc="lower right", fontsize=9)
    fig.tight_layout()
    return fig


def draw_load(curves: Mapping[str, Sequence[tuple[int, float, float]]],
              capacity: float | None = None) -> NotebookFigure:
    """Throughput and median latency against the number of users, one curve per design.

    ``curves`` maps a design to points (users, operations per second, median ms), as
    `distlab.kv.world.scale_sweep` measures them; ``capacity`` (operations per second) is
    drawn as a dotted line.
    """
    if not curves:
        raise ValueError("draw_load needs at least one design: {name: [(users, ops/s, ms)]}")
    fig = NotebookFigure(figsize=(11, 3.8))
    left, right = fig.subplots(1, 2)
    for i, (name, points) in enumerate(curves.items()):
        look = {"marker": KIND_MARKERS[i % len(KIND_MARKERS)], "color": PALETTE[i % len(PALETTE)],
                "label": name}
        users = [p[0] for p in points]
        left.plot(users, [p[1] for p in points], **look)
        right.plot(users, [p[2] for p in points], **look)
    if capacity is not None:
        left.axhline(capacity, color=GREY, linestyle=":", linewidth=1)
        left.annotate(f"one store's capacity ({capacity:g}/s)", (0.5, capacity),
                      xycoords=("axes fraction", "data"), xytext=(0, 4),
                      textcoords="offset points", fontsize=8, color=GREY)
    left.set_ylabel("successful operations per second")
    left.set_title("Throughput")
    right.set_ylabel("median operation latency (ms)")
    right.set_title("Latency")
    for ax in (left, right):
        ax.set_xlabel("number of users")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
    fig.tight_layout()
    return fig
