"""Lab 2b: vector clocks, checked against happens-before.

The checks of ``solutions/lab02b-vector-clocks.ipynb``.

Vector clocks (Fidge 1988; Mattern 1989) stamp every event of a distributed run so that the
stamps alone tell how two events are related: a happens before b exactly when V(a) < V(b)
entry by entry, and a and b are concurrent when neither is below the other. Lamport clocks
{cite:p}`lamport1978time` cannot tell concurrency apart from order; vector clocks can.

The student writes a `VectorClock` value class (part A: ``increment``, ``merge``,
``compare``) and a node that stamps its events with it (part B). This module holds the rest:
the workload, `Talker` -- nodes that talk to random neighbours at random times and pass
messages on, over random topologies with loss and duplicates -- and the checks. Every check
compares the student's answers with the ground truth computed from the run's trace
(`distlab.clocks.happens_before.HappensBefore`: process order plus message edges, no clocks
involved).

An *event* here is what a node does, as the trace records it: a timer going off (a local
event), a send, a receipt (a message delivered twice is received twice).

The checks call, on the student's class: ``VectorClock()`` (all zeros),
``VectorClock.of({"a": 2})``, ``v.increment(node)``, ``v.merge(other)``, ``v.compare(other)``
(one of ``"before"``, ``"after"``, ``"concurrent"``, ``"equal"``) and ``==``. On the
student's node (part B) they read ``stamps``: the vector timestamp of each of its events, in
the order they happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx

from distlab.clocks.happens_before import HappensBefore, vector_timestamps
from distlab.grading.lab import Lab, Scenario, graded
from distlab.grading.properties import Run, TraceProperty
from distlab.sim import Network, Node, Simulation, TraceEvent, Uniform, stream
from distlab.sim.helpers import node_ids

#: the trace events that are events of a process in this lab
KINDS = ("send", "deliver", "timer")
RELATIONS = ("before", "after", "concurrent", "equal")


# -- the workload ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Note:
    """A message of the workload: ``clock`` is the sender's timestamp (None without clocks);
    ``hops`` counts how many times the note has been passed on."""

    clock: Any
    hops: int


class Talker(Node):
    """Talks to random neighbours at random times; passes some of what it hears on.

    ``talks`` times, at random moments (a timer, "talk": a local event), it sends a `Note` to
    a random neighbour (a node it shares one of the topology's ``links`` with; by default
    any peer). On receiving a note it passes it on to a random neighbour with
    probability ``relay``, up to ``max_hops`` times, so causal chains run across the cluster.

    Three hooks let a subclass keep a clock; here they do nothing: `stamp_local` (a timer
    went off), `stamp_send` (about to send: returns the clock the note carries) and
    `stamp_receive` (a note arrived carrying ``clock``).
    """

    def __init__(self, links: Sequence[tuple[str, str]] | None = None, talks: int = 4,
                 gap: float = 40.0, relay: float = 0.6, max_hops: int = 3):
        self.neighbours = None if links is None else tuple(sorted(
            {b if a == self.id else a for a, b in links if self.id in (a, b)}))
        self.talks_left = talks
        self.gap = gap
        self.relay = relay
        self.max_hops = max_hops

    def on_start(self) -> None:
        if self.talks_left > 0:
            self.set_timer(self.rng.uniform(0, self.gap), "talk")

    def on_timer(self, name: str) -> None:
        if name != "talk":
            return
        self.stamp_local()
        self.talks_left -= 1
        self.pass_on(0)
        if self.talks_left > 0:
            self.set_timer(self.rng.expovariate(1 / self.gap), "talk")

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Note(clock, hops):
                self.stamp_receive(clock)
                if hops < self.max_hops and self.rng.random() < self.relay:
                    self.pass_on(hops + 1)

    def pass_on(self, hops: int) -> None:
        neighbour = self.rng.choice(self.neighbours or self.peers)
        self.send(neighbour, Note(self.stamp_send(), hops))

    # -- the hooks of a node that keeps a clock ---------------------------------------------
    def stamp_local(self) -> None:
        """A local event happened (the "talk" timer went off)."""

    def stamp_send(self) -> Any:
        """A send is about to happen: return the clock the message carries."""
        return None

    def stamp_receive(self, clock: Any) -> None:
        """A message carrying ``clock`` was received."""


def random_topology(seed: int, low: int = 3, high: int = 7) -> nx.Graph:
    """A random connected graph of ``low`` to ``high`` nodes named n0, n1...

    A random tree (each node joins a random earlier one) plus each other edge with
    probability 0.2.
    """
    rng = stream(seed, "lab2b-topology")
    n = rng.randint(low, high)
    ids = node_ids(n)
    graph = nx.Graph()
    graph.add_nodes_from(ids)
    for i in range(1, n):
        graph.add_edge(ids[i], ids[rng.randrange(i)])
    for i in range(n):
        for j in range(i + 1, n):
            if rng.random() < 0.2:
                graph.add_edge(ids[i], ids[j])
    return graph


def line_topology(n: int = 5) -> nx.Graph:
    """n0 - n1 - ... - n(n-1): every causal chain passes through the middle."""
    return nx.path_graph(node_ids(n))


# -- the ground truth, and how to explain it ---------------------------------------------------

class Truth:
    """What really happened in a run: its events, happens-before, and the true timestamps."""

    def __init__(self, sim: Simulation):
        self.trace = sim.trace
        self.order = HappensBefore(sim.trace, kinds=KINDS)
        self.events = self.order.events   # trace positions, in order
        self.stamps = vector_timestamps(sim.trace, kinds=KINDS)   # the library's clocks
        self.of_node: dict[str, list[int]] = {}
        for position in self.events:
            self.of_node.setdefault(self.trace[position].node, []).append(position)
        self.number = {position: k for events in self.of_node.values()
                       for k, position in enumerate(events, start=1)}
        self.send_of: dict[int, int] = {}
        for position in self.events:
            event = self.trace[position]
            if event.kind == "send":
                self.send_of[event.msg_id] = position

    def clock(self, cls: type, position: int) -> Any:
        """The true timestamp of the event at ``position``, as an object of class ``cls``."""
        return cls.of(self.stamps[position].as_dict())

    def describe(self, position: int) -> str:
        """"b's event 3 (receives from a at t=12.5 ms)"."""
        event: TraceEvent = self.trace[position]
        match event.kind:
            case "send":
                what = f"sends to {event.peer}"
            case "deliver":
                what = f"receives from {event.peer}"
            case _:
                what = "a timer goes off"
        return f"{event.node}'s event {self.number[position]} ({what} at t={event.time:.1f} ms)"

    def path(self, a: int, b: int, most: int = 6) -> str:
        """The chain of events by which ``a`` happens before ``b``, in words."""
        steps = nx.shortest_path(self.order.graph, a, b)
        shown = [self.describe(p) for p in steps]
        if len(shown) > most:
            shown = shown[:most // 2] + ["..."] + shown[-(most // 2):]
        return " -> ".join(shown)

    def explain(self, a: int, b: int) -> str:
        """Why ``a`` and ``b`` are related as they are."""
        match self.order.relation(a, b):
            case "before":
                return f"the first happens before the second: {self.path(a, b)}"
            case "after":
                return f"the second happens before the first: {self.path(b, a)}"
            case "equal":
                return "it is the same event"
        return "neither happens before the other: no chain of messages links them"


# -- what must hold ----------------------------------------------------------------------------

class ClockProperty(TraceProperty):
    """Judged once the run is over, against the `Truth` of its trace.

    It calls the student's clock class, so it is judged in the run's own process.
    """

    calls_student_code = True

    def __init__(self, clock_class: type):
        self.clock_class = clock_class

    def judge(self, run: Run) -> str | None:
        return self.judge_clocks(Truth(run.sim))

    def judge_clocks(self, truth: Truth) -> str | None:
        """None if the student's clock class agrees with ``truth``, else what is wrong."""
        raise NotImplementedError


