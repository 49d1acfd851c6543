"""The service drawings: one bar per design and region, one lane per user, one curve per design."""

from __future__ import annotations

import pytest

from distlab.viz.service import draw_completions, draw_latency_bars, draw_load


def test_latency_bars_put_the_designs_side_by_side_in_each_region():
    fig = draw_latency_bars({"one": {"eu": 80, "us": 4}, "three": {"eu": 4, "us": 4}})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["user in eu", "user in us"]
    assert sorted(round(p.get_height()) for p in ax.patches) == [4, 4, 4, 80]
    assert fig._repr_png_().startswith(b"\x89PNG")


def test_completions_draw_a_panel_per_run_and_shade_the_crash():
    run = ([0, 250], {"user-eu": [2, 1], "user-us": [0, 3]})
    fig = draw_completions({"a": run, "b": run}, down=(0, 250))
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    assert all(len(ax.get_lines()) == 2 and len(ax.patches) == 1 for ax in fig.axes)


def test_load_draws_throughput_and_latency_with_the_capacity_line():
    fig = draw_load({"one": [(3, 20.0, 40.0), (30, 180.0, 77.0)]}, capacity=500)
    left, right = fig.axes
    assert list(left.get_lines()[0].get_ydata()) == [20.0, 180.0]
    assert list(right.get_lines()[0].get_ydata()) == [40.0, 77.0]
    assert any(list(line.get_ydata()) == [500, 500] for line in left.get_lines())


def test_empty_input_is_refused_with_what_to_give():
    for draw in (draw_latency_bars, draw_completions, draw_load):
        with pytest.raises(ValueError, match="at least one"):
            draw({})
