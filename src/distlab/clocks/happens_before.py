"""Happens-before from a trace: the ground truth that logical clocks approximate.

Lamport (1978) defined happens-before from process order and messages; here it is computed
from a simulator `Trace` as a graph (`HappensBefore`). `lamport_timestamps` and
`vector_timestamps` stamp a trace's events with the clocks of `distlab.clocks.logical`, and
`annotate_lamport` / `annotate_vector` label space-time diagrams
(``spacetime(sim, annotate=annotate_vector(sim))``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import networkx as nx

from distlab.clocks.logical import LamportClock, Relation, VectorClock
from distlab.sim import Simulation, Trace, TraceEvent
from distlab.sim.helpers import trace_of

# -- happens-before from a trace ------------------------------------------------------------------
#: The trace events that are events of a process: its sends and its receipts.
MESSAGE_KINDS = ("send", "deliver")
#: Every kind of trace event that happens at one process (pass as ``kinds=`` to include them).
PROCESS_KINDS = ("send", "deliver", "timer", "note", "crash", "restart", "invoke", "complete")


def process_events(trace: Trace | Simulation,
                   kinds: Iterable[str] = MESSAGE_KINDS) -> list[int]:
    """The positions in ``trace`` of the events of the given kinds, in order.

    Drops, duplicates and partitions are not events of any process: they are the network's.
    """
    kinds = tuple(kinds)
    if not {"send", "deliver"} <= set(kinds) or not set(kinds) <= set(PROCESS_KINDS):
        raise ValueError(f"kinds must include 'send' and 'deliver' (the messages carry the "
                         f"causality) and be among {PROCESS_KINDS}; got {kinds}")
    return [i for i, e in enumerate(trace_of(trace)) if e.kind in kinds]


class HappensBefore:
    """Lamport's happens-before relation among a trace's events: the ground truth.

    Built as a directed graph whose vertices are trace positions (see `process_events`) and
    whose edges are process order (each event to the next one of the same node) and messages
    (each send to each delivery of that message: a duplicated message is delivered twice).
    Then a -> b exactly when there is a path from a to b. No clock is involved, so clocks
    can be checked against it.
    """

    def __init__(self, trace: Trace | Simulation, kinds: Iterable[str] = MESSAGE_KINDS):
        trace = trace_of(trace)
        self.trace = trace
        self.events = process_events(trace, kinds)
        self.graph = nx.DiGraph()
        self.graph.add_nodes_from(self.events)
        latest: dict[str, int] = {}    # node -> its latest event so far
        send_of: dict[int, int] = {}   # msg_id -> the position of its send
        for i in self.events:
            event = trace[i]
            if event.node in latest:
                self.graph.add_edge(latest[event.node], i)      # process order
            if event.kind == "deliver":
                self.graph.add_edge(send_of[event.msg_id], i)   # a message
            elif event.kind == "send":
                send_of[event.msg_id] = i
            latest[event.node] = i
        self._ancestors: dict[int, set[int]] = {}

    def before(self, a: int, b: int) -> bool:
        """Whether event ``a`` happens before event ``b`` (trace positions)."""
        if b not in self._ancestors:
            self._ancestors[b] = nx.ancestors(self.graph, b)
        return a in self._ancestors[b]

    def relation(self, a: int, b: int) -> Relation:
        """``"before"``, ``"after"``, ``"equal"`` (the same event) or ``"concurrent"``."""
        if a == b:
            return "equal"
        if self.before(a, b):
            return "before"
        if self.before(b, a):
            return "after"
        return "concurrent"

    def concurrent(self, a: int, b: int) -> bool:
        return self.relation(a, b) == "concurrent"


# -- stamping a trace -----------------------------------------------------------------------------
def lamport_timestamps(trace: Trace | Simulation,
                       kinds: Iterable[str] = MESSAGE_KINDS) -> dict[int, int]:
    """The Lamport timestamp of each event (trace position -> timestamp), as if every node
    ran a `LamportClock` that ticks on the events of ``kinds``."""
    trace = trace_of(trace)
    clocks: dict[str, LamportClock] = {}
    carried: dict[int, int] = {}   # msg_id -> the timestamp the message carries
    stamps: dict[int, int] = {}
    for i in process_events(trace, kinds):
        event = trace[i]
        clock = clocks.setdefault(event.node, LamportClock())
        match event.kind:
            case "send":
                stamps[i] = carried[event.msg_id] = clock.send()
            case "deliver":
                stamps[i] = clock.receive(carried[event.msg_id])
            case _:
                stamps[i] = clock.tick()
    return stamps


def vector_timestamps(trace: Trace | Simulation,
                      kinds: Iterable[str] = MESSAGE_KINDS) -> dict[int, VectorClock]:
    """The vector timestamp of each event (trace position -> `VectorClock`)."""
    trace = trace_of(trace)
    clocks: dict[str, VectorClock] = {}
    carried: dict[int, VectorClock] = {}
    stamps: dict[int, VectorClock] = {}
    for i in process_events(trace, kinds):
        event = trace[i]
        clock = clocks.get(event.node, VectorClock())
        if event.kind == "deliver":
            clock = clock.merge(carried[event.msg_id])
        clock = clock.increment(event.node)
        if event.kind == "send":
            carried[event.msg_id] = clock
        clocks[event.node] = stamps[i] = clock
    return stamps


def _event_key(event: TraceEvent) -> tuple:
    return (event.time, event.kind, event.node, event.msg_id)


def annotate_lamport(trace: Trace | Simulation, kinds: Iterable[str] = MESSAGE_KINDS
                     ) -> Callable[[TraceEvent], str | None]:
    """A labeller for ``spacetime(..., annotate=...)`` writing each event's Lamport time."""
    trace = trace_of(trace)
    labels = {_event_key(trace[i]): str(t) for i, t in lamport_timestamps(trace, kinds).items()}
    return lambda event: labels.get(_event_key(event))


def annotate_vector(trace: Trace | Simulation, nodes: Iterable[str] | None = None,
                    kinds: Iterable[str] = MESSAGE_KINDS) -> Callable[[TraceEvent], str | None]:
    """A labeller writing each event's vector timestamp as ``[2,0,1]`` (in ``nodes`` order,
    by default the trace's nodes)."""
    trace = trace_of(trace)
    order = list(trace.nodes if nodes is None else nodes)
    labels = {_event_key(trace[i]): v.format(order)
              for i, v in vector_timestamps(trace, kinds).items()}
    return lambda event: labels.get(_event_key(event))
