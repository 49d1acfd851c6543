"""Gossip (epidemic) protocols: push, pull and push-pull; anti-entropy and rumour mongering.

Demers, Greene, Hauser, Irish, Larson, Shenker, Sturgis, Swinehart and Terry, "Epidemic
Algorithms for Replicated Database Maintenance" (1987), spread updates the way diseases
spread: every round each node contacts a few random others. No node needs to know the whole
cluster's state, no message is essential, and yet everyone hears an update within a number
of rounds that grows like log N.

* `AntiEntropyNode` -- *anti-entropy*: every round, every node exchanges its whole state with
  ``fanout`` random partners, forever. In ``"push"`` mode it sends what it knows; in
  ``"pull"`` mode it sends a digest and gets back what it lacks; in ``"push-pull"`` mode both.
  Reliable (it repairs anything eventually) but it costs messages every round even when
  nothing is new. Push spreads fast while few know; pull finishes fast when few do not
  (the fraction still ignorant is squared each round); push-pull has both.
* `RumourMongeringNode` -- *rumour mongering* (complex epidemics): a node pushes a *hot*
  rumour each round, and loses interest after ``k`` contacts that already knew it (Demers'
  "feedback, counter" variant). Traffic stops by itself, but a *residue* of nodes may never
  hear the rumour (about 18% with k = 1, 4% with k = 2 in the paper); anti-entropy in the
  background catches them.

`spread` runs a dissemination round by round and returns the infection curve; `rounds_to_all`
measures how many rounds everyone needs as N grows; `rumour_mongering` measures residue and
traffic. A topology (a networkx graph) restricts who may contact whom; by default the
cluster is complete.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx

from distlab.sim import Latency, Network, Node, Simulation, Uniform

MODES = ("push", "pull", "push-pull")


# -- messages --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Push:
    """The sender's state: the receiver adds it to its own."""

    rumours: frozenset[str]


@dataclass(frozen=True)
class Pull:
    """A digest of the sender's state, asking for whatever else the receiver knows."""

    known: frozenset[str]


@dataclass(frozen=True)
class PushPull:
    """The sender's state, asking for whatever else the receiver knows."""

    rumours: frozenset[str]


@dataclass(frozen=True)
class PullReply:
    """What the asker was missing."""

    rumours: frozenset[str]


@dataclass(frozen=True)
class Rumour:
    """A hot rumour, pushed by rumour mongering."""

    rumour: str


@dataclass(frozen=True)
class Feedback:
    """The reply to a `Rumour`: did the receiver already know it?"""

    rumour: str
    already_knew: bool


# -- the common part: rounds and partners ----------------------------------------------------------
class GossipNode(Node):
    """A node that acts once per round (every ``period`` ms of its clock) and talks to
    ``fanout`` partners drawn at random from its ``neighbours`` (default: all peers).

    What a node knows (``known``, a set of rumour ids) is kept in ``storage``, like a
    database on disk: it survives crashes. ``rumours`` are known from the start.
    """

    def __init__(self, fanout: int = 1, period: float = 100.0,
                 neighbours: Sequence[str] | None = None, rumours: Iterable[str] = ()):
        if not isinstance(fanout, int) or fanout < 1:
            raise ValueError(f"fanout must be a whole number >= 1, got {fanout!r}")
        self.fanout = fanout
        self.period = period
        self.neighbours = None if neighbours is None else tuple(neighbours)
        self.known: set[str] = self.storage.setdefault("known", set())
        self.known.update(rumours)

    def on_start(self) -> None:
        self.set_timer(self.period, "round")

    def partners(self) -> list[str]:
        candidates = self.peers if self.neighbours is None else self.neighbours
        return self.rng.sample(candidates, min(self.fanout, len(candidates)))

    def on_timer(self, name: str) -> None:
        match name:
            case "round":
                self.gossip_round()
                self.set_timer(self.period, "round")

    def gossip_round(self) -> None:
        raise NotImplementedError


class AntiEntropyNode(GossipNode):
    """Anti-entropy: every round, exchange state with random partners (Demers et al. 1987).

    ``mode`` is ``"push"``, ``"pull"`` or ``"push-pull"``. A node that knows nothing has
    nothing to push, so in push mode it stays silent.
    """

    def __init__(self, mode: str = "push-pull", **kwargs: Any):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        super().__init__(**kwargs)
        self.mode = mode

    def gossip_round(self) -> None:
        state = frozenset(self.known)
        for partner in self.partners():
            match self.mode:
                case "push" if state:
                    self.send(partner, Push(state))
                case "pull":
                    self.send(partner, Pull(state))
                case "push-pull":
                    self.send(partner, PushPull(state))

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Push(rumours) | PullReply(rumours):
                self.known.update(rumours)
            case Pull(known):
                self.reply_missing(src, known)
            case PushPull(rumours):
                self.reply_missing(src, rumours)
                self.known.update(rumours)

    def reply_missing(self, src: str, theirs: frozenset[str]) -> None:
        missing = frozenset(self.known - theirs)
        if missing:
            self.send(src, PullReply(missing))


class RumourMongeringNode(GossipNode):
    """Rumour mongering with feedback and a counter (Demers et al. 1987, section 1.4).

    ``hot`` maps each rumour this node still spreads to the number of partners that already
    knew it; at ``k`` such unnecessary contacts the rumour is no longer hot here ("removed").
    When no node has a hot rumour left, the traffic stops.
    """

    def __init__(self, k: int = 2, **kwargs: Any):
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a whole number >= 1, got {k!r}")
        super().__init__(**kwargs)
        self.k = k
        self.hot: dict[str, int] = {rumour: 0 for rumour in self.known}

    def gossip_round(self) -> None:
        for rumour in sorted(self.hot):
            for partner in self.partners():
                self.send(partner, Rumour(rumour))

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Rumour(rumour):
                already_knew = rumour in self.known
                if not already_knew:
                    self.known.add(rumour)
                    self.hot[rumour] = 0
                self.send(src, Feedback(rumour, already_knew))
            case Feedback(rumour, already_knew=True) if rumour in self.hot:
                self.hot[rumour] += 1
                if self.hot[rumour] >= self.k:
                    del self.hot[rumour]
            case Feedback():
                pass


# -- experiments -----------------------------------------------------------------------------------
def _topology_ids(n: int | None, topology: nx.Graph | None) -> tuple[list[str], dict[str, tuple]]:
    """Node ids and, with a topology, each node's neighbours (as strings)."""
    if topology is None:
        if not isinstance(n, int) or n < 2:
            raise ValueError(f"n must be a whole number >= 2, got {n!r}")
        return [f"n{i}" for i in range(n)], {}
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
                     rounds_to_all=rounds_to_all, messages=len(sim.trace.of_kind("send")))


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
