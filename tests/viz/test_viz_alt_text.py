"""Figures describe themselves: the PNG a notebook stores carries the figure's titles as its alt
text, and the book's extension (tools/figure_alt_text.py) finds a title in a cell's code."""

from __future__ import annotations

import sys
from pathlib import Path

from IPython.core.formatters import DisplayFormatter

from distlab.viz import spacetime
from distlab.viz.raftlog import raft_logs
from distlab.viz.style import NotebookFigure, describe_figure, static_image

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from figure_alt_text import _written_alts, alt_text, titles_in  # noqa: E402


def test_a_titled_figure_stores_its_title_as_the_alt_text_of_its_png() -> None:
    data, metadata = DisplayFormatter().format(raft_logs({}, title="One log"))
    assert data["image/png"].startswith(b"\x89PNG")
    assert metadata == {"image/png": {"alt": "One log"}}


def test_a_figure_without_title_stores_no_alt_text() -> None:
    fig = NotebookFigure()
    fig.add_subplot().plot([0, 1], [1, 0])
    data, metadata = DisplayFormatter().format(fig)
    assert "image/png" in data and metadata == {}


def test_describe_figure_names_the_title_and_each_axes_title_once() -> None:
    fig = raft_logs({}, title="Logs")
    fig.suptitle("Two runs")
    assert describe_figure(fig) == "Two runs; Logs"


def test_titles_are_read_from_a_cells_code() -> None:
    source = ('name = f"seed {seed}: two leaders"\n'
              'fig, ax = plt.subplots()\nax.set_title("Latency")\n'
              'spacetime(sim, title=name)\nplt.suptitle("Runs")\n%matplotlib inline\n')
    assert titles_in(source) == ["Latency", "seed …: two leaders", "Runs"]


def test_titles_a_loop_takes_from_a_written_list_are_read() -> None:
    source = ('for ax, (run, title) in [(left, (a, "No fencing")), (right, (b, "Fencing"))]:\n'
              '    ax.set_title(title)\n'
              'for name in names:\n    ax.set_title(name)\n')
    assert titles_in(source) == ["No fencing", "Fencing"]


def test_axes_names_describe_a_plot_without_title() -> None:
    source = "ax.plot(x, y)\nax.set_xlabel('load')\nax.set_ylabel('latency (ms)')\n"
    assert alt_text(source, "Tails") == "latency (ms) against load"


def test_with_no_title_the_alt_text_says_what_drew_it_and_where() -> None:
    assert alt_text("report", "Reading a report") == (
        "Figure drawn by report in the section “Reading a report”")
    assert alt_text("x = 1\nplt.show()", None, what="Animation") == "Animation"


def test_spacetime_figures_carry_their_title() -> None:
    from distlab.sim import Simulation
    fig = spacetime(Simulation(seed=1).trace, nodes=["a"], title="An empty run", end=10)
    assert describe_figure(fig) == "An empty run"


def test_an_author_writes_one_alt_text_for_a_cells_figures_or_one_per_figure() -> None:
    one = _written_alts({"metadata": {"alt": "Two rings"}})
    assert [next(one) for _ in range(3)] == ["Two rings"] * 3
    each = _written_alts({"metadata": {"alt": ["Before", "After"]}})
    assert [next(each) for _ in range(3)] == ["Before", "After", None]
    assert next(_written_alts({"metadata": {}})) is None


def test_an_explorers_static_image_carries_its_figures_titles() -> None:
    data, metadata = DisplayFormatter().format(static_image(raft_logs({}, title="One log")))
    assert data["image/png"].startswith("iVBOR")           # a PNG, base64
    assert metadata == {"image/png": {"alt": "One log"}}
    _, given = DisplayFormatter().format(static_image(NotebookFigure(), alt="An explorer"))
    assert given == {"image/png": {"alt": "An explorer"}}


def test_an_animation_gives_its_frames_an_alt_text_the_book_keeps() -> None:
    import networkx as nx

    from distlab.sim import Node, Simulation
    from distlab.viz import animate
    from distlab.viz.spreading import animate_spread

    sim = Simulation(seed=1)
    sim.add_nodes(Node, ["a", "b"])                         # two nodes that send nothing
    sim.run(until=10)
    player = animate(sim, frames=2, title="Quiet").data
    assert '<img alt="Animation: Quiet: messages flying between 2 nodes from t = 0 to' in player
    spread = animate_spread(nx.path_graph(["n0", "n1"]), {"n0": 0, "n1": 1}, {"n1": "n0"},
                            title="Rumour").data
    assert '<img alt="Animation: Rumour: a rumour spreading over 2 nodes in 1 rounds' in spread

