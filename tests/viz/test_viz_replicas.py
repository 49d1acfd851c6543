"""distlab.viz.replicas: replicas' lanes coloured by writer, and the lane of disagreement."""

from __future__ import annotations

import pytest

from distlab.viz.palette import WRITERS
from distlab.viz.replicas import client_of, draw_replica_history, spans

SAMPLES = [(0.0, {"a": (None, 0), "b": (None, 0)}),
           (5.0, {"a": (101, 1), "b": (None, 0)}),
           (10.0, {"a": (101, 1), "b": (101, 1)}),
           (15.0, {"a": (202, 2), "b": (101, 1)})]


def test_spans_encode_runs_of_equal_keys():
    assert spans([0, 5, 10, 15], [0, 1, 1, 2], 5) == {0: [(0, 5)], 1: [(5, 10)], 2: [(15, 5)]}
    assert spans([0, 5, 10], [True, False, True], 5) == {True: [(0, 5), (10, 5)],
                                                         False: [(5, 5)]}


def test_values_are_coloured_by_the_client_that_wrote_them():
    assert [client_of(v) for v in (None, 101, 207, 305)] == [0, 1, 2, 3]


def test_one_panel_per_run_with_a_lane_per_replica_and_the_disagreement_lane():
    fig = draw_replica_history([("AP", SAMPLES), ("CP", SAMPLES[:2])], every=5,
                               partition=(5, 10))
    ap, cp = fig.axes
    assert [t.get_text() for t in ap.get_yticklabels()] == [
        "replica a", "replica b", "replicas disagree"]
    # a: nothing, c1, c2 (3 colours); b: nothing, c1 (2); disagreement at 5 and 15 (1 bar)
    assert len(ap.collections) == 3 + 2 + 1
    assert [t.get_text() for t in ap.texts] == ["cut", "heal"]
    assert ap.get_title() == "AP" and cp.get_title() == "CP"
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(labels) == len(WRITERS) and labels[-1] == "replicas hold different versions"


def test_no_samples_is_a_clear_error():
    with pytest.raises(ValueError, match="runs of at least one sample each"):
        draw_replica_history([("AP", [])], every=5)
