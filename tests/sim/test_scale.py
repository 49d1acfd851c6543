"""Tests of what lets the simulator hold 100,000 nodes: shared peer views and lazy streams.

Every node's ``peers`` is a view of the simulation's one sorted list of servers (not a tuple
of its own, which made memory grow as N squared), and ``rng`` is made on first use. These
tests guard both, and the cost of an idle node.
"""

from __future__ import annotations

import copy
import pickle
import random
import tracemalloc

import pytest

from distlab.sim import Client, ConfigurationError, Node, Simulation
from distlab.sim.node import StreamToBe
from distlab.sim.peers import Peers
from distlab.sim.simulation import SHARED_PEERS_FROM, stream


class Idle(Node):
    """Does nothing."""


@pytest.fixture
def views(monkeypatch):
    """Every node's peers a shared view, however small the cluster."""
    monkeypatch.setattr("distlab.sim.simulation.SHARED_PEERS_FROM", 0)


def cluster(*ids: str) -> Simulation:
    sim = Simulation(seed=1)
    sim.add_nodes(Idle, ids)
    return sim


def test_a_small_cluster_has_tuples_a_large_one_views_of_one_list():
    sim = cluster(*(f"n{i:02}" for i in range(SHARED_PEERS_FROM)))
    node = sim.nodes["n00"]
    assert type(node.peers) is tuple and len(node.peers) == SHARED_PEERS_FROM - 1
    sim.add_node(Idle, "n99")                       # one more server: views from now on
    assert type(node.peers) is Peers and node.peers._servers is sim.nodes["n99"].peers._servers
    assert node.peers[-1] == "n99" and len(node.peers) == SHARED_PEERS_FROM
    sim.crash("n00")
    sim.restart("n00")
    assert type(sim.nodes["n00"].peers) is Peers


def test_every_node_sees_the_others_sorted_as_a_tuple_would(views):
    sim = cluster("c", "a", "b")
    assert sim.nodes["a"].peers == ("b", "c")
    assert sim.nodes["b"].peers == ("a", "c")
    assert repr(sim.nodes["c"].peers) == "('a', 'b')"
    peers = sim.nodes["b"].peers
    assert len(peers) == 2 and list(peers) == ["a", "c"]
    assert (peers[0], peers[1], peers[-1], peers[-2]) == ("a", "c", "c", "a")
    assert peers[:1] == ("a",) and peers[::-1] == ("c", "a")
    assert "a" in peers and "b" not in peers and "z" not in peers and 3 not in peers
    assert peers + ("z",) == ("a", "c", "z") and ("z",) + peers == ("z", "a", "c")
    assert hash(peers) == hash(("a", "c")) and peers.index("c") == 1
    with pytest.raises(IndexError):
        peers[2]
    with pytest.raises(TypeError, match="integers or slices"):
        peers["a"]


def test_all_views_share_one_list_and_see_nodes_added_later(views):
    sim = cluster("a", "b")
    a, b = sim.nodes["a"], sim.nodes["b"]
    assert a.peers._servers is b.peers._servers
    sim.add_node(Idle, "c")
    client = sim.add_node(Client, "me")
    assert a.peers == ("b", "c") and b.peers == ("a", "c")
    assert client.peers == ("a", "b", "c")          # a client sees every server...
    assert "me" not in a.peers                      # ...and no server sees a client


def test_a_random_peer_is_drawn_as_from_the_tuple(views):
    sim = cluster(*"abcdefg")
    node = sim.nodes["d"]
    mine, theirs = random.Random(5), random.Random(5)
    assert [mine.choice(node.peers) for _ in range(50)] == \
        [theirs.choice(tuple(node.peers)) for _ in range(50)]
    assert random.Random(2).sample(node.peers, 3) == random.Random(2).sample(
        tuple(node.peers), 3)


def test_a_copy_of_a_view_is_a_plain_tuple(views):
    peers = cluster("a", "b", "c").nodes["a"].peers
    assert pickle.loads(pickle.dumps(peers)) == ("b", "c")
    assert type(copy.deepcopy(peers)) is tuple


