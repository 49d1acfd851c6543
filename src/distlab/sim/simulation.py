"""The deterministic discrete-event simulation: nodes, a network, faults, and a trace.

`Simulation` keeps a clock in simulated milliseconds and a queue of pending events (message
deliveries, timers, node starts, scheduled faults). `run` takes the next event from the
`Scheduler`, moves the clock to its time and calls its handler; handlers act only through
their `Node` methods, which come back here (`_send`, `_set_timer`...).

Determinism: all randomness comes from streams seeded by the simulation's seed -- one per
node (per incarnation), one for the network, one for fault injection -- and nothing reads the
wall clock, so the same seed and code give the same trace, byte for byte.

The kernel is a plain heap of ``(time, seq, fn, arg)`` entries with a one-argument callback
per event and no generator machinery: that is what makes it four to five times faster than
SimPy written with processes, and about as fast as SimPy's bare callbacks, while it also
keeps a full trace and checks every message (see ``bench/`` and "Changing the simulator's
kernel" in CONTRIBUTING.md). A timer's entry carries its node's `NodeRecord` (the node object
and its pending timers), so that firing it looks nothing up by id: with 100,000 nodes every
such lookup costs reads far away in memory (see `distlab.sim.record`).
"""

from __future__ import annotations

import math
import random
from bisect import insort
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from heapq import heappop, heappush
from itertools import count
from types import MethodType
from typing import Any, NamedTuple, TypeVar

from distlab.sim.errors import (ConfigurationError, EventBudgetExceeded, NodeError, StorageError,
                                WallClockLimitExceeded)
from distlab.sim.guards import GC_BATCH, Alarm, gc_between_batches, wall_clock_guard
from distlab.sim.history import Client, History, Operation
from distlab.sim.messages import _SCALAR_FIELDS as SCALAR_FIELDS
from distlab.sim.messages import _SCALARS as IMMUTABLE_SCALARS
from distlab.sim.messages import check_message
from distlab.sim.network import Network, Uniform
from distlab.sim.node import Node, NodeRandom, build_node
from distlab.sim.peers import Peers
from distlab.sim.record import NodeRecord, Token
from distlab.sim.scheduler import Entry, Scheduler
from distlab.sim.storage import Storage, check_storable
from distlab.sim.times import checked_number, timer_delay
from distlab.sim.trace import Note, Trace, TraceEvent, events_from_slots

#: the quick immutability test of a message class (None until the class is first checked),
#: as a function bound once: ``SCALAR_FIELDS.get(cls)`` in `_send_message` would look up
#: ``get`` afresh for every message (Python 3.11 compiles a method call on an imported name
#: as an attribute read plus a call, which makes a bound method each time)
scalar_fields_test = SCALAR_FIELDS.get

#: how many of the last trace events an `EventBudgetExceeded` message looks at, to name the
#: busiest timers and messages (enough to see a storm, few enough to count at once)
RECENT_EVENTS = 2000
#: a reordered message is held back by up to this many mean latencies (unless the network
#: sets ``reorder_delay``): enough for later messages on the same link to overtake it
REORDER_HOLD_LATENCIES = 5


class Envelope(NamedTuple):
    """A message in flight: what a delivery entry of the scheduler carries (``entry[3]``).

    Its fields are those of the message's "send" trace event, which records it as it is.
    For speed the kernel builds it as a plain tuple in this layout (calling a NamedTuple
    class costs about 0.3 microseconds more per message: 10% of the kernel's speed, see
    `_send_message`); unpack it, or read it by name with ``Envelope._make(entry[3])``.
    """

    time: float     # when it was sent
    kind: str       # always "send"
    src: str
    dst: str
    msg_id: int
    msg: Any

R = TypeVar("R", bound=random.Random)

#: Past this many servers, a node's ``peers`` is a view of one list the simulation shares
#: (distlab.sim.peers.Peers) instead of a tuple of its own.
SHARED_PEERS_FROM = 64


def stream(seed: object, *names: object, cls: type[R] = random.Random) -> R:  # type: ignore
    """A random stream of its own for ``names``, derived from ``seed`` (deterministically).

    ``cls`` is the class of the stream: `random.Random` or a subclass of it.
    """
    return cls("/".join(map(str, (seed, *names))))


