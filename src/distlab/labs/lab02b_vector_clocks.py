"""Lab 2b: vector clocks, checked against happens-before.

The checks of the notebook ``lab02b-vector-clocks.ipynb``.

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
(one of ``"before"``, ``"after"``, ``"concurrent"``, ``"equal"``). On the student's node
(part B) they read ``stamps``: the vector timestamp of each of its events, in the order they
happened. They call these in the run's process and send the answers to the grader as data --
a clock as its ``entries``, a comparison as its word -- where they are compared with the
truth: the student's ``==`` never decides.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx

from distlab.clocks.happens_before import HappensBefore, vector_timestamps
from distlab.grading.lab import Lab, Scenario, graded
from distlab.grading.properties import AsksStudentCode, Run, TraceProperty
from distlab.grading.records import MalformedRecord
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

def clock_entries(clock: Any) -> Any:
    """In the run's process: a student's clock as plain data, its ``entries`` pairs.

    A clock whose ``entries`` are not a tuple of ``(node, count)`` pairs is sent as it is:
    it crosses to the grader as a stand-in that shows its repr, and equals no clock.
    """
    entries = getattr(clock, "entries", None)
    return entries if is_entries(entries) else clock


def is_entries(value: Any) -> bool:
    """Whether ``value`` is a tuple of ``(node, count)`` pairs (a node a str, a count an int)."""
    return type(value) is tuple and all(
        type(pair) is tuple and len(pair) == 2 and type(pair[0]) is str
        and type(pair[1]) is int for pair in value)


def canonical(counts: dict[str, int]) -> tuple[tuple[str, int], ...]:
    """The entries of the clock with these counts, as ``VectorClock.of`` builds them."""
    return tuple(sorted((node, n) for node, n in counts.items() if n != 0))


def shown(clock: Any) -> str:
    """A clock as a report shows it: ``VectorClock.of({'a': 2})``, or the stand-in's repr."""
    return f"VectorClock.of({dict(clock)})" if is_entries(clock) else repr(clock)


def differs(got: Any, expected: tuple[tuple[str, int], ...]) -> str | None:
    """None if the clock ``got`` (its entries, from the run) is ``expected``; else a hint
    (an empty one when the counts simply differ)."""
    if got == expected:
        return None
    if not is_entries(got):
        return " (not a VectorClock: its entries are not (node, count) pairs)"
    if dict(got) == dict(expected):
        return (" (the same counts, but its entries are not sorted by node without zeros: "
                "build clocks with VectorClock.of)")
    return ""


class ClockProperty(AsksStudentCode):
    """Judged once the run is over, against the `Truth` of its trace.

    It puts questions to the student's clock class in the run's process (`ask`): the inputs
    are true timestamps of the run's events, and the answers come back as plain data
    (`clock_entries`). The grader judges the answers against its own `Truth` of the recorded
    trace (`judge_answers`): the student's code never decides the verdict.
    """

    def __init__(self, clock_class: type):
        self.clock_class = clock_class

    def ask(self, sim: Simulation) -> list[Any]:
        return self.questions(Truth(sim))

    def judge_answers(self, run: Run, answers: Any) -> str | None:
        truth = Truth(run.sim)
        return self.judge_clocks(truth, self.expect(answers, list, self.count(truth)))

    def questions(self, truth: Truth) -> list[Any]:
        """In the run's process: the student's answers for the run whose truth is ``truth``."""
        raise NotImplementedError

    def count(self, truth: Truth) -> int:
        """How many answers `questions` gives for ``truth``."""
        raise NotImplementedError

    def judge_clocks(self, truth: Truth, answers: list[Any]) -> str | None:
        """None if the answers agree with ``truth``, else what is wrong."""
        raise NotImplementedError


def local_steps(truth: Truth) -> Iterator[tuple[str, dict[str, int], int]]:
    """Each local event or send: its node, the node's clock before it, and its position."""
    for node, events in truth.of_node.items():
        previous: dict[str, int] = {}
        for position in events:
            if truth.trace[position].kind != "deliver":
                yield node, previous, position
            previous = truth.stamps[position].as_dict()


def receipts(truth: Truth) -> Iterator[tuple[str, dict[str, int], dict[str, int], int]]:
    """Each receipt: its node, the node's clock before it, the clock the message carried,
    and its position."""
    for node, events in truth.of_node.items():
        previous: dict[str, int] = {}
        for position in events:
            event = truth.trace[position]
            if event.kind == "deliver":
                yield (node, previous, truth.stamps[truth.send_of[event.msg_id]].as_dict(),
                       position)
            previous = truth.stamps[position].as_dict()


class IncrementsRight(ClockProperty):
    """After a local event or a send, a node's clock is its previous one with its own entry
    plus one."""

    description = "increment gives the timestamp of a node's next local event or send"

    def questions(self, truth: Truth) -> list[Any]:
        cls = self.clock_class
        return [clock_entries(cls.of(previous).increment(node))
                for node, previous, _ in local_steps(truth)]

    def count(self, truth: Truth) -> int:
        return sum(1 for _ in local_steps(truth))

    def judge_clocks(self, truth: Truth, answers: list[Any]) -> str | None:
        for (node, previous, position), got in zip(local_steps(truth), answers):
            expected = canonical(truth.stamps[position].as_dict())
            hint = differs(got, expected)
            if hint is not None:
                before = shown(canonical(previous))
                return (f"before {truth.describe(position)}, {node}'s clock is {before}; "
                        f"{before}.increment({node!r}) returned {shown(got)}{hint}, but the "
                        f"event's timestamp is {shown(expected)}")
        return None


