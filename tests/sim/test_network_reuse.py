"""One `Network` object, several simulations: none carries state into the next.

A reader naturally writes ``net = Network(...)`` once and builds several simulations with it;
partitions and bandwidth queues belong to a run, so they live in the `Simulation`.
"""

from __future__ import annotations

from dataclasses import dataclass

from distlab.sim import Constant, Network, Node, Simulation


@dataclass(frozen=True)
class Blob:
    size: int


class Chatty(Node):
    """Sends one 1000-byte blob to every peer when it starts; counts what arrives."""

    def on_start(self) -> None:
        self.arrivals: list[float] = []
        for peer in self.peers:
            self.send(peer, Blob(1000))

    def on_message(self, src: str, msg: Blob) -> None:
        self.arrivals.append(self.now)


def run(net: Network, partition: bool = False) -> Simulation:
    sim = Simulation(seed=1, network=net)
    sim.add_nodes(Chatty, ["a", "b", "c"])
    if partition:
        sim.partition({"a"}, {"b", "c"})
    sim.run(until=10_000)
    return sim


def test_a_partition_does_not_leak_into_the_next_simulation() -> None:
    net = Network(latency=Constant(1))
    first = run(net, partition=True)
    assert first.is_cut("a", "b") and first.trace.of_kind("drop")
    second = run(net)
    assert not second.cut_links and not second.trace.of_kind("drop")
    assert all(len(n.arrivals) == 2 for n in second.nodes.values())


def test_bandwidth_queues_do_not_leak_into_the_next_simulation() -> None:
    net = Network(latency=Constant(1), bandwidth=100)     # 1000 bytes: 10 ms on the link
    first = run(net)
    second = run(net)
    assert first.trace.dumps() == second.trace.dumps()
    assert second.nodes["b"].arrivals == [11.0, 11.0]


def test_two_simulations_on_one_network_at_once_are_independent() -> None:
    net = Network(latency=Constant(1))
    left, right = Simulation(seed=1, network=net), Simulation(seed=1, network=net)
    for sim in (left, right):
        sim.add_nodes(Chatty, ["a", "b"])
    left.cut("a", "b")
    assert left.is_cut("a", "b") and not right.is_cut("a", "b")
    left.run(until=5)
    right.run(until=5)
    assert left.nodes["b"].arrivals == [] and right.nodes["b"].arrivals == [1.0]
    left.heal()
    assert not left.cut_links


def test_the_network_keeps_only_configuration() -> None:
    net = Network(latency=Constant(1), bandwidth=100)
    before = dict(vars(net))
    run(net, partition=True)
    assert vars(net) == before
