"""Figures describe themselves: the PNG a notebook stores carries the figure's titles as its alt
text, and the book's extension (tools/figure_alt_text.py) finds a title in a cell's code."""

from __future__ import annotations

import sys
from pathlib import Path

from IPython.core.formatters import DisplayFormatter

from distlab.viz import spacetime
from distlab.viz.raftlog import raft_logs
from distlab.viz.style import NotebookFigure, describe_figure

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from figure_alt_text import alt_text, titles_in  # noqa: E402


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