class Simulation:
    """A run of a distributed system in simulated time.

    >>> from distlab.sim import Node
    >>> class Pinger(Node):
    ...     def on_start(self):
    ...         self.broadcast("ping")
    ...     def on_message(self, src, msg):
    ...         self.note("heard", msg=msg, src=src)
    >>> sim = Simulation(seed=1, network=Network(latency=Uniform(1, 10), loss=0.2))
    >>> _ = sim.add_nodes(Pinger, ["a", "b", "c"])
    >>> sim.run(until=1_000)            # simulated milliseconds
    >>> sim.trace.counts()              # everything that happened, by kind
    {'send': 6, 'drop': 1, 'deliver': 5, 'note': 5}
    >>> print(sim.trace.of_kind("note")[0].describe())
         8.909 ms  c  note: heard msg=ping src=b

    ``max_events`` bounds each call of `run`/`run_until`/`step`: past it the run stops with
    `EventBudgetExceeded` (a livelock, or timers that never stop, would otherwise hang).
    ``check_messages`` refuses mutable messages (see `distlab.sim.messages`). ``trace`` is
    True (every event: past a million, the oldest wait in a temporary file, see `Trace`),
    False (nothing), or ``"summary"`` (counts, notes and the last thousand events: for runs
    of millions of events that nobody will draw).
    """

    def __init__(self, seed: object = 0, network: Network | None = None, *,
                 scheduler: Scheduler | None = None, trace: bool | str = True,
                 max_events: int = 1_000_000, check_messages: bool = True):
        if not isinstance(max_events, int) or max_events <= 0:
            raise ConfigurationError(f"max_events must be a positive int, got {max_events!r}")
        self.seed = seed
        self.network = network if network is not None else Network()
        self.scheduler = scheduler if scheduler is not None else Scheduler()
        if trace not in (True, False, "summary"):
            raise ConfigurationError(f"trace is True (record every event), False (record "
                                     f"nothing) or 'summary' (counts, notes and the last "
                                     f"events only); got {trace!r}")
        self.trace = Trace(enabled=bool(trace), summary=trace == "summary")
        self.max_events = max_events
        self.check_messages = check_messages
        self.now = 0.0
        #: the current instance of every node (after a restart, a new instance)
        self.nodes: dict[str, Node] = {}
        #: the ids of the nodes that are down
        self.crashed: set[str] = set()
        self.history = History(on_event=self._record_operation, clock=lambda: self.now)
        self._net_rng = stream(seed, "network")
        self._specs: dict[str, tuple[type[Node], dict[str, Any]]] = {}
        self._storage: dict[str, Storage] = {}
        self._incarnation: dict[str, int] = {}
        #: every node's `NodeRecord` (its object and its pending timers), by id
        self._records: dict[str, NodeRecord] = {}
        #: the record of the node whose timer fired last: most timers are set by the node
        #: whose handler runs, and `_set_timer` finds its record here without a lookup
        self._acting = NodeRecord("")
        self._clocks: dict[str, tuple[float, float]] = {}
        #: the ids of the servers (the nodes that are not clients), sorted: every node's
        #: ``peers`` is a view of this one list (see distlab.sim.peers)
        self._servers: list[str] = []
        self._monitors: list[Callable[[Simulation], None]] = []
        # The state of the network during this run (its configuration is self.network, which
        # this simulation never changes, so one Network object can serve several runs):
        #: the directed links that drop every message (partitions, cuts)
        self._cut_links: set[tuple[str, str]] = set()
        #: per directed link, until when it is busy sending earlier messages (bandwidth)
        self._busy_until: dict[tuple[str, str], float] = {}
        self._msg_ids = count(1)
        self._events_run = 0
        #: how many timers came due after they were cancelled or set again (a reset election
        #: timer leaves its old entry behind): such an event runs no code and records nothing
        self.stale_timers = 0
        self._events = self.trace._events if trace else None
        # bound once, because the hot path (_send) uses them for every message
        self._heap = self.scheduler.heap
        self._seq = self.scheduler.seq
        # the entries' functions, bound once: an entry's kind is told by which one it holds
        self._deliver_fn = self._deliver
        self._fire_fn = self._fire
        self._start_fn = self._start

    # -- building the system ---------------------------------------------------------------------
    def add_node(self, cls: type[Node], node_id: str, **kwargs: Any) -> Node:
        """Create node ``node_id`` of class ``cls`` (``kwargs`` go to its ``__init__``).

        Its ``on_start`` runs as the first event at the current time.
        """
        return self.add_nodes(cls, [node_id], **kwargs)[0]

    def add_nodes(self, cls: type[Node], ids: Iterable[str], **kwargs: Any) -> list[Node]:
        """Create one node of class ``cls`` per id, each with the same ``kwargs``."""
        ids = list(ids)
        for node_id in ids:
            if not isinstance(node_id, str) or not node_id:
                raise ConfigurationError(f"node ids are non-empty strings such as 'a' or "
                                         f"'n1'; got {node_id!r}")
            if node_id in self._specs:
                raise ConfigurationError(f"there is already a node {node_id!r}; ids must be "
                                         f"unique")
            self._specs[node_id] = (cls, kwargs)
            self._storage[node_id] = Storage()
            self._incarnation[node_id] = 0
            self._records[node_id] = NodeRecord(node_id)
            self.trace.nodes.append(node_id)
        # the servers first, so that each new node's __init__ sees its peers
        was_small = len(self._servers) <= SHARED_PEERS_FROM
        if not issubclass(cls, Client):
            for node_id in ids:
                insort(self._servers, node_id)
        if was_small:  # the nodes' own tuples are out of date (or views from now on)
            for node_id, node in self.nodes.items():
                node.peers = self._peers_of(node_id)
        nodes = []
        for node_id in ids:
            nodes.append(self._build(node_id))
            self.scheduler.push(self.now, self._start_fn, node_id)
        return nodes

    def _build(self, node_id: str) -> Node:
        cls, kwargs = self._specs[node_id]
        node = build_node(cls, self, node_id, self._peers_of(node_id), self._storage[node_id],
                          kwargs)
        if cls.send is Node.send:  # (a class of its own keeps its own send)
            node.send = MethodType(_send_message, node)  # type: ignore[method-assign]
        self.nodes[node_id] = self._records[node_id].node = node
        return node

    def _peers_of(self, node_id: str) -> Sequence[str]:
        """``node_id``'s peers: every server but itself, sorted.

        A tuple of its own while the cluster is small (indexing a tuple is what
        ``self.rng.choice(self.peers)`` does fastest, and N tuples of N ids cost little); past
        `SHARED_PEERS_FROM` servers, a view of the one shared list, so that memory grows
        linearly with the number of nodes.
        """
        if len(self._servers) > SHARED_PEERS_FROM:
            return Peers(self._servers, node_id)
        return tuple(server for server in self._servers if server != node_id)

    def add_monitor(self, fn: Callable[[Simulation], None]) -> None:
        """Call ``fn(sim)`` after every event (invariant checks; see `distlab.check`)."""
        self._monitors.append(fn)

    def _node(self, node_id: str) -> Node:
        try:
            return self.nodes[node_id]
        except (KeyError, TypeError):
            known = ", ".join(map(repr, self.nodes)) or "none yet"
            raise ConfigurationError(f"unknown node {node_id!r}; the nodes are: {known}") from None

    # -- the runtime (distlab.sim.runtime.Runtime) that every Node calls --------------------------
    def _send(self, node: Node, dst: str, msg: Any) -> None:
        """What ``Node.send`` and ``Node.broadcast`` call: see `_send_message`."""
        _send_message(node, dst, msg)

    def _send_unreliable(self, record: Envelope) -> None:
        """The path of a message through a network with loss, duplicates, bandwidth..."""
        now, _, src, dst, mid, msg = record
        net = self.network
        loss, latency, dup, bandwidth = net.loss, net.latency, net.duplicate, net.bandwidth
        link = net.links.get((src, dst))
        if link is not None:
            loss = loss if link.loss is None else link.loss
            latency = latency if link.latency is None else link.latency
            dup = dup if link.duplicate is None else link.duplicate
            bandwidth = bandwidth if link.bandwidth is None else link.bandwidth
        rng = self._net_rng
        if loss and rng.random() < loss:
            self._record("drop", dst, src, mid, "loss")
            return
        delay = latency.sample(rng)
        if net.reorder and rng.random() < net.reorder:
            hold = net.reorder_delay
            if hold is None:
                hold = REORDER_HOLD_LATENCIES * latency.mean
            delay += hold * rng.random()
        if bandwidth:
            delay += self._transmission(src, dst, msg, bandwidth) - now
        self.scheduler.push(now + delay, self._deliver_fn, record)
        if dup and rng.random() < dup:
            self._record("duplicate", src, dst, mid, msg)
            self.scheduler.push(now + delay + latency.sample(rng), self._deliver_fn, record)

    def _transmission(self, src: str, dst: str, msg: Any, bandwidth: float) -> float:
        """When the message has finished going onto the link (it queues behind earlier ones)."""
        size = getattr(msg, "size", None)
        if not isinstance(size, int):
            size = len(repr(msg).encode())
        start = max(self.now, self._busy_until.get((src, dst), 0.0))
        done = start + size / bandwidth
        self._busy_until[(src, dst)] = done
        return done

    def _set_timer(self, node: Node, delay: float, name: str) -> None:
        if type(delay) is not float or not 0.0 <= delay < math.inf:  # (a float passes at once)
            delay = timer_delay(node.id, delay, name)
        if self._clocks:  # (asked first: a lookup by id reads the id, far away in memory)
            clock = self._clocks.get(node.id)
            if clock is not None:
                delay = delay / (1.0 + clock[1])
        record = self._acting
        if record.node is not node:  # not set by the node whose timer fired last
            record = self._records[node.id]
        token = (record, name)  # a fresh tuple: its identity marks this very timer
        record.timers[name] = token
        time = self.now + delay
        if time < self.scheduler.horizon:  # (the inline form of Scheduler.push)
            heappush(self._heap, (time, next(self._seq), self._fire_fn, token))
        else:
            self.scheduler.calendar.add((time, next(self._seq), self._fire_fn, token))

    def _cancel_timer(self, node: Node, name: str) -> None:
        self._records[node.id].timers.pop(name, None)

    def _rng(self, node: Node) -> NodeRandom:
        return stream(self.seed, "node", node.id, self._incarnation[node.id], cls=NodeRandom)

    def _clock(self, node: Node) -> float:
        clock = self._clocks.get(node.id) if self._clocks else None
        if clock is None:
            return self.now
        skew, drift = clock
        return skew + self.now * (1.0 + drift)

    def _record(self, kind: str, node: str | None, peer: str | None, msg_id: int | None,
                data: Any) -> None:
        """Add an event, at the current time, to the trace (if it is on).

        The two events of every message, "send" and "deliver", are added inline instead:
        they are most of a trace, and a call each would show in the benchmarks.
        """
        if self._events is not None:
            self._events.extend((self.now, kind, node, peer, msg_id, data))

    def _note(self, node: Node, note: Note) -> None:
        self._record("note", node.id, None, None, note)

    def _record_operation(self, kind: str, op: Operation) -> None:
        if self._events is not None:
            # a copy: the operation itself changes when it completes, the trace must not
            self._record(kind, str(op.process), None, None, replace(op))

    # -- event handlers (what the scheduler's entries call) --------------------------------------
    def _deliver(self, record: Envelope) -> None:
        """Deliver a message (its `Envelope`), unless it cannot arrive."""
        _, _, src, dst, mid, msg = record
        events = self._events
        if self.crashed and dst in self.crashed:
            self._record("drop", dst, src, mid, "crashed")
            return
        cut_links = self._cut_links
        if cut_links and (src, dst) in cut_links:
            self._record("drop", dst, src, mid, "partition")
            return
        if events is not None:
            events.extend((self.now, "deliver", dst, src, mid, msg))
        self.nodes[dst].on_message(src, msg)

    def _fire(self, token: Token) -> None:
        """Run a timer's ``on_timer``, unless it is no longer pending. Its token carries the
        node's record: no lookup by id (see `distlab.sim.record`)."""
        record, name = token
        timers = record.timers
        if timers.get(name) is not token:
            self.stale_timers += 1
            return  # cancelled, reset, or lost in a crash
        del timers[name]
        self._record("timer", record.id, None, None, name)
        self._acting = record
        record.node.on_timer(name)

    def _start(self, node_id: str) -> None:
        if node_id not in self.crashed:
            self.nodes[node_id].on_start()

    def _call(self, call: tuple[Callable[..., Any], tuple]) -> None:
        fn, args = call
        fn(*args)

    # -- faults -----------------------------------------------------------------------------------
    def crash(self, node_id: str) -> None:
        """Stop ``node_id``: its timers and volatile state are lost; ``storage`` survives.

        Messages arriving while it is down are dropped.
        """
        self._node(node_id)
        if node_id in self.crashed:
            raise ConfigurationError(f"node {node_id!r} is already crashed")
        try:        # what it wrote was checked then; this also sees what it changed in place
            check_storable(self._storage[node_id])
        except StorageError as exc:
            raise StorageError(f"node {node_id!r} cannot crash and keep its storage: {exc}. "
                               f"(The value was changed in place after it was stored.)") from None
        self.crashed.add(node_id)
        self._records[node_id].timers = {}  # (a new table: the explorer shares the old one)
        self._record("crash", node_id, None, None, None)

    def restart(self, node_id: str) -> Node:
        """Bring a crashed node back: a new instance, rebuilt from its durable ``storage``."""
        self._node(node_id)
        if node_id not in self.crashed:
            raise ConfigurationError(f"node {node_id!r} is not crashed; crash it before "
                                     f"restarting it")
        self.crashed.discard(node_id)
        self._incarnation[node_id] += 1
        node = self._build(node_id)
        self._record("restart", node_id, None, None, None)
        self.scheduler.push(self.now, self._start_fn, node_id)
        return node

    def is_up(self, node_id: str) -> bool:
        """Whether ``node_id`` is running (not crashed)."""
        self._node(node_id)
        return node_id not in self.crashed

    def partition(self, *groups: Iterable[str]) -> None:
        """Split the network: messages between different groups are dropped until `heal`.

        Nodes named in no group form one more group together, so ``partition({"a"})``
        isolates ``a``. A new partition replaces the previous one.
        """
        groups_ = [tuple(sorted(set(g))) for g in groups]
        named = set()
        for g in groups_:
            for node_id in g:
                self._node(node_id)
                if node_id in named:
                    raise ConfigurationError(f"node {node_id!r} is in two groups of the partition")
                named.add(node_id)
        rest = tuple(sorted(set(self.nodes) - named))
        if rest:
            groups_.append(rest)
        groups_.sort()
        self._cut_links.clear()
        for i, group in enumerate(groups_):
            for other in groups_[i + 1:]:
                for a in group:
                    for b in other:
                        self._cut_links.update(((a, b), (b, a)))
        self._record("partition", None, None, None, tuple(groups_))

    def cut(self, a: str, b: str, both_ways: bool = True) -> None:
        """Cut the single link between ``a`` and ``b`` (one way if ``both_ways`` is False)."""
        self._node(a), self._node(b)
        self._cut_links.add((a, b))
        if both_ways:
            self._cut_links.add((b, a))
        self._record("cut", a, b, None, "both ways" if both_ways else "one way")

    def heal(self) -> None:
        """Restore every cut link."""
        self._cut_links.clear()
        self._record("heal", None, None, None, None)

    def is_cut(self, a: str, b: str) -> bool:
        """Whether messages from ``a`` to ``b`` are dropped now (by a partition or a cut)."""
        return (a, b) in self._cut_links

    @property
    def cut_links(self) -> frozenset[tuple[str, str]]:
        """The directed links ``(src, dst)`` that drop every message now."""
        return frozenset(self._cut_links)

    def set_clock(self, node_id: str, skew: float = 0.0, drift: float = 0.0) -> None:
        """Give ``node_id`` a clock that reads ``skew + (1 + drift) * true_time``.

        ``drift`` is a fraction: 0.001 gains a millisecond every second. Only that node's
        ``now`` (and the speed of its timers) changes.
        """
        self._node(node_id)
        skew = checked_number(skew, "set_clock skew", if_infinite="a clock is off by a finite "
                              "number of ms; give one")
        drift = checked_number(drift, "set_clock drift", if_infinite="drift is a fraction, "
                               "such as 0.001 (a millisecond gained every second)")
        if drift <= -1:
            raise ConfigurationError(f"drift must be a number above -1 (a clock that runs "
                                     f"backwards is not a clock); got {drift!r}")
        self._clocks[node_id] = (skew, drift)

    def clock_of(self, node_id: str) -> tuple[float, float]:
        """The ``(skew, drift)`` of ``node_id``'s clock (``(0.0, 0.0)``: a perfect clock)."""
        self._node(node_id)
        return self._clocks.get(node_id, (0.0, 0.0))

    def at(self, time: float, fn: Callable[..., Any], *args: Any) -> None:
        """Call ``fn(*args)`` at simulated time ``time``: ``sim.at(500, sim.crash, "a")``."""
        time = checked_number(time, "sim.at(time, ...)", if_infinite="an action at infinity "
                              "never runs: leave it out")
        if time < self.now:
            raise ConfigurationError(f"sim.at({time!r}, ...) is in the past (now is "
                                     f"{self.now:g} ms); give a time of {self.now:g} or later")
        self.scheduler.push(time, self._call, (fn, args))

    # -- running ----------------------------------------------------------------------------------
    def run(self, until: float | None = None, *, max_events: int | None = None,
            wall_limit: float | None = None) -> None:
        """Run events up to simulated time ``until`` (or until none is left).

        The clock ends at ``until`` even if the last event came earlier. ``max_events`` (by
        default the simulation's) and ``wall_limit`` (seconds of real time) bound the run;
        `distlab.sim.guards` says what a wall limit can stop, on which thread.
        """
        if until is not None:
            until = checked_number(until, "run(until=...)", if_infinite="to run until no "
                                   "event is left, call run() with no until=")
            if until < self.now:
                raise ConfigurationError(f"run(until={until:g}) is in the past: the clock is "
                                         f"already at {self.now:g} ms")
        self._loop(until, None, max_events, wall_limit, "run()" if until is None else
                   f"run(until={until:g})")
        if until is not None:
            self.now = float(until)

    def run_until(self, predicate: Callable[[], bool], timeout: float | None = None, *,
                  max_events: int | None = None, wall_limit: float | None = None) -> bool:
        """Run until ``predicate()`` is true; return False if ``timeout`` ms pass first.

        The predicate is checked before the first event and after each one.
        """
        if timeout is not None:
            timeout = checked_number(timeout, "run_until(timeout=...)", if_infinite="to wait "
                                     "with no limit, leave timeout out (timeout=None)")
            if timeout < 0:
                raise ConfigurationError(f"timeout must not be negative, got {timeout!r}")
        if predicate():
            return True
        until = None if timeout is None else self.now + timeout
        held = self._loop(until, predicate, max_events, wall_limit, "run_until(...)")
        if not held and until is not None:
            self.now = until
        return held

    def step(self, *, max_events: int | None = None) -> list[TraceEvent] | None:
        """Run the next event that does something; return the trace events it recorded.

        The entry of a cancelled (or reset) timer does nothing, and neither does the start
        of a node that crashed before it started: such entries are passed over, and count
        towards ``max_events`` (by default the simulation's), past which `step` stops with
        `EventBudgetExceeded`, as `run` does. None means that nothing was left to run.

        With the trace off, the events are returned all the same (recorded for this step
        only, not kept). An event may record nothing: an ``on_start`` that only sets a timer
        returns ``[]``.
        """
        budget = self.max_events if max_events is None else max_events
        trace_off = self._events is None
        if trace_off:
            self._events = []  # this step's events only: what a Trace would have recorded
        events = self._events
        before = len(events)
        try:
            for _ in range(budget):
                entry = self.scheduler.pop()
                if entry is None:
                    return None
                live = self.is_live(entry)
                self._run_entry(entry)
                self._events_run += 1
                for monitor in self._monitors:
                    monitor(self)
                if live:
                    return events_from_slots(events[before:])
        finally:
            if trace_off:
                self._events = None
        if len(self.scheduler) == 0:
            return None
        raise EventBudgetExceeded(self._budget_message(budget, None, None, "step()"))

    def _run_entry(self, entry: Entry) -> None:
        """Run one entry taken from the scheduler: the clock moves to its time, then its call
        runs; an exception from node code becomes a `NodeError` that says where it was.

        (`step` and the schedule explorer run entries one at a time with it; the run loops
        do the same inline, for speed.)
        """
        if entry[0] > self.now:
            self.now = entry[0]
        try:
            entry[2](entry[3])
        except Exception as exc:
            raise self._handler_error(entry, exc) from exc

    def _loop(self, until: float | None, predicate: Callable[[], bool] | None,
              max_events: int | None, wall_limit: float | None, what: str) -> bool:
        budget = self.max_events if max_events is None else max_events
        pop = self.scheduler.pop
        # The default scheduler's choice (the earliest entry) is made right here, saving a
        # call per event; any other scheduler is asked through its pop().
        # (It keeps the later entries in a calendar when many are pending: `refill` brings
        # the next slot of time into the heap when the heap runs dry.)
        heap = self._heap if type(self.scheduler) is Scheduler else None
        refill = self.scheduler.refill
        if heap is not None:
            self.scheduler.adapt()
        monitors = self._monitors
        ran = 0
        next_batch = GC_BATCH  # when the next batch of events begins (see _between_batches)
        entry: Entry | None = None
        guard = wall_clock_guard(wall_limit, monitors)
        # The guard is entered last and left first: the garbage collector's switch is never
        # inside the limit. Its Alarm is turned into an error here, outside the block, so an
        # alarm that rings as the block ends is explained too, never let out.
        try:
            with gc_between_batches() as collect_garbage, guard:
                if heap is not None and not monitors and predicate is None:
                    # The common case, kept as tight as it can be: the simulator's innermost
                    # loop (the general loop below does the same, with more questions asked),
                    # in batches of GC_BATCH events with housekeeping between two.
                    limit = math.inf if until is None else until
                    try:
                        while True:
                            stop = min(budget, next_batch)
                            while heap and ran < stop and not monitors:
                                entry = heappop(heap)
                                time, _, fn, arg = entry
                                if time > limit:  # not for this run: put it back
                                    heappush(heap, entry)
                                    return False
                                self.now = time
                                fn(arg)
                                ran += 1
                            if not heap and refill():  # the calendar's next slot of time
                                continue
                            if ran < next_batch or ran == budget:  # no event or no budget left
                                break
                            self._between_batches(collect_garbage)
                            next_batch += GC_BATCH
                    except Exception as exc:
                        raise self._handler_error(entry, exc) from exc
                    for monitor in monitors:  # the last event added them: they watch from now
                        monitor(self)
                while ran < budget:
                    if heap is not None:
                        if not heap and not refill():
                            return False
                        if until is not None and heap[0][0] > until:
                            return False
                        entry = heappop(heap)
                    else:
                        entry = pop(until)
                        if entry is None:
                            return False
                    time, _, fn, arg = entry
                    if time > self.now:
                        self.now = time
                    try:
                        fn(arg)
                    except Exception as exc:
                        raise self._handler_error(entry, exc) from exc
                    ran += 1
                    if ran >= next_batch:
                        self._between_batches(collect_garbage)
                        next_batch += GC_BATCH
                    if monitors:
                        for monitor in monitors:
                            monitor(self)
                    if predicate is not None and predicate():
                        return True
        except Alarm as alarm:  # chained: its traceback shows the line that was running
            if alarm.guard is not guard:
                raise  # an outer limit's (explore's time budget): the code that set it says
            raise self._wall_clock_error(entry, alarm, what) from alarm
        finally:
            self._events_run += ran
        if len(self.scheduler) == 0:
            return False
        raise EventBudgetExceeded(self._budget_message(budget, until, predicate, what))

    def _between_batches(self, collect_garbage: Callable[[int], object]) -> None:
        """The housekeeping of a run, every `GC_BATCH` events: the young cyclic garbage (see
        `gc_between_batches`), the trace's oldest events to its file (`Trace.compact`), and
        the default scheduler's choice of a heap or a calendar (`Scheduler.adapt`)."""
        collect_garbage(len(self.scheduler))
        self.trace.compact()
        if type(self.scheduler) is Scheduler:
            self.scheduler.adapt()

    # -- explaining failures -------------------------------------------------------------------
    def entry_kind(self, entry: Entry) -> str:
        """What a pending entry is: "deliver", "timer", "start" (on_start) or "run" (sim.at)."""
        fn = entry[2]
        if fn == self._deliver_fn:
            return "deliver"
        if fn == self._fire_fn:
            return "timer"
        if fn == self._start_fn:
            return "start"
        return "run"

    def describe_entry(self, entry: Entry) -> tuple[str | None, str]:
        """Which node a pending entry concerns, and what it is, in words."""
        arg = entry[3]
        match self.entry_kind(entry):
            case "deliver":
                env = Envelope._make(arg)
                return env.dst, (f"on_message(src={env.src!r}, msg={env.msg!r}) "
                                 f"[message #{env.msg_id}]")
            case "timer":
                return arg[0].id, f"on_timer({arg[1]!r})"
            case "start":
                return arg, "on_start()"
        call_fn, args = arg
        name = getattr(call_fn, "__name__", repr(call_fn))
        return None, f"{name}{args!r} scheduled with sim.at"

    def is_live(self, entry: Entry) -> bool:
        """False for the entries that would do nothing if they ran: a cancelled (or reset)
        timer's, and the start of a node that is crashed."""
        match self.entry_kind(entry):
            case "timer":
                record, name = entry[3]
                return record.timers.get(name) is entry[3]
            case "start":
                return entry[3] not in self.crashed
        return True

    def _handler_error(self, entry: Entry, exc: Exception) -> NodeError:
        node, event = self.describe_entry(entry)
        who = f"node {node!r}" if node is not None else "a scheduled action"
        return NodeError(
            f"{who} raised {type(exc).__name__} in {event} at t={self.now:.3f} ms "
            f"(Simulation(seed={self.seed!r}) replays it): {exc}",
            node=node, event=event, time=self.now, seed=self.seed)

    def _wall_clock_error(self, entry: Entry | None, alarm: Alarm,
                          what: str) -> WallClockLimitExceeded:
        where = ""
        if entry is not None:
            node, event = self.describe_entry(entry)
            when = "while" if alarm.inside_handler else "just after"
            where = f" {when} node {node!r} ran {event}" if node else f" {when} {event}"
        return WallClockLimitExceeded(
            f"{what} took more than {alarm.guard.seconds:g} s of real time{where} at "
            f"t={self.now:.3f} ms (seed={self.seed!r}): an infinite loop in a handler, or far "
            f"too many events")

    def _budget_message(self, budget: int, until: float | None,
                        predicate: Callable[[], bool] | None, what: str) -> str:
        recent = self.trace[-RECENT_EVENTS:]
        busiest: dict[str, int] = {}
        for e in recent:
            key = f"{e[1]} at {e[2]}" + (f" ({e[5]!r})" if e[1] == "timer" else "")
            busiest[key] = busiest.get(key, 0) + 1
        top = sorted(busiest.items(), key=lambda kv: -kv[1])[:3]
        hint = "; ".join(f"{k}: {v}" for k, v in top)
        if what == "step()":
            why = ("every entry it ran was a cancelled timer's: a node that resets a timer "
                   "very often leaves many behind. Raise max_events= to step past them")
        elif until is None and predicate is None:
            why = ("run() was given no until=, and the nodes keep scheduling events (periodic "
                   "timers), so it would never end: pass until= (simulated ms)")
        elif predicate is not None and until is None:
            why = ("the predicate is still false and events keep coming: pass timeout= "
                   "(simulated ms) to give up after a while")
        else:
            why = ("that is more events than expected before the time limit: a livelock, or "
                   "a storm of timers or messages? Raise max_events= if the load is real")
        return (f"{what} stopped after {budget:,} events at t={self.now:.3f} ms "
                f"(seed={self.seed!r}): {why}. Most frequent recent events: {hint or 'none'}")

    def __repr__(self) -> str:
        up = [n for n in self.nodes if n not in self.crashed]
        return (f"<Simulation seed={self.seed!r} t={self.now:g} ms, nodes up: {', '.join(up)}"
                f"{'; crashed: ' + ', '.join(sorted(self.crashed)) if self.crashed else ''}; "
                f"{len(self.trace)} trace events>")


def _send_message(node: Node, dst: str, msg: Any) -> None:
    """``node.send(dst, msg)`` in a simulation: check, trace and schedule the delivery.

    `Simulation` binds it to every node it builds, as that node's ``send``, so that a send
    costs one call instead of two (``Node.send``, then the runtime's ``_send``): it is half
    of a simulation's work. ``Simulation._send``, which ``broadcast`` calls, comes here too.
    """
    sim: Simulation = node._runtime
    if dst not in sim.nodes:
        sim._node(dst)  # raises the clear error
    cls = type(msg)
    if sim.check_messages:
        # the common case, a known frozen dataclass of scalars, takes one quick test (asked
        # first: one lookup for it, two for a plain string or number)
        fields_are_scalars = scalar_fields_test(cls)
        if fields_are_scalars is not None:
            if not fields_are_scalars(msg):
                check_message(msg)
        elif cls not in IMMUTABLE_SCALARS:
            check_message(msg)
    now = sim.now
    # an Envelope, built as a plain tuple: calling the NamedTuple class would cost 10%
    record = (now, "send", node.id, dst, next(sim._msg_ids), msg)
    events = sim._events
    if events is not None:
        events.extend(record)
    net = sim.network
    if net.plain:  # no loss, duplication, reordering, bandwidth or per-link settings
        latency = net.latency
        if type(latency) is Uniform:  # the default, drawn here: a call less per message
            delay = latency.low + latency.width * sim._net_rng.random()
        else:
            delay = latency.sample(sim._net_rng)
        time = now + delay
        if time < sim.scheduler.horizon:  # (the inline form of Scheduler.push)
            heappush(sim._heap, (time, next(sim._seq), sim._deliver_fn, record))
        else:
            sim.scheduler.calendar.add((time, next(sim._seq), sim._deliver_fn, record))
    else:
        sim._send_unreliable(record)
