"""Time and order: Lamport clocks, vector clocks, hybrid logical clocks, Cristian's algorithm.

Physical clocks disagree (skew) and run at slightly different rates (drift), so comparing
timestamps taken on different machines does not tell which event came first. Lamport, "Time,
Clocks, and the Ordering of Events in a Distributed System" (1978), replaced "earlier" by
*happens before*: a -> b if a comes before b in one process, or a is the sending of a message
and b its receipt, or a -> c -> b for some c. Two events neither of which happens before the
other are *concurrent*.

* `LamportClock` (Lamport 1978): a counter per process, such that a -> b implies
  L(a) < L(b) (the Clock Condition). The converse does not hold: L(a) < L(b) says nothing
  when a and b are concurrent.
* `VectorClock` (Fidge 1988; Mattern 1989): one counter per process; a -> b exactly when
  V(a) < V(b), so concurrency can be read off the timestamps.
* `HybridLogicalClock` (Kulkarni, Demirbas et al., "Logical Physical Clocks", 2014): a
  Lamport clock that stays close to physical time, as used by CockroachDB and MongoDB.
* `HappensBefore`: the ground truth, computed from a simulator `Trace` as a graph of process
  order and message edges; `lamport_timestamps` and `vector_timestamps` stamp a trace's
  events, and `annotate_lamport` / `annotate_vector` label space-time diagrams
  (``spacetime(sim, annotate=annotate_vector(sim))``).
* `TimeServer` and `CristianClient` (Cristian, "Probabilistic clock synchronization", 1989):
  ask a server for its time and correct for half the round trip; `cristian_experiment`
  measures the error against the simulator's true clock skew. `ntp_offset_delay` is NTP's
  four-timestamp version of the same estimate (Mills 1991).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import networkx as nx

from distlab.sim import Latency, Network, Node, Simulation, Trace, TraceEvent, Uniform

Relation = Literal["before", "after", "concurrent", "equal"]


# -- Lamport clocks --------------------------------------------------------------------------------
class LamportClock:
    """Lamport's logical clock ``C_i`` of one process.

    Implementation rules of the paper:

    * IR1: the clock ticks between any two events of the process (`tick`, also used by
      `send`: a send is an event);
    * IR2: a message carries the sender's time ``T_m``; the receiver sets its clock past both
      its own time and ``T_m`` (`receive`).

    Ties between processes are broken by the process id: ordering events by
    ``(time, process_id)`` is Lamport's total order, the basis of totally ordered multicast.
    """

    def __init__(self, time: int = 0):
        self.time = time

    def tick(self) -> int:
        """A local event: advance the clock and return the event's timestamp."""
        self.time += 1
        return self.time

    def send(self) -> int:
        """A send event: advance the clock; the result is the timestamp ``T_m`` to attach."""
        return self.tick()

    def receive(self, stamp: int) -> int:
        """A receive event of a message stamped ``stamp``: ``C := max(C, T_m) + 1``."""
        self.time = max(self.time, stamp) + 1
        return self.time

    def __repr__(self) -> str:
        return f"LamportClock({self.time})"


