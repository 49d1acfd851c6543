"""Experiments on gossip (`distlab.gossip.epidemic`), after Demers et al. (1987).

`spread` runs a dissemination round by round and returns the infection curve; `rounds_to_all`
measures how many rounds everyone needs as N grows, against `log_bound`; `rumour_mongering`
measures residue and traffic. A topology (a networkx graph) restricts who may contact whom; by
default the cluster is complete.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx

from distlab.gossip.epidemic import AntiEntropyNode, Rumour, RumourMongeringNode
from distlab.sim import Latency, Network, Simulation, Uniform
from distlab.sim.helpers import node_ids


# -- experiments ----------------------------------------------------------------------------------
def _topology_ids(n: int | None, topology: nx.Graph | None) -> tuple[list[str], dict[str, tuple]]:
    """Node ids and, with a topology, each node's neighbours (as strings)."""
    if topology is None:
        if not isinstance(n, int) or n < 2:
            raise ValueError(f"n must be a whole number >= 2, got {n!r}")
        return node_ids(n), {}
    ids = [str(v) for v in topology.nodes]
    if len(set(ids)) != len(ids):
        raise ValueError("the topology's node labels must stay distinct as strings")
    if not nx.is_connected(topology):
        raise ValueError("the topology is not connected: a rumour cannot reach every node")
    return ids, {str(v): tuple(sorted(str(u) for u in topology[v])) for v in topology.nodes}


@dataclass(frozen=True)
class GossipRun:
    """One dissemination, observed at the middle of every round.

    ``informed[r]`` is the set of nodes that knew the rumour after round ``r`` (round 0: the
    start); ``curve`` their numbers; ``rounds_to_all`` the first round after which every live
    node knew it (None if that did not happen); ``messages`` the messages sent until then
    (or until the end).
    """

    mode: str
    n: int
    informed: tuple[frozenset[str], ...]
    rounds_to_all: int | None
    messages: int

    @property
    def curve(self) -> list[int]:
        return [len(s) for s in self.informed]


def spread(n: int | None = 32, *, mode: str = "push-pull", fanout: int = 1,
           topology: nx.Graph | None = None, seed: int = 0, loss: float = 0.0,
           latency: Latency | float = Uniform(1, 10), period: float = 100.0,
           max_rounds: int = 200, down: Iterable[str] = (), origin: str | None = None,
           rumour: str = "rumour") -> GossipRun:
    """Spread one rumour from ``origin`` by anti-entropy in ``mode``, round by round.

    The state is read halfway through each round, so a message must arrive within a quarter
    round (a pull is a request and a reply): keep latencies below ``period / 4``. ``down``
    lists nodes that are crashed from the start; they do not count in "everyone".
    """
    ids, neighbours = _topology_ids(n, topology)
    origin = ids[0] if origin is None else origin
    sim = Simulation(seed=seed, network=Network(latency=latency, loss=loss))
    for node_id in ids:
        sim.add_node(AntiEntropyNode, node_id, mode=mode, fanout=fanout, period=period,
                     neighbours=neighbours.get(node_id),
                     rumours=(rumour,) if node_id == origin else ())
    for node_id in down:
        sim.crash(node_id)
    live = [i for i in ids if sim.is_up(i)]
    return _observe(sim, mode, live, rumour, period, max_rounds)


def _observe(sim: Simulation, mode: str, live: list[str], rumour: str, period: float,
             max_rounds: int) -> GossipRun:
    def informed() -> frozenset[str]:
        return frozenset(i for i in live if rumour in sim.nodes[i].known)

    history = [informed()]
    rounds_to_all = None
    for r in range(1, max_rounds + 1):
        sim.run(until=r * period + period / 2)
        history.append(informed())
        if len(history[-1]) == len(live):
            rounds_to_all = r
            break
    return GossipRun(mode=mode, n=len(live), informed=tuple(history),
                     rounds_to_all=rounds_to_all, messages=sim.trace.counts().get("send", 0))