class IncrementsRight(ClockProperty):
    """After a local event or a send, a node's clock is its previous one with its own entry
    plus one."""

    description = "increment gives the timestamp of a node's next local event or send"

    def judge_clocks(self, truth: Truth) -> str | None:
        cls = self.clock_class
        for node, events in truth.of_node.items():
            previous = cls()
            for position in events:
                expected = truth.clock(cls, position)
                if truth.trace[position].kind != "deliver":
                    got = previous.increment(node)
                    if got != expected:
                        return (f"before {truth.describe(position)}, {node}'s clock is "
                                f"{previous!r}; {previous!r}.increment({node!r}) "
                                f"returned {got!r}, but the event's timestamp is "
                                f"{expected!r}")
                previous = expected
        return None


class MergesRight(ClockProperty):
    """On a receipt, the new clock is the merge of the node's clock and the message's,
    incremented."""

    description = ("merge, then increment, gives the timestamp of a receipt")

    def judge_clocks(self, truth: Truth) -> str | None:
        cls = self.clock_class
        for node, events in truth.of_node.items():
            previous = cls()
            for position in events:
                event = truth.trace[position]
                expected = truth.clock(cls, position)
                if event.kind == "deliver":
                    carried = truth.clock(cls, truth.send_of[event.msg_id])
                    merged = previous.merge(carried)
                    got = merged.increment(node)
                    if got != expected:
                        return (f"at {truth.describe(position)}, {node}'s clock is "
                                f"{previous!r} and the message carries "
                                f"{carried!r}; merge gives {merged!r}, and "
                                f"increment({node!r}) then {got!r}, but the receipt's "
                                f"timestamp is {expected!r}")
                previous = expected
        return None