# -- vector clocks ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class VectorClock:
    """A vector timestamp (Fidge 1988; Mattern 1989): for each process, how many of its
    events are known to have happened before.

    The value is immutable, so it can travel inside messages; operations return new clocks.
    Only non-zero counts are stored, sorted by process id (so equal clocks are ``==``).

    For events a, b with timestamps V(a), V(b): a -> b if and only if V(a) < V(b), that is
    every entry of V(a) is <= the one of V(b) and they differ.
    """

    entries: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        ids = [node for node, _ in self.entries]
        if ids != sorted(set(ids)) or any(not isinstance(n, int) or n <= 0
                                          for _, n in self.entries):
            raise ValueError(f"VectorClock entries must be (process, count) pairs sorted by "
                             f"process, each process once, counts positive; got "
                             f"{self.entries!r}. Build one with VectorClock.of({{'a': 1}}).")

    @classmethod
    def of(cls, counts: Mapping[str, int] | None = None) -> VectorClock:
        """The clock with these counts: ``VectorClock.of({"a": 2, "b": 1})``."""
        counts = counts or {}
        return cls(tuple(sorted((node, n) for node, n in counts.items() if n != 0)))

    def __getitem__(self, node: str) -> int:
        for other, n in self.entries:
            if other == node:
                return n
        return 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.entries)

    def increment(self, node: str) -> VectorClock:
        """The clock after an event of process ``node``: its own entry plus one."""
        counts = self.as_dict()
        counts[node] = counts.get(node, 0) + 1
        return VectorClock.of(counts)

    def merge(self, other: VectorClock) -> VectorClock:
        """The entry-wise maximum: what is known after hearing ``other``."""
        counts = self.as_dict()
        for node, n in other.entries:
            counts[node] = max(counts.get(node, 0), n)
        return VectorClock.of(counts)

    def compare(self, other: VectorClock) -> Relation:
        """``"before"`` (self -> other), ``"after"``, ``"equal"`` or ``"concurrent"``."""
        mine, theirs = self.as_dict(), other.as_dict()
        nodes = mine.keys() | theirs.keys()
        at_most = all(mine.get(n, 0) <= theirs.get(n, 0) for n in nodes)
        at_least = all(mine.get(n, 0) >= theirs.get(n, 0) for n in nodes)
        if at_most and at_least:
            return "equal"
        if at_most:
            return "before"
        if at_least:
            return "after"
        return "concurrent"

    def happens_before(self, other: VectorClock) -> bool:
        return self.compare(other) == "before"

    def concurrent_with(self, other: VectorClock) -> bool:
        return self.compare(other) == "concurrent"

    def format(self, nodes: Iterable[str]) -> str:
        """The counts of ``nodes``, in that order: ``[2,0,1]``."""
        return "[" + ",".join(str(self[node]) for node in nodes) + "]"

    def __str__(self) -> str:
        return "{" + ", ".join(f"{node}:{n}" for node, n in self.entries) + "}"


# -- hybrid logical clocks -------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class HLCTimestamp:
    """A hybrid logical timestamp ``(l, c)``, compared as a pair.

    ``l`` is the largest physical time the process has heard of; ``c`` counts events that
    share the same ``l``.
    """

    l: float
    c: int


class HybridLogicalClock:
    """A hybrid logical clock (Kulkarni, Demirbas, Madappa, Avva and Leone 2014).

    Like a Lamport clock, a -> b implies HLC(a) < HLC(b); unlike one, ``l`` never runs ahead
    of the largest physical clock reading in the system, so ``l - pt`` stays within the
    clock skew, and the timestamp can stand in for physical time (snapshot reads at a time).
    ``pt`` is the process's physical clock, passed in (in the simulator: ``self.now``).
    """

    def __init__(self) -> None:
        self.l = float("-inf")   # no physical time heard of yet (clocks may read below 0)
        self.c = 0

    def send(self, pt: float) -> HLCTimestamp:
        """A local or send event at physical time ``pt`` (the paper's "send or local event")."""
        l_old = self.l
        self.l = max(l_old, pt)
        self.c = self.c + 1 if self.l == l_old else 0
        return HLCTimestamp(self.l, self.c)

    def receive(self, m: HLCTimestamp, pt: float) -> HLCTimestamp:
        """Receipt of a message stamped ``m`` at physical time ``pt``."""
        l_old = self.l
        self.l = max(l_old, m.l, pt)
        if self.l == l_old == m.l:
            self.c = max(self.c, m.c) + 1
        elif self.l == l_old:
            self.c += 1
        elif self.l == m.l:
            self.c = m.c + 1
        else:
            self.c = 0
        return HLCTimestamp(self.l, self.c)

    def __repr__(self) -> str:
        return f"HybridLogicalClock(l={self.l:g}, c={self.c})"


# -- happens-before from a trace -------------------------------------------------------------------
#: The trace events that are events of a process: its sends and its receipts.
MESSAGE_KINDS = ("send", "deliver")
#: Every kind of trace event that happens at one process (pass as ``kinds=`` to include them).
PROCESS_KINDS = ("send", "deliver", "timer", "note", "crash", "restart", "invoke", "complete")


def _trace_of(trace: Trace | Simulation) -> Trace:
    return trace.trace if isinstance(trace, Simulation) else trace


def process_events(trace: Trace | Simulation,
                   kinds: Iterable[str] = MESSAGE_KINDS) -> list[int]:
    """The positions in ``trace`` of the events of the given kinds, in order.

    Drops, duplicates and partitions are not events of any process: they are the network's.
    """
    kinds = tuple(kinds)
    if not {"send", "deliver"} <= set(kinds) or not set(kinds) <= set(PROCESS_KINDS):
        raise ValueError(f"kinds must include 'send' and 'deliver' (the messages carry the "
                         f"causality) and be among {PROCESS_KINDS}; got {kinds}")
    return [i for i, e in enumerate(_trace_of(trace)) if e.kind in kinds]


class HappensBefore:
    """Lamport's happens-before relation among a trace's events: the ground truth.

    Built as a directed graph whose vertices are trace positions (see `process_events`) and
    whose edges are process order (each event to the next one of the same node) and messages
    (each send to each delivery of that message: a duplicated message is delivered twice).
    Then a -> b exactly when there is a path from a to b. No clock is involved, so clocks
    can be checked against it.
    """

    def __init__(self, trace: Trace | Simulation, kinds: Iterable[str] = MESSAGE_KINDS):
        trace = _trace_of(trace)
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


# -- stamping a trace ------------------------------------------------------------------------------
def lamport_timestamps(trace: Trace | Simulation,
                       kinds: Iterable[str] = MESSAGE_KINDS) -> dict[int, int]:
    """The Lamport timestamp of each event (trace position -> timestamp), as if every node
    ran a `LamportClock` that ticks on the events of ``kinds``."""
    trace = _trace_of(trace)
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
    trace = _trace_of(trace)
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
    trace = _trace_of(trace)
    labels = {_event_key(trace[i]): str(t) for i, t in lamport_timestamps(trace, kinds).items()}
    return lambda event: labels.get(_event_key(event))


def annotate_vector(trace: Trace | Simulation, nodes: Iterable[str] | None = None,
                    kinds: Iterable[str] = MESSAGE_KINDS) -> Callable[[TraceEvent], str | None]:
    """A labeller writing each event's vector timestamp as ``[2,0,1]`` (in ``nodes`` order,
    by default the trace's nodes)."""
    trace = _trace_of(trace)
    order = list(trace.nodes if nodes is None else nodes)
    labels = {_event_key(trace[i]): v.format(order)
              for i, v in vector_timestamps(trace, kinds).items()}
    return lambda event: labels.get(_event_key(event))


# -- Cristian's algorithm --------------------------------------------------------------------------
@dataclass(frozen=True)
class TimeRequest:
    seq: int


@dataclass(frozen=True)
class TimeReply:
    seq: int
    server_time: float


class TimeServer(Node):
    """Answers every `TimeRequest` with its own clock reading."""

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case TimeRequest(seq):
                self.send(src, TimeReply(seq, self.now))


@dataclass(frozen=True)
class CristianSample:
    """One exchange, as the client saw it (all times on the client's clock but server_time)."""

    sent_at: float
    received_at: float
    server_time: float

    @property
    def rtt(self) -> float:
        return self.received_at - self.sent_at

    @property
    def offset(self) -> float:
        """Estimated server clock minus client clock: the server's reading is taken, on
        average, half a round trip before the reply arrives."""
        return self.server_time + self.rtt / 2 - self.received_at


class CristianClient(Node):
    """Asks ``server`` for the time every ``period`` ms, ``samples`` times (Cristian 1989).

    ``offset`` is the estimate from the exchange with the smallest round trip: the error of
    an estimate is at most half its round trip (if clocks do not drift meanwhile), so the
    fastest exchange is the most trustworthy. ``corrected_now`` applies it.
    """

    def __init__(self, server: str = "server", period: float = 1_000.0, samples: int = 10):
        self.server = server
        self.period = period
        self.samples_wanted = samples
        self.samples: list[CristianSample] = []
        self.offset: float | None = None
        self.asked = 0
        self._sent_at: dict[int, float] = {}

    def on_start(self) -> None:
        self.set_timer(0, "ask")

    def on_timer(self, name: str) -> None:
        self.asked += 1
        self._sent_at[self.asked] = self.now
        self.send(self.server, TimeRequest(self.asked))
        if self.asked < self.samples_wanted:
            self.set_timer(self.period, "ask")

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case TimeReply(seq, server_time) if seq in self._sent_at:
                self.samples.append(CristianSample(self._sent_at.pop(seq), self.now,
                                                   server_time))
                self.offset = min(self.samples, key=lambda s: s.rtt).offset

    @property
    def corrected_now(self) -> float:
        """This node's clock corrected by the estimated offset (the server's time)."""
        return self.now + (self.offset or 0.0)


@dataclass(frozen=True)
class CristianResult:
    """One exchange: the round trip, the estimated and the true offset, and the error."""

    rtt: float
    estimated_offset: float
    true_offset: float

    @property
    def error(self) -> float:
        return self.estimated_offset - self.true_offset


def cristian_experiment(*, seed: int = 0, latency: Latency | float = Uniform(1, 50),
                        reply_latency: Latency | float | None = None,
                        client_skew: float = 0.0, client_drift: float = 0.0,
                        server_skew: float = 250.0, server_drift: float = 0.0,
                        samples: int = 50, period: float = 1_000.0) -> list[CristianResult]:
    """Run Cristian's algorithm once per ``period`` and compare each estimate with the truth.

    A clock with skew ``s`` and drift ``d`` reads ``s + (1 + d) * t`` at true time ``t``; the
    true offset is the difference of the two clocks when the reply arrives. With
    ``reply_latency`` the way back has other delays than the way there (asymmetry): the
    estimate's assumption of equal halves fails, and the error shows it.
    """
    sim = Simulation(seed=seed, network=Network(latency=latency))
    sim.add_node(TimeServer, "server")
    client = sim.add_node(CristianClient, "client", server="server", period=period,
                          samples=samples)
    sim.set_clock("server", skew=server_skew, drift=server_drift)
    sim.set_clock("client", skew=client_skew, drift=client_drift)
    if reply_latency is not None:
        sim.network.set_link("server", "client", latency=reply_latency, both_ways=False)
    sim.run(until=period * (samples + 1))
    results = []
    for s in client.samples:
        true_time = (s.received_at - client_skew) / (1 + client_drift)
        server_clock = server_skew + (1 + server_drift) * true_time
        results.append(CristianResult(s.rtt, s.offset, server_clock - s.received_at))
    return results


def ntp_offset_delay(t1: float, t2: float, t3: float, t4: float) -> tuple[float, float]:
    """NTP's estimate from one exchange: (offset, delay).

    ``t1`` client sends, ``t2`` server receives, ``t3`` server replies, ``t4`` client receives
    (t1, t4 on the client's clock; t2, t3 on the server's). The offset assumes equal delays
    both ways, as Cristian's does; when the server answers at once (t2 = t3) the two agree.
    """
    offset = ((t2 - t1) + (t3 - t4)) / 2
    delay = (t4 - t1) - (t3 - t2)
    return offset, delay
