"""distlab.gossip.runs.push_over: who told whom, round by round, over a topology."""

from __future__ import annotations

import networkx as nx
import pytest

from distlab.gossip.runs import push_over


def test_on_a_path_the_rumour_moves_one_hop_at_most_per_round():
    path = nx.path_graph([f"n{i}" for i in range(6)])
    spread = push_over(path, seed=1)
    assert spread.informed_at["n0"] == 0
    for i in range(1, 6):  # told by the neighbour before it, never sooner than that one
        node, before = f"n{i}", f"n{i - 1}"
        assert spread.told_by[node] == before
        assert spread.informed_at[node] > spread.informed_at[before]
    assert spread.rounds == spread.informed_at["n5"] and sum(spread.per_round()) == 6


def test_the_same_seed_gives_the_same_spread():
    graph = nx.relabel_nodes(nx.random_regular_graph(3, 12, seed=2), lambda v: f"n{v}")
    assert push_over(graph, seed=4) == push_over(graph, seed=4)


def test_an_unknown_origin_is_refused():
    with pytest.raises(ValueError, match="the origin 'x' is not a node"):
        push_over(nx.path_graph(["n0", "n1"]), origin="x")
