"""distlab.viz.roles: role bars per node, from samples of (time, {node: (role, term)})."""

from __future__ import annotations

import pytest

from distlab.viz.palette import RAFT_ROLES
from distlab.viz.roles import draw_roles, role_segments

SAMPLES = [(0.0, {"a": ("follower", 1), "b": ("leader", 1)}),
           (10.0, {"a": ("follower", 1), "b": ("leader", 1)}),
           (20.0, {"a": ("candidate", 2), "b": ("crashed", None)}),
           (60.0, {"a": ("leader", 2), "b": ("crashed", None)}),
           (100.0, {"a": ("leader", 2), "b": ("follower", 2)})]


def test_a_stretch_of_one_role_and_term_is_one_segment():
    assert role_segments(SAMPLES, "a") == [("follower", 1, 0.0, 10.0),
                                           ("candidate", 2, 20.0, 20.0),
                                           ("leader", 2, 60.0, 100.0)]
    assert role_segments(SAMPLES, "b", start=15) == [("crashed", None, 20.0, 60.0),
                                                     ("follower", 2, 100.0, 100.0)]


def test_the_drawing_has_a_bar_per_segment_terms_on_long_bars_and_the_partition():
    fig = draw_roles(SAMPLES, "roles", partition=(20, 60))
    ax = fig.axes[0]
    assert len(ax.collections) == 3 + 3  # a bar per segment: three of a's, three of b's
    assert len(ax.patches) == 1          # the partition's band
    assert len(draw_roles(SAMPLES).axes[0].patches) == 0
    assert [t.get_text() for t in ax.texts] == ["2"]  # only a's 40 ms as leader is long enough
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    assert ax.get_xlim() == (0.0, 100.0) and ax.get_title() == "roles"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [*RAFT_ROLES, "partition"]


def test_no_samples_is_a_clear_error():
    with pytest.raises(ValueError, match="at least one sample: run sample_roles first"):
        draw_roles([])