class MergesRight(ClockProperty):
    """On a receipt, the new clock is the merge of the node's clock and the message's,
    incremented."""

    description = ("merge, then increment, gives the timestamp of a receipt")

    def questions(self, truth: Truth) -> list[Any]:
        cls = self.clock_class
        answers = []
        for node, previous, carried, _ in receipts(truth):
            merged = cls.of(previous).merge(cls.of(carried))
            answers.append((clock_entries(merged), clock_entries(merged.increment(node))))
        return answers

    def count(self, truth: Truth) -> int:
        return sum(1 for _ in receipts(truth))

    def judge_clocks(self, truth: Truth, answers: list[Any]) -> str | None:
        for (node, previous, carried, position), answer in zip(receipts(truth), answers):
            merged, got = self.expect(answer, tuple, 2)
            expected = canonical(truth.stamps[position].as_dict())
            hint = differs(got, expected)
            if hint is not None:
                return (f"at {truth.describe(position)}, {node}'s clock is "
                        f"{shown(canonical(previous))} and the message carries "
                        f"{shown(canonical(carried))}; merge gives {shown(merged)}, and "
                        f"increment({node!r}) then {shown(got)}{hint}, but the receipt's "
                        f"timestamp is {shown(expected)}")
        return None


def pairs(truth: Truth) -> Iterator[tuple[int, int]]:
    """The pairs of events whose relation ``compare`` must tell: every pair (a, b), a no
    later than b in the trace; then, so that "after" is asked about too, every step of
    happens-before backwards (from an event to the one just before it on its node, and from
    a receipt to its send)."""
    events = truth.events
    for i, a in enumerate(events):
        for b in events[i:]:
            yield a, b
    for a, b in sorted(truth.order.graph.edges):
        yield b, a


def pair_count(truth: Truth) -> int:
    """How many pairs `pairs` gives."""
    n = len(truth.events)
    return n * (n + 1) // 2 + truth.order.graph.number_of_edges()


def comparisons(stamp_of: dict[int, Any], truth: Truth) -> list[Any]:
    """In the run's process: what the student's ``compare`` says of every pair's stamps."""
    return [stamp_of[a].compare(stamp_of[b]) for a, b in pairs(truth)]


def first_wrong_pair(truth: Truth, stamps: dict[int, Any], said: list[Any]) -> str | None:
    """Compare what ``compare`` ``said`` of every pair of events (stamped ``stamps``, as
    plain data) with happens-before; explain the first pair it gets wrong (None if every
    pair is right)."""
    for (a, b), relation in zip(pairs(truth), said):
        true = truth.order.relation(a, b)
        if relation != true:
            hint = "" if relation in RELATIONS else f" (compare must return one of {RELATIONS})"
            return (f"{truth.describe(a)} is stamped {shown(stamps[a])} and "
                    f"{truth.describe(b)} is stamped {shown(stamps[b])}; compare says "
                    f"{relation!r}{hint}, but the truth is {true!r}: {truth.explain(a, b)}")
    return None


class ComparesRight(ClockProperty):
    """For every pair of events a, b: V(a).compare(V(b)) is how a and b are really related."""

    description = "compare tells before, after, concurrent and equal apart, for every pair"

    def questions(self, truth: Truth) -> list[Any]:
        stamp_of = {p: truth.clock(self.clock_class, p) for p in truth.events}
        return comparisons(stamp_of, truth)

    def count(self, truth: Truth) -> int:
        return pair_count(truth)

    def judge_clocks(self, truth: Truth, answers: list[Any]) -> str | None:
        stamps = {p: canonical(truth.stamps[p].as_dict()) for p in truth.events}
        return first_wrong_pair(truth, stamps, answers)


class StampsMatchHappensBefore(AsksStudentCode):
    """The nodes' own stamps tell, for every pair of events, how they are really related.

    The stamps are the student's clocks, and ``compare`` is theirs: the run's process sends
    how many stamps each node kept, the stamps as data, and what ``compare`` said of every
    pair; the grader judges them against the recorded trace.
    """

    description = "your nodes' stamps order every pair of events as happens-before does"

    def ask(self, sim: Simulation) -> dict[str, Any]:
        truth = Truth(sim)
        stamps = {node: list(sim.nodes[node].stamps) for node in truth.of_node}
        counts = {node: len(kept) for node, kept in stamps.items()}
        if any(counts[node] != len(events) for node, events in truth.of_node.items()):
            return {"counts": counts}
        stamp_of = {p: stamp for node, events in truth.of_node.items()
                    for p, stamp in zip(events, stamps[node])}
        return {"counts": counts,
                "stamps": {p: clock_entries(stamp) for p, stamp in stamp_of.items()},
                "said": comparisons(stamp_of, truth)}

    def judge_answers(self, run: Run, answers: Any) -> str | None:
        truth = Truth(run.sim)
        counts = self.expect(self.expect(answers, dict).get("counts"), dict)
        for node, events in truth.of_node.items():
            kept = counts.get(node)
            if kept != len(events):
                kinds = [truth.trace[p].kind for p in events]
                return (f"{node} had {len(events)} events ({kinds.count('timer')} timers, "
                        f"{kinds.count('send')} sends, {kinds.count('deliver')} receipts) but "
                        f"recorded {kept} stamps: append one to stamps for every event")
        stamps = self.expect(answers.get("stamps"), dict, len(truth.events))
        if set(stamps) != set(truth.events):
            raise MalformedRecord("its stamps are not those of the run's events")
        said = self.expect(answers.get("said"), list, pair_count(truth))
        return first_wrong_pair(truth, stamps, said)


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