def first_wrong_pair(truth: Truth, stamp_of: dict[int, Any]) -> str | None:
    """Compare the stamps of every pair of events with happens-before; explain the first
    pair they get wrong (None if every pair is right)."""
    events = truth.events
    for i, a in enumerate(events):
        for b in events[i:]:
            said = stamp_of[a].compare(stamp_of[b])
            true = truth.order.relation(a, b)
            if said != true:
                hint = "" if said in RELATIONS else f" (compare must return one of {RELATIONS})"
                return (f"{truth.describe(a)} is stamped {stamp_of[a]!r} and "
                        f"{truth.describe(b)} is stamped {stamp_of[b]!r}; compare says "
                        f"{said!r}{hint}, but the truth is {true!r}: {truth.explain(a, b)}")
    return None


class ComparesRight(ClockProperty):
    """For every pair of events a, b: V(a).compare(V(b)) is how a and b are really related."""

    description = "compare tells before, after, concurrent and equal apart, for every pair"

    def judge_clocks(self, truth: Truth) -> str | None:
        stamp_of = {p: truth.clock(self.clock_class, p) for p in truth.events}
        return first_wrong_pair(truth, stamp_of)


class StampsMatchHappensBefore(TraceProperty):
    """The nodes' own stamps tell, for every pair of events, how they are really related."""

    description = "your nodes' stamps order every pair of events as happens-before does"
    calls_student_code = True  # the stamps are the student's clocks: compare is theirs

    def judge(self, run: Run) -> str | None:
        sim, truth = run.sim, Truth(run.sim)
        stamp_of = {}
        for node, events in truth.of_node.items():
            stamps = list(sim.nodes[node].stamps)
            if len(stamps) != len(events):
                kinds = [truth.trace[p].kind for p in events]
                return (f"{node} had {len(events)} events ({kinds.count('timer')} timers, "
                        f"{kinds.count('send')} sends, {kinds.count('deliver')} receipts) but "
                        f"recorded {len(stamps)} stamps: append one to stamps for every event")
            stamp_of.update(zip(events, stamps))
        return first_wrong_pair(truth, stamp_of)


# -- the lab -----------------------------------------------------------------------------------

class VectorClockLab(Lab):
    """The checks of lab 2b, for the student's ``VectorClock`` class and stamping node."""

    title = "Lab 2b: vector clocks"

    def __init__(self, clock_class: type, node: type[Node]):
        self.clock_class = clock_class
        self.node = node

    def scenario(self, node: type[Node], topology: nx.Graph, network: Network,
                 properties: Sequence[TraceProperty]) -> Scenario:
        """Nodes of class ``node`` talking over ``topology``, judged by ``properties``."""

        def setup(sim: Simulation) -> None:
            sim.add_nodes(node, sorted(topology.nodes), links=tuple(sorted(topology.edges)))

        return Scenario(setup, run_for=1_000, network=network, properties=properties)

    def unreliable(self) -> Network:
        return Network(latency=Uniform(1, 20), loss=0.1, duplicate=0.1)

    # -- part A: the clock ---------------------------------------------------------------------
    @graded(part="A", seeds=20, description="random topologies, some messages lost or "
            "duplicated: increment is right")
    def test_increment_A(self, seed: int) -> Scenario:
        return self.scenario(Talker, random_topology(seed), self.unreliable(),
                             [IncrementsRight(self.clock_class)])

    @graded(part="A", seeds=20, description="random topologies, some messages lost or "
            "duplicated: merge is right")
    def test_merge_A(self, seed: int) -> Scenario:
        return self.scenario(Talker, random_topology(seed), self.unreliable(),
                             [MergesRight(self.clock_class)])

    @graded(part="A", seeds=20, description="random topologies, some messages lost or "
            "duplicated: compare classifies every pair of events")
    def test_compare_A(self, seed: int) -> Scenario:
        return self.scenario(Talker, random_topology(seed), self.unreliable(),
                             [ComparesRight(self.clock_class)])

    # -- part B: a node that stamps its events ---------------------------------------------------
    @graded(part="B", seeds=20, description="five nodes in a line, reliable network: long "
            "causal chains")
    def test_line_B(self, seed: int) -> Scenario:
        return self.scenario(self.node, line_topology(), Network(latency=Uniform(1, 20)),
                             [StampsMatchHappensBefore()])

    @graded(part="B", seeds=20, description="random topologies, 20% of messages lost")
    def test_random_topologies_B(self, seed: int) -> Scenario:
        return self.scenario(self.node, random_topology(seed),
                             Network(latency=Uniform(1, 20), loss=0.2),
                             [StampsMatchHappensBefore()])

    @graded(part="B", seeds=20, description="random topologies, messages duplicated and "
            "overtaking each other")
    def test_duplicates_and_reordering_B(self, seed: int) -> Scenario:
        return self.scenario(self.node, random_topology(seed),
                             Network(latency=Uniform(1, 20), loss=0.1, duplicate=0.3,
                                     reorder=0.3),
                             [StampsMatchHappensBefore()])
