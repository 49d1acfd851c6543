"""Tests of distlab.viz.membership: each picture draws what its data says."""

from __future__ import annotations

import matplotlib
import numpy as np

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

from distlab.membership.runs import first_notes, swim_run, views  # noqa: E402
from distlab.viz.membership import (STATES, detection_timeline, draw_suspicions,  # noqa: E402
                                    draw_tradeoff, membership_matrix)


def test_the_tradeoff_draws_one_line_per_detector_and_rings_the_choice():
    ax = Figure().add_subplot()
    curves = {"a": [(1, 3.0, 100.0), (2, 1.0, 200.0)], "b": [(5, 2.0, 150.0)]}
    draw_tradeoff(ax, curves, chosen=("a", 1))
    lines = ax.get_lines()
    assert len(lines) == 3                       # two curves and the ring
    assert list(lines[0].get_xdata()) == [3.0, 1.0]
    (ring,) = [line for line in lines if line.get_markersize() == 14]
    assert list(ring.get_xdata()) == [1.0] and list(ring.get_ydata()) == [200.0]


def test_suspicions_are_spans_and_an_open_one_lasts_to_the_end():
    ax = Figure().add_subplot()
    draw_suspicions(ax, [(1_000, 1_500, 300.0)], [[2_000, 2_500], [8_000, None]], end=10_000)
    spans = sorted((p.get_x(), p.get_x() + p.get_width()) for p in ax.patches)
    assert np.allclose(spans, [(2.0, 2.5), (8.0, 10.0)])


def test_the_matrix_colours_each_view_of_a_swim_group():
    run = swim_run(6, 1, crashes={"n3": 500}, duration=4_000)
    seen = views(run.sim)
    assert seen["n0"]["n3"] == "dead" and seen["n3"]["n0"] == "crashed"
    fig = membership_matrix([(4_000, seen)], sorted(seen))
    grid = fig.axes[0].images[0].get_array()
    assert grid[0, 3] == STATES.index("dead") and grid[3, 0] == STATES.index("crashed")
    assert np.ma.is_masked(grid[0, 0])   # a member's view of itself is left blank


def test_the_timeline_places_each_observer_after_the_crash():
    run = swim_run(6, 1, crashes={"n3": 500}, duration=4_000)
    suspected, dead = first_notes(run, "suspect", "n3"), first_notes(run, "dead", "n3")
    assert set(dead) == {"n0", "n1", "n2", "n4", "n5"}
    fig = detection_timeline(suspected, dead, crash_at=500, observers=sorted(dead))
    xs = fig.axes[0].collections[1].get_offsets()[:, 0]
    assert (xs > 0).all() and list(xs) == [dead[o] - 500 for o in sorted(dead)]