def rounds_to_all(ns: Iterable[int], *, mode: str = "push-pull", seeds: Iterable[int] = range(20),
                  fanout: int = 1, loss: float = 0.0) -> dict[int, float]:
    """The mean number of rounds until everyone knows, for each cluster size in ``ns``.

    Each ``spread`` that fails to reach everyone within its round limit raises, since a mean
    over partial runs would mislead.
    """
    seeds = list(seeds)
    means = {}
    for n in ns:
        rounds = []
        for seed in seeds:
            run = spread(n, mode=mode, seed=seed, fanout=fanout, loss=loss)
            if run.rounds_to_all is None:
                raise RuntimeError(f"spread(n={n}, mode={mode!r}, seed={seed}) did not reach "
                                   f"everyone within {len(run.informed) - 1} rounds")
            rounds.append(run.rounds_to_all)
        means[n] = statistics.mean(rounds)
    return means


def log_bound(n: int, factor: float = 3.0) -> float:
    """``factor * log2(n)``: a loose bound on the rounds a complete-graph gossip needs."""
    return factor * math.log2(n)


@dataclass(frozen=True)
class MongeringRun:
    """One run of rumour mongering until no node has a hot rumour left."""

    n: int
    k: int
    residue: float     # fraction of live nodes that never heard the rumour
    traffic: float     # Rumour messages sent per node (Demers' m)
    messages: int      # every message sent (Rumour and Feedback)
    rounds: int        # rounds until the rumour was cold everywhere


def rumour_mongering(n: int | None = 100, *, k: int = 2, fanout: int = 1,
                     topology: nx.Graph | None = None, seed: int = 0, loss: float = 0.0,
                     latency: Latency | float = Uniform(1, 10), period: float = 100.0,
                     max_rounds: int = 1_000, rumour: str = "rumour") -> MongeringRun:
    """Spread one rumour from the first node by rumour mongering until it dies out."""
    ids, neighbours = _topology_ids(n, topology)
    sim = Simulation(seed=seed, network=Network(latency=latency, loss=loss))
    for node_id in ids:
        sim.add_node(RumourMongeringNode, node_id, k=k, fanout=fanout, period=period,
                     neighbours=neighbours.get(node_id),
                     rumours=(rumour,) if node_id == ids[0] else ())
    rounds = 0
    while any(sim.nodes[i].hot for i in ids):
        rounds += 1
        if rounds > max_rounds:
            raise RuntimeError(f"the rumour was still hot after {max_rounds} rounds")
        sim.run(until=rounds * period + period / 2)
    ignorant = sum(1 for i in ids if rumour not in sim.nodes[i].known)
    sends = sim.trace.of_kind("send")
    return MongeringRun(n=len(ids), k=k, residue=ignorant / len(ids),
                        traffic=sum(1 for e in sends if isinstance(e.data, Rumour)) / len(ids),
                        messages=len(sends), rounds=rounds)


# -- who told whom ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Spread:
    """A rumour's path over a topology: the round after which each node knew it (0 for the
    origin), and who first told each other node (for `distlab.viz.spreading.animate_spread`)."""

    rounds: int
    informed_at: dict[str, int]
    told_by: dict[str, str]

    def per_round(self) -> list[int]:
        """How many nodes learnt the rumour in each round, from round 0 (the origin)."""
        counts = Counter(self.informed_at.values())
        return [counts[k] for k in range(self.rounds + 1)]


def push_over(topology: nx.Graph, *, seed: int = 0, origin: str = "n0",
              latency: Latency | float = Uniform(1, 10), max_rounds: int = 1_000) -> Spread:
    """Push gossip of one rumour from ``origin`` over ``topology`` (nodes named by strings),
    observed at the middle of every round until everyone knows."""
    if origin not in topology:
        raise ValueError(f"the origin {origin!r} is not a node of the topology")
    rumour = "rumour"
    sim = Simulation(seed=seed, network=Network(latency=latency))
    for node in topology:
        sim.add_node(AntiEntropyNode, node, mode="push", neighbours=sorted(topology[node]),
                     rumours=(rumour,) if node == origin else ())
    period = sim.nodes[origin].period
    informed_at = {origin: 0}
    r = 0
    while len(informed_at) < len(topology):
        r += 1
        if r > max_rounds:
            raise RuntimeError(f"the rumour had not reached every node after {max_rounds} "
                               f"rounds (seed={seed}): is the topology connected?")
        sim.run(until=period * r + period / 2)
        for node in topology:
            if node not in informed_at and rumour in sim.nodes[node].known:
                informed_at[node] = r
    told_by: dict[str, str] = {}
    for e in sim.trace.of_kind("deliver"):
        if e.node not in told_by and rumour in getattr(e.data, "rumours", ()):
            told_by[e.node] = e.peer
    return Spread(r, informed_at, told_by)
