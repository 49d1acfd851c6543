"""Tests of distlab.viz.raftlog: it reads any server with a log, and draws one box per entry,
committed entries solid, the snapshot as one block, the leader marked."""

from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from distlab.viz.raftlog import (draw_logs, raft_log_steps, raft_logs, read_logs,  # noqa: E402
                                 term_color)


@dataclass
class E:
    term: int


@dataclass
class Server:
    log: list
    term: int
    role: str = "follower"
    commit_index: int = 0
    log_start: int = 1
    up: bool = True


@dataclass
class Client:
    sent: list = field(default_factory=list)


SERVERS = {"a": Server([E(1), E(1), E(2)], 2, "leader", commit_index=2),
           "b": Server([E(2)], 2, commit_index=3, log_start=3),
           "c": Server([E(1)], 1, up=False),
           "client": Client()}


def test_read_logs_reads_servers_and_leaves_clients_out():
    rows = read_logs(SERVERS)
    assert [r.id for r in rows] == ["a", "b", "c"]
    assert rows[0].terms == (1, 1, 2) and rows[0].last_index == 3
    assert rows[1].start == 3 and rows[1].last_index == 3
    assert not rows[2].up


def test_each_entry_is_a_box_in_its_terms_colour_solid_once_committed():
    fig = Figure()
    ax = fig.subplots()
    draw_logs(ax, read_logs(SERVERS))
    boxes = [p for p in ax.patches if isinstance(p, Rectangle)]
    snapshot = [p for p in boxes if p.get_hatch()]
    entries = [p for p in boxes if not p.get_hatch()]
    assert len(snapshot) == 1 and len(entries) == 3 + 1 + 1
    solid = [p for p in entries if p.get_alpha() == 1.0]
    assert len(solid) == 3  # a's first two, b's index 3; c is down
    assert matplotlib.colors.to_hex(solid[0].get_facecolor()) == term_color(1)
    labels = [t.get_text() for t in ax.texts]
    assert "\u2605 a  term 2" in labels and "c  term 1 (down)" in labels


def test_figures_render_to_png():
    assert raft_logs(SERVERS)._repr_png_().startswith(b"\x89PNG")
    steps = [("(a) first", SERVERS), ("(b) second", {"a": SERVERS["a"]})]
    fig = raft_log_steps(steps, title="two moments")
    assert len(fig.axes) == 2 and fig.axes[1].get_title(loc="left") == "(b) second"


def test_first_index_draws_only_the_recent_end_of_long_logs():
    server = Server([E(1)] * 10 + [E(2)] * 5, 2, "leader", commit_index=15, log_start=21)
    fig = Figure()
    ax = fig.subplots()
    draw_logs(ax, read_logs({"a": server}), first_index=30)
    entries = [p for p in ax.patches if not p.get_hatch()]
    assert len(entries) == 6  # indices 30 to 35
    assert [t.get_text() for t in ax.texts if t.get_text().isdigit() and t.get_position()[1]
            > 1][:2] == ["30", "31"]
