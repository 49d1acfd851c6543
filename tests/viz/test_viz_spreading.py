"""distlab.viz.spreading: a rumour's spread over a graph as an offline HTML player."""

from __future__ import annotations

import networkx as nx
import pytest

from distlab.viz.spreading import animate_spread

PATH = nx.path_graph(["n0", "n1", "n2"])


def test_two_frames_per_round_in_an_offline_player():
    player = animate_spread(PATH, {"n0": 0, "n1": 1, "n2": 2}, {"n1": "n0", "n2": "n1"})
    html = player.data
    assert html.count("data:image/png;base64") == 2 * 2   # rounds 1 and 2: links, then nodes
    assert "font-awesome" not in html                     # plays offline


def test_a_node_without_its_round_or_its_teller_is_a_clear_error():
    with pytest.raises(ValueError, match="must cover every node; missing for n2"):
        animate_spread(PATH, {"n0": 0, "n1": 1}, {"n1": "n0"})
    with pytest.raises(ValueError, match="missing for n2"):
        animate_spread(PATH, {"n0": 0, "n1": 1, "n2": 2}, {"n1": "n0"})