def test_a_nodes_stream_is_made_when_first_used_and_draws_as_before():
    sim = cluster("a", "b")
    node = sim.nodes["a"]
    assert type(vars(node)["rng"]) is StreamToBe    # an idle node has not paid for it
    expected = stream(1, "node", "a", 0)
    assert [node.rng.random() for _ in range(3)] == [expected.random() for _ in range(3)]
    assert vars(node)["rng"] is node.rng            # made once, then an attribute
    sim.crash("a")
    sim.restart("a")
    assert sim.nodes["a"].rng.random() == stream(1, "node", "a", 1).random()


def test_a_stand_in_kept_by_node_code_draws_from_the_one_stream():
    class Keeper(Node):
        def __init__(self):
            self.early = self.rng  # the stand-in: the stream is not made yet

    sim = Simulation(seed=1)
    node = sim.add_node(Keeper, "a")
    expected = stream(1, "node", "a", 0)
    draws = [node.early.random(), node.rng.random(), node.early.random()]
    assert draws == [expected.random() for _ in range(3)]
    assert type(node.rng) is not StreamToBe and copy.deepcopy(node.early) is not None


def test_node_has_no_class_attribute_rng():
    # With one (a descriptor making the stream lazily), Python 3.11 does not specialise
    # ``self.rng`` into a quick read of the node's own attribute: every draw (behind most
    # sends) took the interpreter's slow, generic path (see README, "Benchmarks").
    assert not hasattr(Node, "rng")


def test_a_node_that_replaces_its_stream_is_still_refused():
    class OwnRandom(Node):
        def __init__(self):
            self.rng = random.Random(3)

    with pytest.raises(ConfigurationError, match="replaces self.rng"):
        Simulation().add_node(OwnRandom, "a")


def test_an_idle_node_costs_at_most_about_one_kilobyte():
    n = 20_000
    ids = [f"n{i}" for i in range(n)]
    sim = Simulation(seed=1)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        sim.add_nodes(Idle, ids)
        per_node = (tracemalloc.get_traced_memory()[0] - before) / n
    finally:
        tracemalloc.stop()
    assert per_node < 1_100, f"an idle node costs {per_node:.0f} bytes"


class Ticker(Node):
    """Pings a random peer every 10 ms, and notes every tenth ping it hears."""

    def on_start(self) -> None:
        self.heard = 0
        self.set_timer(10, "tick")

    def on_timer(self, name: str) -> None:
        self.send(self.rng.choice(self.peers), "ping")
        self.set_timer(10, "tick")

    def on_message(self, src: str, msg: str) -> None:
        self.heard += 1
        if self.heard % 10 == 0:
            self.note("heard", count=self.heard)


def ticking(trace: bool | str = True, in_memory: int | None = None) -> Simulation:
    sim = Simulation(seed=4, trace=trace)
    if in_memory is not None:
        sim.trace.in_memory = in_memory
    sim.add_nodes(Ticker, ["a", "b", "c", "d"])
    sim.run(until=30_000)                      # about 24,000 events: over two GC batches
    return sim


def test_a_trace_written_to_a_file_reads_back_as_the_one_in_memory():
    whole, spilled = ticking(), ticking(in_memory=5_000)
    assert spilled.trace._chunks                  # the oldest events went to the file
    assert len(spilled.trace._events) < len(whole.trace._events)
    assert spilled.trace.dumps() == whole.trace.dumps()
    assert len(spilled.trace) == len(whole.trace)
    assert spilled.trace.counts() == whole.trace.counts()
    for i in (0, 1, 4_999, 5_000, 12_345, -1):
        assert spilled.trace[i] == whole.trace[i]
    assert spilled.trace[9_990:10_010] == whole.trace[9_990:10_010]
    assert spilled.trace.of_kind("note") == whole.trace.of_kind("note")
    assert spilled.trace.format(last=5) == whole.trace.format(last=5)


def test_a_summary_keeps_counts_notes_and_the_last_events_only():
    whole, summary = ticking(), ticking(trace="summary", in_memory=5_000)
    assert summary.trace.counts() == whole.trace.counts()
    assert summary.trace.notes() == whole.trace.of_kind("note")
    assert summary.trace.last_events(100) == whole.trace[-100:]
    assert len(summary.trace._events) < len(whole.trace._events)
    assert len(summary.trace) == len(whole.trace)
    with pytest.raises(ValueError, match="keeps a summary only"):
        list(summary.trace)
    with pytest.raises(ConfigurationError, match="'summary'"):
        Simulation(trace="short")
