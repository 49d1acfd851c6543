"""The slots of a replicated log drawn as a table: one row per server, one column per slot.

Multi-Paxos decides each slot on its own, so a server's log can have holes: a slot decided
after a later one, a slot nobody accepted anything for (a *gap*). The table shows, in each
cell, what the server knows of the slot: a command it knows is **decided** (solid; a no-op
grey), or only a proposal its acceptor **accepted** (pale, dashed, with the ballot it was
accepted in), or nothing (empty). The leader's row is marked, a crashed server's greyed.

The drawing reads any server object with ``id``, ``up``, ``role`` and a method ``cells()``
returning slot -> (text, "decided" or "accepted", ballot text or None):
`distlab.consensus.multipaxos.runs.SlotView` is one. `distlab.viz` depends on no topic, so it
asks for nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from distlab.viz.palette import CRASH_COLOR, INK, INK_SOFT, PALETTE, text_on
from distlab.viz.style import NotebookFigure

#: the colour of a client's command, and of a no-op (its text, "no-op", tells it too)
COMMAND_COLOR = PALETTE[0]
NOOP_COLOR = INK_SOFT


@dataclass(frozen=True)
class SlotRow:
    """One server's row: who, whether it is up and leads, and its cells (slot -> (text,
    "decided" or "accepted", ballot text or None))."""

    id: str
    up: bool
    leads: bool
    cells: dict[int, tuple[str, str, str | None]]


def read_slots(servers: Iterable[Any]) -> list[SlotRow]:
    """The rows of ``servers`` (see the module's docstring)."""
    rows = []
    for server in servers:
        cells = server.cells()
        for slot, (_, state, _) in cells.items():
            if state not in ("decided", "accepted"):
                raise ValueError(f"server {server.id!r}, slot {slot}: a cell is 'decided' or "
                                 f"'accepted', not {state!r}")
        rows.append(SlotRow(str(server.id), bool(server.up),
                            server.role == "leader" and bool(server.up), dict(cells)))
    return rows


def draw_slots(ax: Axes, rows: Sequence[SlotRow], *, title: str = "",
               last_slot: int | None = None) -> None:
    """Draw ``rows`` on ``ax``: slots 1, 2... across, one server per row, top to bottom."""
    last = last_slot or max((max(r.cells, default=0) for r in rows), default=1)
    last = max(last, 1)
    for y, row in enumerate(rows):
        y = len(rows) - 1 - y
        for slot, (text, state, ballot) in row.cells.items():
            decided = state == "decided"
            color = NOOP_COLOR if text == "no-op" else COMMAND_COLOR
            if not row.up:
                color = CRASH_COLOR
            ax.add_patch(Rectangle((slot - 0.47, y + 0.08), 0.94, 0.84, facecolor=color,
                                   alpha=1.0 if decided else 0.3, edgecolor=INK,
                                   lw=1.4 if decided else 0.9,
                                   linestyle="-" if decided else "--"))
            if len(text) > 8:  # (two lines fit a cell: "append" over "y=c1.4;")
                text = text.replace(" ", "\n", 1)
            ax.text(slot, y + (0.5 if decided else 0.6), text, ha="center", va="center",
                    fontsize=7, color=text_on(color) if decided else INK,
                    fontweight="bold" if decided else "normal", linespacing=1.0)
            if not decided and ballot is not None:
                ax.text(slot, y + 0.28, f"b={ballot}", ha="center", va="center", fontsize=6,
                        color=INK_SOFT)
        label, style = row.id, {"color": INK}
        if row.leads:
            label, style = f"\u2605 {label}", {"color": INK, "fontweight": "bold"}
        elif not row.up:
            label, style = f"{label} (down)", {"color": CRASH_COLOR}
        ax.text(0.35, y + 0.5, label, ha="right", va="center", fontsize=9, **style)
    for slot in range(1, last + 1):
        ax.text(slot, len(rows) + 0.12, f"slot {slot}", ha="center", va="bottom", fontsize=8,
                color=INK_SOFT)
    ax.set_xlim(-1.2, last + 0.6)
    ax.set_ylim(-0.1, len(rows) + 0.6)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10, loc="left")


def slot_table(servers: Iterable[Any], *, title: str = "") -> NotebookFigure:
    """The slots of ``servers`` in one figure; make the call the last line of a cell."""
    rows = read_slots(servers)
    last = max((max(r.cells, default=0) for r in rows), default=1)
    fig = NotebookFigure(figsize=(1.8 + 1.1 * max(last, 3), 0.6 + 0.5 * len(rows)), dpi=90)
    draw_slots(fig.subplots(), rows, title=title)
    return fig


def slot_table_steps(steps: Sequence[tuple[str, Iterable[Any]]], *,
                     title: str = "") -> NotebookFigure:
    """Several moments of one run, one panel each (caption, servers), on common slots."""
    panels = [(caption, read_slots(servers)) for caption, servers in steps]
    last = max((max(r.cells, default=0) for _, rows in panels for r in rows), default=1)
    height = sum(0.8 + 0.5 * len(rows) for _, rows in panels) + (0.4 if title else 0.0)
    fig = NotebookFigure(figsize=(1.8 + 1.1 * max(last, 3), height), dpi=90,
                         layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False,
                        height_ratios=[len(rows) + 1 for _, rows in panels])
    for ax, (caption, rows) in zip(axes[:, 0], panels):
        draw_slots(ax, rows, title=caption, last_slot=last)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig
