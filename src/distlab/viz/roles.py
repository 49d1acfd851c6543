"""Roles over time: one lane per node, a bar per stretch of the same role and term.

Leader election is best watched as who is follower, candidate or leader, and in which term,
moment by moment. `draw_roles` draws samples of that (as `distlab.election.runs.sample_roles`
takes them): ``(time, {node: (role, term)})`` in time order, the role ``"crashed"`` (term
None) for a node that is down. A role has a colour and a hatch of its own
(`distlab.viz.palette.RAFT_ROLES`: followers plain, candidates dotted, leaders striped), the
term is written on every bar long enough to hold it, and a partition can be drawn as a
hatched band. `distlab.viz` depends on no topic: the samples
are plain data.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.colors import to_rgba
from matplotlib.patches import Patch

from distlab.viz.palette import INK, RAFT_ROLES, WHITE
from distlab.viz.style import NotebookFigure

#: one sample: (time in ms, {node: (role, term)})
RoleSample = tuple[float, dict[str, tuple[str, int | None]]]
#: a bar shorter than this (ms) gets no term written on it
LABELLED_BAR = 25.0
_HATCH_EDGE = to_rgba(INK, 0.3)
_TERM_BOX = {"boxstyle": "round,pad=0.15", "facecolor": WHITE, "edgecolor": "none",
             "alpha": 0.85}


def role_segments(samples: Sequence[RoleSample], node: str, start: float = 0.0
                  ) -> list[tuple[str, int | None, float, float]]:
    """``node``'s stretches of one role and term from ``start`` on: (role, term, from, to)."""
    segments: list[list] = []
    for t, states in samples:
        if t < start:
            continue
        if segments and tuple(segments[-1][:2]) == tuple(states[node]):
            segments[-1][3] = t
        else:
            segments.append([*states[node], t, t])
    return [tuple(segment) for segment in segments]


def draw_roles(samples: Sequence[RoleSample], title: str = "", start: float = 0.0,
               partition: tuple[float, float] | None = None) -> NotebookFigure:
    """Each node's role and term over time (from ``start`` ms), a lane per node.

    ``partition``, a (start, end) pair in ms, is drawn as a hatched band.
    """
    if not samples:
        raise ValueError("draw_roles needs at least one sample: run sample_roles first")
    nodes = list(samples[0][1])
    fig = NotebookFigure(figsize=(9, 0.45 * len(nodes) + 1.3))
    ax = fig.add_subplot()
    legend = [Patch(facecolor=face, hatch=hatch, edgecolor=INK, linewidth=0.5, label=role)
              for role, (face, hatch) in RAFT_ROLES.items()]
    if partition is not None:
        ax.axvspan(*partition, facecolor="none", edgecolor=_HATCH_EDGE, hatch="//",
                   linewidth=0, zorder=3)
        legend.append(Patch(facecolor="none", edgecolor=_HATCH_EDGE, hatch="//",
                            label="partition"))
    for lane, node in enumerate(nodes):
        for role, term, t0, t1 in role_segments(samples, node, start):
            face, hatch = RAFT_ROLES[role]
            ax.broken_barh([(t0, t1 - t0)], (lane - 0.35, 0.7), facecolor=face, hatch=hatch,
                           edgecolor=INK, linewidth=0.0)
            if term is not None and t1 - t0 > LABELLED_BAR:
                ax.text((t0 + t1) / 2, lane, str(term), ha="center", va="center", fontsize=8,
                        bbox=_TERM_BOX)
    ax.set_yticks(range(len(nodes)), nodes)
    ax.invert_yaxis()
    ax.set_xlim(start, samples[-1][0])
    ax.set_xlabel("time (ms); the number on a bar is the node's term")
    ax.set_title(title)
    ax.legend(handles=legend, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig
