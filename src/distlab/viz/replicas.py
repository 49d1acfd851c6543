"""Replicas over time: whose value each replica holds, and when they disagree.

A replicated register under a partition is best seen lane by lane: each replica's lane is
coloured and hatched by the client that wrote the value it holds (`distlab.viz.palette.
WRITERS`: colour is not the only cue), and a last lane is red whenever the
replicas do not all hold the same version. `draw_replica_history` draws one panel per run
from samples ``(time, {replica: (value, version)})`` taken every ``every`` ms (as
`distlab.kv.runs.replica_history` takes them), with the cut and the heal marked.
`distlab.viz` depends on no topic: the samples are plain data, and ``writer`` says which
client wrote a value.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.patches import Patch

from distlab.viz.palette import INK, VERMILLION, WRITERS
from distlab.viz.style import NotebookFigure

#: one sample: (time in ms, {replica: (value, version)})
ReplicaSample = tuple[float, dict[str, tuple[Any, Any]]]
#: the colour of the lane that shows the replicas disagree
DISAGREE = VERMILLION


def client_of(value: Any) -> int:
    """The client that wrote ``value`` when client ``ci`` writes ``100 * i + k``; 0 for none."""
    return (value or 0) // 100


def spans(times: Sequence[float], keys: Sequence[Hashable], every: float
          ) -> dict[Hashable, list[tuple[float, float]]]:
    """Run-length encoding of ``keys`` sampled at ``times`` (``every`` ms apart):
    ``{key: [(start, length), ...]}``, ready for ``broken_barh``."""
    out: dict[Hashable, list[tuple[float, float]]] = {}
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            out.setdefault(keys[start], []).append(
                (times[start], times[i - 1] + every - times[start]))
            start = i
    return out


def draw_panel(ax: Axes, samples: Sequence[ReplicaSample], every: float, title: str,
               partition: tuple[float, float] | None = None,
               writer: Callable[[Any], int] = client_of) -> None:
    """One run: a lane per replica coloured by writer, and the lane of disagreement."""
    replicas = list(samples[0][1])
    times = [t for t, _ in samples]
    for lane, replica in enumerate(replicas):
        writers = [writer(states[replica][0]) for _, states in samples]
        for who, bars in spans(times, writers, every).items():
            face, hatch = WRITERS[who]
            ax.broken_barh(bars, (lane - 0.4, 0.8), facecolor=face, hatch=hatch,
                           edgecolor=INK, linewidth=0)
    disagree = [len({version for _, version in states.values()}) > 1 for _, states in samples]
    last = len(replicas)
    for flag, bars in spans(times, disagree, every).items():
        if flag:
            ax.broken_barh(bars, (last - 0.25, 0.5), color=DISAGREE)
    for t, label in zip(partition or (), ["cut", "heal"]):
        ax.axvline(t, color=INK, linestyle="--", linewidth=1)
        ax.text(t, -0.55, label, ha="center", va="bottom", fontsize=9)
    ax.set_yticks(range(last + 1), [f"replica {r}" for r in replicas] + ["replicas disagree"])
    ax.set_ylim(last + 0.6, -0.6)
    ax.set_title(title, pad=14)


def draw_replica_history(runs: Sequence[tuple[str, Sequence[ReplicaSample]]], every: float,
                         partition: tuple[float, float] | None = None,
                         writer: Callable[[Any], int] = client_of) -> NotebookFigure:
    """One panel per ``(title, samples)`` run, sharing the time axis, and a legend."""
    if not runs or any(not samples for _, samples in runs):
        raise ValueError("draw_replica_history needs runs of at least one sample each")
    fig = NotebookFigure(figsize=(10, 2.6 * len(runs)))
    axes = fig.subplots(len(runs), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (title, samples) in zip(axes, runs):
        draw_panel(ax, samples, every, title, partition, writer)
    axes[-1].set_xlabel("time (ms)")
    fig.legend(handles=[Patch(facecolor=face, hatch=hatch, edgecolor=INK, linewidth=0.5,
                              label=f"written by c{who}")
                        for who, (face, hatch) in WRITERS.items() if who]
               + [Patch(color=DISAGREE, label="replicas hold different versions")],
               loc="lower center", ncol=4, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig
