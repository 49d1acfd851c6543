"""Replicated logs drawn as in the Raft paper's figures 6 to 8: one row per server, one box per
entry, the entry's term written in it and giving it its colour.

A committed entry is drawn solid, one not (yet) committed pale with a dashed edge; entries a
snapshot replaced are one grey block; the leader's row is marked, a crashed server's greyed.

The drawing reads any server object with ``log`` (entries with a ``term``), ``term``,
``role``, ``commit_index`` and, if it has them, ``log_start`` (the index of ``log[0]``, 1 by
default), ``id`` and ``up``: a live `distlab.consensus.raft.node.RaftNode` or a saved view
of one. `distlab.viz` depends on no topic, so it asks for nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from distlab.viz.palette import CRASH_COLOR, GREY, INK, INK_SOFT, PALE_GREY, PALETTE, text_on
from distlab.viz.style import NotebookFigure


@dataclass(frozen=True)
class LogRow:
    """One server's row: who, whether up, its term and role, the terms of its entries from
    index ``start`` on, and how far they are committed."""

    id: str
    up: bool
    term: int
    role: str
    start: int
    terms: tuple[int, ...]
    commit_index: int

    @property
    def last_index(self) -> int:
        return self.start + len(self.terms) - 1


def read_logs(servers: Iterable[Any] | dict[str, Any]) -> list[LogRow]:
    """The rows of ``servers`` (objects, or a dict id -> object such as ``sim.nodes``; objects
    without a ``log`` -- clients -- are left out)."""
    items = servers.items() if isinstance(servers, dict) else (
        (getattr(s, "id", str(i + 1)), s) for i, s in enumerate(servers))
    rows = []
    for node_id, server in items:
        if not hasattr(server, "log"):
            continue
        start = getattr(server, "log_start", 1)
        rows.append(LogRow(str(node_id), bool(getattr(server, "up", True)), server.term,
                           server.role, start, tuple(e.term for e in server.log),
                           server.commit_index))
    return rows


def term_color(term: int) -> str:
    """The colour of the entries of ``term`` (the same in every drawing)."""
    return PALETTE[(term - 1) % len(PALETTE)]


def draw_logs(ax: Axes, rows: Sequence[LogRow], *, title: str = "",
              last_index: int | None = None, first_index: int = 1) -> None:
    """Draw ``rows`` on ``ax``: indices across from ``first_index`` (a long log's recent
    end), one server per row, top to bottom."""
    first = max(first_index, 1)
    last = max(last_index or max((r.last_index for r in rows), default=1), first)
    for y, row in enumerate(rows):
        y = len(rows) - 1 - y
        grey = not row.up
        if row.start > first:  # the snapshot: what is shown of it, as one block
            ax.add_patch(Rectangle((first - 0.45, y + 0.1), row.start - first - 0.1, 0.8,
                                   facecolor=PALE_GREY, edgecolor=GREY, hatch="///",
                                   lw=0.8))
            ax.text((first + row.start - 1) / 2, y + 0.5, "snapshot", ha="center",
                    va="center", fontsize=7, color=INK_SOFT)
        for offset, term in enumerate(row.terms):
            index = row.start + offset
            if index < first:
                continue
            committed = index <= row.commit_index and row.up
            color = CRASH_COLOR if grey else term_color(term)
            ax.add_patch(Rectangle((index - 0.45, y + 0.1), 0.9, 0.8, facecolor=color,
                                   alpha=1.0 if committed else 0.35, edgecolor=INK,
                                   lw=1.4 if committed else 0.8,
                                   linestyle="-" if committed else "--"))
            ax.text(index, y + 0.5, str(term), ha="center", va="center", fontsize=9,
                    color=text_on(color) if committed else INK, fontweight="bold")
        label = f"{row.id}  term {row.term}"
        style = {"color": CRASH_COLOR if grey else INK}
        if row.role == "leader" and row.up:
            label = f"\u2605 {label}"
            style = {"color": INK, "fontweight": "bold"}
        elif grey:
            label = f"{label} (down)"
        ax.text(first - 0.8, y + 0.5, label, ha="right", va="center", fontsize=9, **style)
    for index in range(first, last + 1):
        ax.text(index, len(rows) + 0.15, str(index), ha="center", va="bottom", fontsize=8,
                color=INK_SOFT)
    ax.set_xlim(first - 3.6, last + 0.6)
    ax.set_ylim(-0.1, len(rows) + 0.6)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10, loc="left")


def raft_logs(servers: Iterable[Any] | dict[str, Any], *, title: str = "",
              first_index: int = 1) -> NotebookFigure:
    """The logs of ``servers`` (see `read_logs`) in one figure, from index ``first_index``;
    make the call the last line of a cell."""
    rows = read_logs(servers)
    last = max((r.last_index for r in rows), default=1)
    shown = max(last - first_index + 1, 4)
    fig = NotebookFigure(figsize=(2.4 + 0.55 * shown, 0.5 + 0.42 * len(rows)), dpi=90)
    draw_logs(fig.subplots(), rows, title=title or "log index \u2192",
              first_index=first_index)
    return fig


def raft_log_steps(steps: Sequence[tuple[str, Iterable[Any] | dict[str, Any]]], *,
                   title: str = "") -> NotebookFigure:
    """Several moments of one run, one panel each (caption, servers), on a common index axis:
    the layout of the paper's Figure 8."""
    panels = [(caption, read_logs(servers)) for caption, servers in steps]
    last = max((r.last_index for _, rows in panels for r in rows), default=1)
    height = sum(0.75 + 0.42 * len(rows) for _, rows in panels) + (0.4 if title else 0.0)
    fig = NotebookFigure(figsize=(2.4 + 0.55 * max(last, 4), height), dpi=90,
                         layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False,
                        height_ratios=[len(rows) + 1 for _, rows in panels])
    for ax, (caption, rows) in zip(axes[:, 0], panels):
        draw_logs(ax, rows, title=caption, last_index=last)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig
