"""Tests of distlab.viz.slots: one row per server, one cell per slot it knows of, decided
commands solid (no-ops grey), accepted proposals pale with their ballot, gaps empty."""

from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from distlab.viz.slots import (COMMAND_COLOR, NOOP_COLOR, draw_slots, read_slots,  # noqa: E402
                               slot_table, slot_table_steps)


@dataclass
class Server:
    id: str
    slots: dict = field(default_factory=dict)
    role: str = "follower"
    up: bool = True

    def cells(self):
        return self.slots


SERVERS = [Server("a", {1: ("put x=1", "decided", None), 2: ("no-op", "decided", None),
                        4: ("get x", "accepted", "2,a")}, role="leader"),
           Server("b", {1: ("put x=1", "decided", None), 4: ("get x", "accepted", "2,a")}),
           Server("c", {3: ("put x=2", "accepted", "1,c")}, role="leader", up=False)]


def test_read_slots_reads_each_server_and_marks_only_a_live_leader():
    rows = read_slots(SERVERS)
    assert [(r.id, r.up, r.leads) for r in rows] == [("a", True, True), ("b", True, False),
                                                     ("c", False, False)]
    assert rows[0].cells[4] == ("get x", "accepted", "2,a")


def test_decided_cells_are_solid_accepted_ones_pale_with_their_ballot_and_gaps_empty():
    fig = Figure()
    ax = fig.subplots()
    draw_slots(ax, read_slots(SERVERS))
    cells = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(cells) == 3 + 2 + 1  # slot 3 is a gap on a and b: no cell
    solid = [p for p in cells if p.get_alpha() == 1.0]
    assert len(solid) == 3 and all(p.get_linestyle() == "-" for p in solid)
    assert [to_hex(p.get_facecolor()) for p in solid] == [COMMAND_COLOR, NOOP_COLOR,
                                                          COMMAND_COLOR]
    labels = [t.get_text() for t in ax.texts]
    assert labels.count("b=2,a") == 2 and "b=1,c" in labels
    assert "\u2605 a" in labels and "c (down)" in labels
    assert [f"slot {i}" for i in range(1, 5)] == [t for t in labels if t.startswith("slot")]


def test_figures_render_to_png_and_a_bad_cell_is_named():
    assert slot_table(SERVERS, title="slots")._repr_png_().startswith(b"\x89PNG")
    fig = slot_table_steps([("(a) first", SERVERS), ("(b) second", SERVERS[:1])])
    assert len(fig.axes) == 2 and fig.axes[1].get_title(loc="left") == "(b) second"
    with pytest.raises(ValueError, match="server 'x', slot 7: a cell is 'decided' or "
                                         "'accepted', not 'chosen'"):
        read_slots([Server("x", {7: ("put", "chosen", None)})])
