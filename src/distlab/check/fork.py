"""Stateful exploration: snapshots of a running simulation, forked to take one step.

The schedule explorer (`distlab.check.explore`) can reach a state in two ways. *Replay*
re-executes the state's whole schedule from a fresh simulation. This module does the other:
it keeps a **snapshot** of every state still to expand, and takes one step from it by
loading the snapshot into one working simulation and running a single event. Reaching a state
costs one event instead of a whole schedule, and a step a node already took from the same
state costs no node code at all: eight to eighteen times faster on the book's configurations,
more on deeper ones (``bench/bench_explore.py`` measures both).

What a snapshot holds, and why it is enough
-------------------------------------------
Everything a step can read or change: the clock; the pending events (a list of immutable
entries, shared between snapshots); every node's timers, its attributes and its ``storage``;
which nodes are down and in which incarnation; the message-id and sequence counters; each
random stream's position; the network's settings and the run's cut and busy links (for
``sim.at`` actions and lossy networks); the clients' operations in ``sim.history``; and what
the invariants that remember the past have remembered.

Node code stays as it is. A node's attributes and storage are saved together, with `pickle`
(the fastest faithful copy in Python: equal values, and objects shared within the node stay
shared -- ``self.log = self.storage["log"]`` still works after a restore). What pickle cannot
copy (a local class, a lambda) is copied with `copy.deepcopy` instead, which never copies the
node itself, another node or the simulation. (Pickle is safe here: the bytes never leave this
process; `distlab.net` does not use it, where bytes come from others.) Loading a snapshot
writes the saved attributes back into the *same* node objects, so that anything that holds a
node -- a ``sim.at`` action, a closure in ``setup`` -- still holds the live one.

Two facts about the simulator keep a step cheap. A step runs the code of one node (a message's
receiver, a timer's owner) and nodes never share memory, so only that node's snapshot can
change: the others are shared with the parent state, and so are their parts of the state's
key (`distlab.check.canonical` is the expensive part, and is cached by the saved bytes).
A ``sim.at`` action may touch anything, so after one everything is saved again.

Steps taken again
-----------------
A node's saved versions are interned by content (attributes, storage, stream position), and
what a node did when it handled an event from a version -- its new version, the messages it
sent, the timers it set or cancelled -- is remembered as a `_Transition`. The same node in the
same version handling an equal event (the same message from the same sender, or the same
timer) in another interleaving of the others' steps does the same again: the explorer applies
the remembered effects instead of running the handler, pickling the node and canonicalising
it (nine steps in ten, on the book's configurations). This holds because a handler reads only
its node's own state, the event and the clock: a handler that reads ``self.now`` is noticed,
and its steps are remembered per reading of the clock. A step is remembered only if every
effect is one this module reproduces exactly (deliveries over a plain network with a constant
latency, timers of the node itself, no draw from the network's stream); any other runs.

The invariants then read the nodes through *views*: a version unpickled once and kept with it,
swapped in as the node's ``__dict__``, shared by every state that holds that version. Node code
never runs on a view: a node gets a private copy before its handler runs (`ForkEngine.load`).

When every invariant reads only the nodes (`Invariant.reads_only_nodes`), the invariants
are checked once per combination of the nodes' versions, which nodes are down and what the
invariants remember: a state that differs from one already checked only by its messages in
flight, its timers or its clock is not checked again (`ForkEngine.check_state`), and its
nodes are not even loaded.

The random streams are `random.Random` objects that count what they have drawn; a stream's
position is its starting state and that count, restored by drawing as many words again (in
one call) instead of copying the generator's 625 words of state after every step.

What it assumes, beyond the determinism that replaying needs: nodes share no mutable object
(the simulator's contract: messages are immutable, and a node never reaches another's
memory), and a node's ``fingerprint()`` depends only on its own attributes and storage.

The trace is not recorded while exploring (the violating schedule is replayed at the end,
with its trace, for the drawings). An invariant that reads ``sim.trace`` is detected the
first time it does, and the search starts again with the trace recorded in every snapshot.
"""

from __future__ import annotations

import _random
import copy
import pickle
import random
from collections.abc import Callable, Hashable, Sequence
from heapq import heappush
from itertools import count
from operator import itemgetter
from types import MethodType
from typing import TYPE_CHECKING, Any

from distlab.check.canonical import canonical
from distlab.check.invariants import Invariant
from distlab.sim import Client, Node, NodeError, Simulation
from distlab.sim.network import Constant
from distlab.sim.scheduler import Entry
from distlab.sim.times import timer_delay
from distlab.sim.trace import Trace

if TYPE_CHECKING:
    from distlab.check.explore import Choice, _Explorer

#: The attributes of a node that belong to the runtime: put back as they are, never copied.
_LIVE = ("_runtime", "send", "rng")


class TraceNeeded(BaseException):
    """Raised when exploring without a trace and something reads ``sim.trace``.

    A BaseException, so that an ``except Exception`` in an invariant cannot swallow it.
    """


class _UnrecordedTrace(Trace):
    """The trace of a simulation explored without one: any read raises `TraceNeeded`."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(enabled=False)

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TraceNeeded()

    __len__ = __iter__ = __getitem__ = _refuse  # type: ignore[assignment]
    of_kind = counts = to_dicts = dumps = to_jsonl = format = _tuples = _refuse


class CountingRandom(random.Random):
    """A `random.Random` that counts the 32-bit words it has drawn since ``base``.

    Its position is then ``(base, words, gauss_next)``: `restore` goes back to any earlier
    position by reloading ``base`` and drawing ``words`` words again in a single call --
    far cheaper than saving the generator's whole state after every step. It draws exactly
    what a plain `random.Random` in the same state draws.
    """

    def seed(self, *args: Any, **kwargs: Any) -> None:
        super().seed(*args, **kwargs)
        self.base = super().getstate()
        self.words = 0

    def setstate(self, state: tuple) -> None:
        super().setstate(state)
        self.base = state
        self.words = 0

    def random(self) -> float:
        self.words += 2  # a double takes two words of the Mersenne Twister
        return _random.Random.random(self)

    def getrandbits(self, k: int) -> int:
        if k > 0:
            self.words += (k + 31) // 32
        return _random.Random.getrandbits(self, k)

    def position(self) -> tuple:
        """Where the stream is now, as a hashable, comparable value."""
        return self.base, self.words, self.gauss_next

    def restore(self, position: tuple) -> None:
        """Go back (or forward) to a position returned by `position`."""
        base, words, gauss_next = position
        if (words, gauss_next) == (self.words, self.gauss_next) and base is self.base:
            return
        random.Random.setstate(self, base)
        if words:
            _random.Random.getrandbits(self, 32 * words)
        self.base, self.words, self.gauss_next = base, words, gauss_next

    def __reduce__(self) -> Any:
        # A node that keeps its stream under a second name must get the same stream back
        # after a restore, not a copy: refusing to pickle sends it to the deepcopy path,
        # which keeps it by identity.
        raise TypeError("a node's random stream is kept by reference, never copied")


def counting(rng: random.Random) -> CountingRandom:
    """A `CountingRandom` in the same state as ``rng``."""
    tracked = CountingRandom.__new__(CountingRandom)  # (not seeded: its state comes next)
    tracked.gauss_next = None
    tracked.setstate(rng.getstate())
    return tracked


class CannotFork(Exception):
    """This configuration cannot be explored with snapshots (the message says why); the
    explorer replays schedules instead."""


class _Copied:
    """A cell's content copied with `copy.deepcopy`, for what pickle cannot save."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


class _Cell:
    """A part of the simulation saved and restored as one: a node, or all clients with the
    operations they recorded, or the network, or the invariants that remember the past."""

    def __init__(self, name: str, objects: Callable[[], list[Any]]):
        self.name = name
        self.objects = objects  # the live objects of the cell, in the working simulation


class _Version:
    """One saved content of a cell: the objects, their saved attributes, stream positions."""

    __slots__ = ("objects", "data", "positions", "parts", "live")

    def __init__(self, objects: tuple, data: Any, positions: tuple):
        self.objects = objects
        self.data = data          # pickled bytes, or a deep copy when pickle cannot
        self.positions = positions
        self.parts: Any = None    # cached key parts of the nodes in it (see ForkEngine)
        self.live: Any = None     # its attributes and storage, to read only (see `view`)


def actor_of(kind: str, entry: Entry) -> str:
    """The node whose code a delivery or a timer runs."""
    return entry[3][3] if kind == "deliver" else entry[3][0]


class _Transition:
    """What one node did when it handled one event, from one saved version: enough to take
    the same step again from the same version without running its code (see `ForkEngine`).

    ``sends`` are ``(receiver, message, in-flight number)``, ``pushes`` the new entries in
    order, each ``(delay, index into sends or None for a timer, timer name)``; ``timers`` the
    actor's timers that the step fired, set or cancelled, each ``(name, index into pushes
    of its new entry, or None when it is no longer pending)``.
    """

    __slots__ = ("version", "pushes", "sends", "timers", "part")

    def __init__(self, version: _Version, pushes: tuple, sends: tuple, timers: tuple,
                 part: int):
        self.version = version
        self.pushes = pushes
        self.sends = sends
        self.timers = timers
        self.part = part


class _Snapshot:
    """A state of the search, to expand later (or a child just reached)."""

    __slots__ = ("path", "now", "heap", "timers", "crashed", "incarnation", "clocks",
                 "versions", "net_position", "msg_next", "seq_next", "events", "parts",
                 "inflight", "by_seq", "timer_key", "runs", "cuts", "drops", "crashes",
                 "memory", "enabled", "derive")


class ForkEngine:
    """Stateful search steps for `distlab.check.explore`: restore a snapshot, take a step.

    It offers the same operations as the replay engine -- ``initial``, ``step``, ``key``,
    ``choices``, ``keep`` -- and its keys and choices equal the replay engine's, state for
    state (``tests/check/test_explore_fast.py`` checks it), so both explore the same states
    in the same order.
    """

    def __init__(self, explorer: _Explorer, *, keep_trace: bool):
        self.explorer = explorer
        self.keep_trace = keep_trace
        self.sim: Simulation = explorer.build(trace=keep_trace,
                                              trace_object=None if keep_trace
                                              else _UnrecordedTrace())
        self.run_starts()
        if self.sim._monitors:
            raise CannotFork("setup(sim) installed monitors (watch or add_monitor), whose "
                             "memory snapshots cannot save")
        sim = self.sim
        self.ids = list(sim.nodes)
        self.servers = [i for i in self.ids if not isinstance(sim.nodes[i], Client)]
        self.clients = [i for i in self.ids if isinstance(sim.nodes[i], Client)]
        self.remembering = explorer.remembering
        self.deliver_fn = sim._deliver_fn
        self.fire_fn = sim._fire
        self.intern: dict[Hashable, int] = {}
        self.as_is: dict[type, bool] = {}
        self.part_cache: dict[Any, Any] = {}
        # the cells: one per server node, then the clients, the network, the invariants
        self.cells = [_Cell(i, lambda i=i: [self.sim.nodes[i]]) for i in self.servers]
        self.cell_of = {i: n for n, i in enumerate(self.servers)}
        self.position = {i: n for n, i in enumerate(self.ids)}
        if self.clients:
            self.cell_of.update({i: len(self.cells) for i in self.clients})
            self.cells.append(_Cell("clients", lambda: [self.sim.nodes[i] for i in self.clients]))
        self.net_cell = len(self.cells)
        self.cells.append(_Cell("network", lambda: [self.sim.network]))
        self.inv_cell = len(self.cells) if self.remembering else None
        if self.remembering:
            self.cells.append(_Cell("invariants", lambda: list(self.remembering)))
        self.loaded: list[_Version | None] = [None] * len(self.cells)
        self.private = [True] * len(self.cells)  # whether loaded[cell] is a private copy
        self.deepest: _Snapshot | None = None
        self.net_loaded: tuple | None = None
        # whether the invariants' memory() can change only with what they save (it can if
        # one that does not declare ``remembers`` still overrides memory())
        self.plain_memory = all(inv.remembers or type(inv).memory is Invariant.memory
                                for inv in explorer.invariants)
        self.track_streams()
        self.specs = len(sim._specs)
        self.server_cells = len(self.servers)
        # each remembering invariant, with the names of its own bound methods (its ``fn``),
        # which stay as they are instead of being saved
        self.own_methods = [(inv, [name for name, value in vars(inv).items()
                                   if isinstance(value, MethodType) and value.__self__ is inv])
                            for inv in self.remembering]
        # the transitions of single nodes already taken (see `step`), and the server nodes'
        # versions interned by content, so that equal versions are the same object
        self.transitions: dict[Hashable, Any] = {}
        self.versions: dict[Hashable, _Version] = {}
        self.memoise = not keep_trace
        self.clock_read = False
        self.timer_delays: list[float] = []
        self.timers_touched: list[str] = []
        self.watch_runtime()
        # the invariants' saved versions, interned by content; and the states of the nodes
        # (and the invariants' memory) in which the invariants held without changing what
        # they remember, when every invariant reads only the nodes (see `check_state`)
        self.invariant_versions: dict[bytes, _Version] = {}
        self.held: set[tuple] | None = (
            set() if not keep_trace and all(inv.reads_only_nodes for inv in explorer.invariants)
            else None)

    def watch_runtime(self) -> None:
        """Note when node code reads its clock, and the delay of every timer it sets.

        A node's step can be taken again without running its code only if it did not read
        ``self.now`` (or the reading is part of what identifies the step), and the new timers'
        times are then ``now + delay`` with the very delays it computed.
        """
        sim = self.sim
        clock, set_timer, cancel_timer = sim._clock, sim._set_timer, sim._cancel_timer
        delays, touched = self.timer_delays, self.timers_touched
        engine = self

        def read_clock(node: Node) -> float:
            engine.clock_read = True
            return clock(node)

        def set_timer_noted(node: Node, delay: float, name: str) -> None:
            set_timer(node, delay, name)
            # the same delay as Simulation._set_timer's (checked against the entry's time)
            delay = timer_delay(node.id, delay, name)
            drift = sim._clocks.get(node.id)
            delays.append(delay if drift is None else delay / (1.0 + drift[1]))
            touched.append(name)

        def cancel_timer_noted(node: Node, name: str) -> None:
            cancel_timer(node, name)
            touched.append(name)

        sim._clock = read_clock  # type: ignore[method-assign]
        sim._set_timer = set_timer_noted  # type: ignore[method-assign]
        sim._cancel_timer = cancel_timer_noted  # type: ignore[method-assign]

    # -- random streams --------------------------------------------------------------------
    def track_streams(self) -> None:
        """Give every node (and the network) a counting stream in the same state."""
        sim = self.sim
        if type(sim._net_rng) is not CountingRandom:
            sim._net_rng = counting(sim._net_rng)
        for node_id, node in sim.nodes.items():
            rng = node.rng
            if type(rng) is CountingRandom:
                continue
            if any(value is rng for name, value in vars(node).items() if name != "rng"):
                raise CannotFork(f"node {node_id!r} keeps self.rng under another name too")
            node.rng = counting(rng)

    # -- saving and loading cells ------------------------------------------------------------
    def payload(self, cell: int) -> Any:
        """What is saved of a cell: its objects' attributes (and storage, and history)."""
        sim = self.sim
        if cell == self.net_cell:  # its settings, and the run's state of its links
            return vars(sim.network), sim._cut_links, sim._busy_until
        if cell == self.inv_cell:
            saved = []
            for inv in self.remembering:
                attrs = vars(inv).copy()
                for name, value in vars(inv).items():
                    if isinstance(value, MethodType) and value.__self__ is inv:
                        del attrs[name]  # its own method (Invariant.fn): kept as it is
                saved.append(attrs)
            return saved
        saved = []
        for node in self.cells[cell].objects():
            attrs = vars(node).copy()
            for name in _LIVE:
                attrs.pop(name, None)
            saved.append((attrs, sim._storage[node.id]))
        if self.cells[cell].name == "clients":
            return saved, sim.history.operations
        return saved

    def memo(self, objects: Sequence[Any] = ()) -> dict[int, Any]:
        """What `copy.deepcopy` must keep by identity: the simulation, its nodes (and the
        cell's ``objects``, which may be an earlier incarnation), their streams."""
        sim = self.sim
        keep: list[Any] = [sim, sim.network, sim.history, sim._net_rng, *self.remembering]
        for node in [*sim.nodes.values(), *objects]:
            keep += [node, getattr(node, "rng", None)]
        return {id(obj): obj for obj in keep}

    def save(self, cell: int) -> _Version:
        """A new version of ``cell`` holding what its objects hold now."""
        objects = tuple(self.cells[cell].objects())
        payload = self.payload(cell)
        try:
            data: Any = pickle.dumps(payload, pickle.HIGHEST_PROTOCOL)
        except Exception:  # pickle's errors vary: PicklingError, TypeError, AttributeError
            data = _Copied(copy.deepcopy(payload, self.memo(objects)))
        positions = tuple([obj.rng.position() if isinstance(obj, Node) else None
                           for obj in objects])
        return _Version(objects, data, positions)

    def load(self, cell: int, version: _Version) -> None:
        """Write ``version`` back into the live objects of ``cell``."""
        sim = self.sim
        data = version.data
        if cell < self.server_cells and type(data) is bytes:  # the quick, frequent case
            node = version.objects[0]
            own = node.__dict__
            runtime, rng, send = own["_runtime"], own["rng"], own.get("send")
            [(attrs, storage)] = pickle.loads(data)
            attrs["_runtime"], attrs["rng"] = runtime, rng
            if send is not None:
                attrs["send"] = send
            node.__dict__ = attrs  # a new dict: the one it had may be a version's view
            self.private[cell] = True
            sim._storage[node.id] = storage
            sim.nodes[node.id] = node
            position = version.positions[0]
            if position[1] != rng.words or position[0] is not rng.base:
                rng.restore(position)
            else:
                rng.gauss_next = position[2]
            self.loaded[cell] = version
            return
        payload = (copy.deepcopy(data.value, self.memo(version.objects))
                   if type(data) is _Copied else pickle.loads(data))
        if cell == self.net_cell:
            settings, sim._cut_links, sim._busy_until = payload
            vars(sim.network).clear()
            vars(sim.network).update(settings)
        elif cell == self.inv_cell:
            for inv, saved in zip(self.remembering, payload):
                vars(inv).update(saved)
        else:
            if self.cells[cell].name == "clients":
                payload, operations = payload
                sim.history.operations[:] = operations
            for node, (attrs, storage), position in zip(version.objects, payload,
                                                        version.positions):
                own = vars(node)
                live = [(name, own[name]) for name in _LIVE if name in own]
                attrs = dict(attrs)
                attrs.update(live)
                node.__dict__ = attrs  # (a new dict, as above)
                sim._storage[node.id] = storage
                sim.nodes[node.id] = node
                node.rng.restore(position)
        self.loaded[cell] = version
        self.private[cell] = True

    def view(self, cell: int, version: _Version) -> None:
        """Show ``version`` of a server node's cell in its live node, to be read only (by the
        invariants, and for the key): the node's ``__dict__`` becomes the version's own
        unpickled attributes, kept with the version and shared by every state that holds it,
        instead of a private copy. `load` makes a private copy before node code runs."""
        data = version.data
        if type(data) is not bytes:
            self.load(cell, version)
            return
        node = version.objects[0]
        live = version.live
        if live is None:
            own = node.__dict__
            [(attrs, storage)] = pickle.loads(data)
            attrs["_runtime"], attrs["rng"] = own["_runtime"], own["rng"]
            if "send" in own:
                attrs["send"] = own["send"]
            live = version.live = (attrs, storage)
        node.__dict__ = live[0]
        sim = self.sim
        sim._storage[node.id] = live[1]
        sim.nodes[node.id] = node
        self.loaded[cell] = version
        self.private[cell] = False

    def own_all(self) -> None:
        """Make every server node's loaded version a private copy (before a step that may
        change any of them: a crash, a restart, a ``sim.at`` action)."""
        for cell in range(self.server_cells):
            if not self.private[cell] and self.loaded[cell] is not None:
                self.load(cell, self.loaded[cell])

    def resave_node(self, cell: int, before: _Version) -> _Version:
        """`resave` for the cell of one server node: the most frequent case, made quick."""
        node = self.sim.nodes[self.servers[cell]]
        attrs = vars(node).copy()
        for name in _LIVE:
            attrs.pop(name, None)
        try:
            data = pickle.dumps([(attrs, self.sim._storage[node.id])], pickle.HIGHEST_PROTOCOL)
        except Exception:
            return self.resave(cell, before)
        rng = node.rng
        if data == before.data and node is before.objects[0]:
            base, words, gauss_next = before.positions[0]
            if words == rng.words and base is rng.base and gauss_next == rng.gauss_next:
                self.loaded[cell] = before
                return before
        position = rng.position()
        content = (id(node), data, id(position[0]), position[1], position[2])
        after = self.versions.get(content)
        if after is None:
            after = self.versions[content] = _Version((node,), data, (position,))
        self.loaded[cell] = after
        return after

    def resave_invariants(self, before: _Version) -> _Version:
        """`resave` for the invariants that remember: checked after every step."""
        saved = []
        for inv, own_methods in self.own_methods:
            attrs = vars(inv).copy()
            for name in own_methods:
                attrs.pop(name, None)
            saved.append(attrs)
        try:
            data = pickle.dumps(saved, pickle.HIGHEST_PROTOCOL)
        except Exception:
            return self.resave(self.inv_cell, before)
        if data == before.data:
            self.loaded[self.inv_cell] = before
            return before
        after = self.invariant_versions.get(data)
        if after is None:
            after = self.invariant_versions[data] = _Version(before.objects, data,
                                                             before.positions)
        self.loaded[self.inv_cell] = after
        return after

    def resave(self, cell: int, before: _Version) -> _Version:
        """The version of ``cell`` after a step: ``before`` itself if nothing changed."""
        after = self.save(cell)
        if (type(after.data) is bytes and after.data == before.data
                and after.objects == before.objects and after.positions == before.positions):
            after = before
        self.loaded[cell] = after
        return after

    # -- the key's parts ---------------------------------------------------------------------
    def node_parts(self, cell: int, version: _Version) -> tuple:
        """``(canonical fingerprint, canonical storage)`` of each node of a cell's version,
        computed once per saved content (the objects must hold that version now)."""
        if version.parts is None:
            cached = self.part_cache.get(version.data) if type(version.data) is bytes else None
            if cached is None:
                cached = tuple((canonical(node.fingerprint()), canonical(node.storage))
                               for node in version.objects)
                if type(version.data) is bytes:
                    self.part_cache[version.data] = cached
            version.parts = cached
        return version.parts

    def part(self, node_id: str, versions: Sequence[_Version]) -> int:
        """The interned part of the key that describes node ``node_id``."""
        cell = self.cell_of[node_id]
        version = versions[cell]
        position = 0 if cell < len(self.servers) else self.clients.index(node_id)
        fingerprint, storage = self.node_parts(cell, version)[position]
        crashed = node_id in self.sim.crashed
        return self.interned((node_id, crashed, None if crashed else fingerprint, storage))

    def interned(self, value: Hashable) -> int:
        """A small int standing for ``value`` (equal values, equal ints): cheap to hash."""
        number = self.intern.get(value)
        if number is None:
            number = self.intern[value] = len(self.intern)
        return number

    def in_flight(self, entry: Entry) -> int:
        """The interned ``(sender, receiver, canonical message)`` of a pending delivery."""
        _, _, src, dst, _, msg = entry[3]
        kind = type(msg)
        as_is = self.as_is.get(kind)
        if as_is is None:
            params = getattr(kind, "__dataclass_params__", None)
            as_is = self.as_is[kind] = (kind in (int, float, str, bytes, bool, type(None))
                                        or (params is not None and params.frozen
                                            and params.eq))
        if as_is:  # its own canonical form (see canonical()), when it hashes
            try:
                return self.interned((src, dst, msg))
            except TypeError:
                pass
        return self.interned((src, dst, canonical(msg)))

    def count_in_flight(self, snap: _Snapshot) -> None:
        """The messages in flight, from scratch (after a crash or a ``sim.at`` action)."""
        crashed, restarts = self.sim.crashed, self.explorer.restarts
        snap.by_seq, snap.inflight = {}, {}
        for entry in self.sim.scheduler.heap:
            if entry[2] is self.deliver_fn and (entry[3][3] not in crashed or restarts):
                number = snap.by_seq[entry[1]] = self.in_flight(entry)
                snap.inflight[number] = snap.inflight.get(number, 0) + 1

    def count_others(self, snap: _Snapshot) -> None:
        """The pending ``sim.at`` actions and the cut links (only ``sim.at`` changes them)."""
        sim = self.sim
        runs: dict[Hashable, int] = {}
        for entry in sim.scheduler.heap:
            if sim.entry_kind(entry) == "run":
                fn, args = entry[3]
                run = (getattr(fn, "__qualname__", repr(fn)), canonical(args))
                runs[run] = runs.get(run, 0) + 1
        snap.runs = frozenset(runs.items())
        snap.cuts = sim.cut_links

    # -- the engine's operations ---------------------------------------------------------------
    def initial(self) -> tuple[_Snapshot, tuple[str, str] | None]:
        """The initial state (``setup`` ran, every node started) and any violation in it."""
        found = self.check()
        sim = self.sim
        snap = _Snapshot()
        snap.path = ()
        snap.drops = snap.crashes = 0
        snap.versions = [self.save(cell) for cell in range(len(self.cells))]
        for cell in range(self.server_cells):  # interned, as `resave_node` does
            version = snap.versions[cell]
            if type(version.data) is bytes:
                base, words, gauss_next = version.positions[0]
                content = (id(version.objects[0]), version.data, id(base), words, gauss_next)
                snap.versions[cell] = self.versions.setdefault(content, version)
        for cell, version in enumerate(snap.versions):
            self.loaded[cell] = version
        snap.crashed = frozenset(sim.crashed)
        snap.incarnation = dict(sim._incarnation)
        snap.clocks = dict(sim._clocks)
        self.count_in_flight(snap)
        self.count_others(snap)
        snap.parts = tuple([self.part(node_id, snap.versions) for node_id in self.ids])
        snap.timer_key = self.timer_key()
        snap.memory = self.memory()
        self.finish(snap, None)
        return snap, found

    def check(self) -> tuple[str, str] | None:
        """The first invariant that does not hold now, as (name, explanation), or None."""
        for inv in self.explorer.invariants:
            explanation = inv.check(self.sim)
            if explanation is not None:
                return inv.name, explanation
        return None

    def check_state(self, versions: list[_Version], crashed: frozenset
                    ) -> tuple[str, str] | None:
        """`check` in the state whose cells hold ``versions`` (the invariants' version before
        the check, replaced in ``versions`` by the one after it when they hold).

        When every invariant reads only the nodes (`Invariant.reads_only_nodes`), their
        verdict is a function of the nodes' versions, which nodes are down and what the
        invariants remember: a check that held without changing what they remember is not
        run again in the same node states (the messages in flight, the timers and the clock
        may differ). The nodes are loaded (as views) only when the check runs.
        """
        held, inv_cell = self.held, self.inv_cell
        state = None
        if held is not None:
            state = (*versions[:self.net_cell], crashed,
                     None if inv_cell is None else versions[inv_cell])
            if state in held:
                return None
        self.show(versions)
        found = self.check()
        if found is None:
            if inv_cell is not None:
                before = versions[inv_cell]
                versions[inv_cell] = self.resave_invariants(before)
                if versions[inv_cell] is not before:
                    return None
            if state is not None:
                held.add(state)
        return found

    def restore(self, snap: _Snapshot) -> None:
        """Put the working simulation in the state of ``snap``."""
        self.restore_events(snap)
        self.show(snap.versions)

    def show(self, versions: Sequence[_Version], skip: int = -1) -> None:
        """Load ``versions`` in the cells (but ``skip``) that hold another one: server nodes
        as views, to read (a step's actor gets a private copy before its code runs)."""
        loaded, servers = self.loaded, self.server_cells
        for cell, version in enumerate(versions):
            if loaded[cell] is not version and cell != skip:
                if cell < servers:
                    self.view(cell, version)
                else:
                    self.load(cell, version)

    def restore_events(self, snap: _Snapshot) -> None:
        """Put the working simulation's clock, pending events, timers, counters, streams and
        trace in the state of ``snap`` (its cells: `show`).

        What only crashes, restarts and ``sim.at`` actions change (the crashed set, the
        incarnations, the clocks) is shared with the snapshot here, and copied by `step`
        before such a step.
        """
        sim = self.sim
        sim.now = snap.now
        sim.scheduler.heap[:] = snap.heap
        sim._timers = snap.timers.copy()
        sim.crashed = snap.crashed
        sim._incarnation = snap.incarnation
        sim._clocks = snap.clocks
        sim._msg_ids = count(snap.msg_next)
        sim.scheduler.seq = sim._seq = count(snap.seq_next)
        if snap.net_position is not self.net_loaded:
            sim._net_rng.restore(snap.net_position)
            self.net_loaded = snap.net_position
        if self.keep_trace:
            sim.trace._events[:] = snap.events

    def run(self, entry: Entry) -> None:
        """Run one pending entry, as ``sim.step()`` would (without asking the trace)."""
        sim = self.sim
        sim.scheduler.heap.remove(entry)
        if entry[0] > sim.now:
            sim.now = entry[0]
        try:
            entry[2](entry[3])
        except Exception as exc:
            raise sim._handler_error(entry, exc) from exc

    def run_starts(self) -> None:
        """Run the pending on_start of a restarted node (starting is not a choice)."""
        sim = self.sim
        for entry in sorted(e for e in sim.scheduler.heap if sim.entry_kind(e) == "start"):
            self.run(entry)

    def transition_key(self, parent: _Snapshot, kind: str, entry: Entry
                       ) -> tuple[str, int, Hashable] | None:
        """``(actor, cell, key)`` of a delivery or a timer that one server node handles, when
        its step may be taken again from a memo (see `step`); None when it may not."""
        if kind == "deliver":
            _, _, src, actor, _, _ = entry[3]
            if actor in parent.crashed or (src, actor) in parent.cuts:
                return None  # dropped without running node code
            event: Hashable = parent.by_seq.get(entry[1])
            if event is None:
                return None
        else:
            actor, name = entry[3]
            if parent.timers[actor].get(name) is not entry[3]:
                return None
            event = ("timer", name)
        cell = self.cell_of[actor]
        if cell >= self.server_cells:
            return None
        sim = self.sim
        net = sim.network
        if not net.plain or type(net.latency) is not Constant:
            return None
        return actor, cell, (parent.versions[cell], event, net.latency.ms,
                             sim._clocks.get(actor))

    def step(self, parent: _Snapshot, choice: Choice) -> tuple[_Snapshot, tuple[str, str] | None]:
        """Take ``choice`` from the state ``parent``; the working simulation is then in the
        child's state, which the returned snapshot describes (its copies come in `keep`).

        A delivery or a timer runs the code of one node, whose effects depend only on its
        saved version (attributes, storage, random position), the event, and the clock if it
        reads it. The first time a node takes a step from a version, what it did is kept as
        a `_Transition`; when the same step comes again from the same version (in another
        interleaving of the other nodes' steps), its effects are applied without running
        its code, pickling it or computing its part of the key.
        """
        sim = self.sim
        kind, target, _ = choice
        entry: Any = None
        memo = None
        index = 0
        if kind == "deliver" or kind == "fire" or kind == "drop" or kind == "run":
            for index, entry in enumerate(parent.heap):
                if entry[1] == target:
                    break
        if self.memoise and (kind == "deliver" or kind == "fire"):
            memo = self.transition_key(parent, kind, entry)
        if memo is not None:
            actor, cell, memo_key = memo
            self.restore_events(parent)
            known = self.transitions.get(memo_key)
            if type(known) is dict:  # the node read its clock: the clock is part of the key
                known = known.get(entry[0] if entry[0] > sim.now else sim.now)
            if known is not None:
                return self.retake(parent, choice, entry, index, actor, cell, known)
            self.show(parent.versions, skip=cell)
            if self.loaded[cell] is not parent.versions[cell] or not self.private[cell]:
                self.load(cell, parent.versions[cell])
            self.clock_read = False
            self.timer_delays.clear()
            self.timers_touched.clear()
            net_words = sim._net_rng.words
        else:
            self.restore(parent)
            if kind == "run":  # a sim.at action may change any node
                self.own_all()
            elif kind != "drop" and kind != "crash" and not (
                    kind == "deliver" and (entry[3][3] in sim.crashed
                                           or (entry[3][2], entry[3][3]) in sim._cut_links)):
                # (a crash runs no node code, nor a delivery to a crashed node or over a cut)
                # the node that runs code (a restart builds it on its storage) needs its
                # own copy
                node_id = target if kind == "restart" else actor_of(kind, entry)
                cell = self.cell_of[node_id]
                if not self.private[cell]:
                    self.load(cell, self.loaded[cell])
        # which nodes run code: only their parts of the state can change (and their timers
        # must be copied before they change: the parent's stay as they were)
        if kind == "deliver":
            _, _, src, dst, _, _ = entry[3]
            # a message to a crashed node, or over a cut link, is dropped on arrival: no node
            # code runs
            actors = () if dst in sim.crashed or (src, dst) in sim._cut_links else (dst,)
        elif kind == "fire":
            actors = (entry[3][0],)
        elif kind == "drop":
            actors = ()
        else:
            actors = (target,) if kind != "run" else tuple(self.ids)
            sim.crashed = set(parent.crashed)
            sim._incarnation = dict(parent.incarnation)
            sim._clocks = dict(parent.clocks)
        for node_id in actors:
            sim._timers[node_id] = dict(parent.timers[node_id])
        try:
            match kind:
                case "crash":
                    sim.crash(target)
                case "restart":
                    sim.restart(target)
                    self.track_streams()
                    self.run_starts()
                case "drop":
                    sim.scheduler.heap.remove(entry)
                    _, _, src, dst, msg_id, _ = entry[3]
                    sim.trace.record(sim.now, "drop", dst, src, msg_id, "loss")
                case _:
                    self.run(entry)
                    if kind == "run":
                        self.track_streams()
        except NodeError as exc:
            found: tuple[str, str] | None = ("node handlers run without raising", str(exc))
        else:
            found = self.check()
        child = _Snapshot()
        child.path = (*parent.path, choice)
        child.drops = parent.drops + (kind == "drop")
        child.crashes = parent.crashes + (kind == "crash")
        if found is None:
            self.advance(parent, child, kind, target, actors)
            if memo is not None and sim._net_rng.words == net_words:
                self.remember(parent, child, entry, *memo)
        return child, found

    def remember(self, parent: _Snapshot, child: _Snapshot, entry: Entry, actor: str,
                 cell: int, memo_key: Hashable) -> None:
        """Keep what ``actor`` just did (from ``parent`` to ``child``) as a `_Transition`,
        if every effect is one that `retake` reproduces exactly."""
        sim = self.sim
        now = sim.now
        clock_read = self.clock_read  # (before an invariant's reads: checked already)
        # the new entries in the order they were made (their sequence numbers)
        new = sorted([e for e in sim.scheduler.heap if e[1] >= parent.seq_next],
                     key=itemgetter(1))
        latency = sim.network.latency.ms
        delays = iter(self.timer_delays)
        pushes, sends = [], []
        msg_id = parent.msg_next
        for at, _, fn, arg in new:
            if fn is self.deliver_fn:
                if (arg[0] != now or arg[2] != actor or arg[4] != msg_id
                        or at != now + latency):
                    return
                msg_id += 1
                pushes.append((latency, len(sends), None))
                sends.append((arg[3], arg[5], self.in_flight((at, 0, None, arg))))
            elif fn == self.fire_fn and arg[0] == actor:
                delay = next(delays, None)
                if delay is None or at != now + delay:
                    return
                pushes.append((delay, None, arg[1]))
            else:
                return  # something else (a sim.at action): not reproduced
        if next(delays, None) is not None or msg_id != child.msg_next:
            return
        # the actor's timers: the parent's, but for those it fired, set or cancelled (the
        # node cannot see which timers it has: the parent's others stay as they were)
        after, tokens = sim._timers[actor], [e[3] for e in new]
        touched = set(self.timers_touched)
        if entry[2] == self.fire_fn:
            touched.add(entry[3][1])
        timers = []
        for name in sorted(touched):
            token = after.get(name)
            if token is None:
                timers.append((name, None))
            else:
                index = next((i for i, t in enumerate(tokens) if t is token), None)
                if index is None:
                    return
                timers.append((name, index))
        if any(name not in touched and token is not parent.timers[actor].get(name)
               for name, token in after.items()):
            return
        known = _Transition(child.versions[cell], tuple(pushes), tuple(sends), tuple(timers),
                            child.parts[self.position[actor]])
        if clock_read:
            by_clock = self.transitions.get(memo_key)
            if type(by_clock) is not dict:
                by_clock = self.transitions[memo_key] = {}
            by_clock[now] = known
        else:
            self.transitions[memo_key] = known

    def retake(self, parent: _Snapshot, choice: Choice, entry: Entry, index: int, actor: str,
               cell: int, known: _Transition) -> tuple[_Snapshot, tuple[str, str] | None]:
        """Take again a step that ``actor`` already took from the same version: what `run`
        and `advance` do, from the `_Transition` instead of running node code."""
        sim = self.sim
        heap = sim.scheduler.heap
        del heap[index]  # (the working heap is a copy of the parent's, in the same order)
        now = sim.now
        if entry[0] > now:
            sim.now = now = entry[0]
        seq, msg_id = parent.seq_next, parent.msg_next
        deliver_fn, fire_fn, sends = self.deliver_fn, self.fire_fn, known.sends
        new = []
        for delay, send, name in known.pushes:
            if send is not None:
                dst, msg, _ = sends[send]
                item = (now + delay, seq, deliver_fn, (now, "send", actor, dst, msg_id, msg))
                msg_id += 1
            else:
                item = (now + delay, seq, fire_fn, (actor, name))
            heappush(heap, item)
            new.append(item)
            seq += 1
        before = timers = parent.timers[actor]
        if known.timers:
            timers = sim._timers[actor] = dict(before)
            for name, push in known.timers:
                if push is None:
                    timers.pop(name, None)
                else:
                    timers[name] = new[push][3]
        # (the counters of the working simulation are set by the next `restore`: no node
        # code runs before it)
        versions = parent.versions.copy()
        versions[cell] = known.version
        found = self.check_state(versions, parent.crashed)
        child = _Snapshot()
        child.path = (*parent.path, choice)
        child.drops, child.crashes = parent.drops, parent.crashes
        if found is not None:
            return child, found
        inv_cell = self.inv_cell
        child.versions = versions
        child.crashed = parent.crashed
        child.incarnation, child.clocks = sim._incarnation, sim._clocks
        child.runs, child.cuts = parent.runs, parent.cuts
        by_seq, inflight = parent.by_seq.copy(), parent.inflight.copy()
        if choice[0] == "deliver":
            number = by_seq.pop(entry[1])
            if inflight[number] == 1:
                del inflight[number]
            else:
                inflight[number] -= 1
        restarts, crashed = self.explorer.restarts, sim.crashed
        for item, (_, send, _) in zip(new, known.pushes):
            if send is not None:
                dst, _, number = sends[send]
                if restarts or dst not in crashed:
                    by_seq[item[1]] = number
                    inflight[number] = inflight.get(number, 0) + 1
        child.by_seq, child.inflight = by_seq, inflight
        parts = list(parent.parts)
        parts[self.position[actor]] = known.part
        child.parts = tuple(parts)
        child.timer_key = (parent.timer_key if timers is before or timers.keys() == before.keys()
                           else self.timer_key())
        if self.plain_memory and (inv_cell is None
                                  or versions[inv_cell] is parent.versions[inv_cell]):
            child.memory = parent.memory
        else:
            child.memory = self.memory()
        # what `finish` records (the network's stream did not move)
        child.now, child.msg_next, child.seq_next = now, msg_id, seq
        # the child's choices are the parent's, but for the entry taken and the timers the
        # actor fired, cancelled or set again, and with the new entries (see `choices`)
        gone = tuple([before[name] for name, _ in known.timers if name in before])
        child.derive = (parent, entry[1], gone, new, timers)
        child.net_position = parent.net_position
        return child, None

    def advance(self, parent: _Snapshot, child: _Snapshot, kind: str, target: Any,
                actors: tuple[str, ...]) -> None:
        """Fill in ``child``, just reached from ``parent``, sharing what did not change."""
        sim = self.sim
        everything = kind == "run"
        if everything and len(sim._specs) != self.specs:
            raise CannotFork("a sim.at action added nodes")
        # the cells that may have changed: the actors', the network's, the invariants'
        before = parent.versions
        versions = before.copy()
        if everything:
            cells = range(len(self.cells))
        else:
            cells = [self.cell_of[node_id] for node_id in actors]
            if not sim.network.plain:
                cells.append(self.net_cell)
        servers = len(self.servers)
        for cell in cells:
            versions[cell] = (self.resave_node(cell, before[cell]) if cell < servers
                              else self.resave(cell, before[cell]))
        inv_cell = self.inv_cell
        if inv_cell is not None and not everything:
            versions[inv_cell] = self.resave_invariants(before[inv_cell])
        child.versions = versions
        if kind == "deliver" or kind == "fire" or kind == "drop":
            child.crashed = parent.crashed
        else:
            child.crashed = frozenset(sim.crashed)
        child.incarnation, child.clocks = sim._incarnation, sim._clocks
        if everything:
            self.count_others(child)
        else:
            child.runs, child.cuts = parent.runs, parent.cuts
        restarts = self.explorer.restarts
        if everything or (kind == "crash" and not restarts):
            self.count_in_flight(child)
        else:
            by_seq, inflight = parent.by_seq.copy(), parent.inflight.copy()
            if kind == "deliver" or kind == "drop":
                number = by_seq.pop(target, None)
                if number is not None:
                    if inflight[number] == 1:
                        del inflight[number]
                    else:
                        inflight[number] -= 1
            crashed, deliver_fn, newest = sim.crashed, self.deliver_fn, parent.seq_next
            for entry in sim.scheduler.heap:
                if (entry[1] >= newest and entry[2] is deliver_fn
                        and (restarts or entry[3][3] not in crashed)):
                    number = by_seq[entry[1]] = self.in_flight(entry)
                    inflight[number] = inflight.get(number, 0) + 1
            child.by_seq, child.inflight = by_seq, inflight
        if not actors and (kind == "deliver" or kind == "drop"):
            # no node code ran: every node's part, and the timers, are the parent's
            parts = parent.parts
            child.timer_key = parent.timer_key
        elif kind == "deliver" or kind == "fire":
            actor = actors[0]
            parts = list(parent.parts)
            parts[self.position[actor]] = self.part(actor, versions)
            # timers: unchanged unless the actor's changed (tokens compare by value)
            if sim._timers[actor] == parent.timers[actor]:
                child.timer_key = parent.timer_key
            else:
                child.timer_key = self.timer_key()
        else:
            parts = [self.part(node_id, versions) for node_id in self.ids]
            child.timer_key = self.timer_key()
        child.parts = tuple(parts)
        if (self.plain_memory and not everything
                and (inv_cell is None or versions[inv_cell] is before[inv_cell])):
            child.memory = parent.memory
        else:
            child.memory = self.memory()
        self.finish(child, parent)

    def timer_key(self) -> frozenset:
        """The pending timers, as the replay engine's key holds them."""
        return frozenset([token for pending in self.sim._timers.values()
                          for token in pending.values()])

    def memory(self) -> tuple:
        """What the invariants remember, as the replay engine's key holds it."""
        return tuple([inv.memory() for inv in self.explorer.invariants])

    def finish(self, snap: _Snapshot, parent: _Snapshot | None) -> None:
        """What every state records after its step: the clock, the counters, the network's
        random position."""
        sim = self.sim
        snap.now = sim.now
        snap.msg_next = next(sim._msg_ids)
        snap.seq_next = next(sim._seq)
        sim._msg_ids = count(snap.msg_next)
        sim.scheduler.seq = sim._seq = count(snap.seq_next)
        rng = sim._net_rng
        position = None if parent is None else parent.net_position
        if (position is None or position[1] != rng.words or position[0] is not rng.base
                or position[2] != rng.gauss_next):
            position = rng.position()
        snap.net_position = self.net_loaded = position

    def key(self, snap: _Snapshot) -> Hashable:
        """The state's key: equal exactly when the replay engine's keys are equal."""
        return (snap.parts, frozenset(snap.inflight.items()), snap.timer_key, snap.runs,
                snap.cuts, snap.drops, snap.crashes, snap.memory)

    def choices(self, snap: _Snapshot) -> list[Choice]:
        """The steps enabled in the state just reached (the same as the replay engine's)."""
        derive = getattr(snap, "derive", None)
        if derive is not None and getattr(derive[0], "enabled", None) is not None:
            snap.enabled = self.derived_choices(snap, *derive)
        else:
            snap.enabled = self.enabled(snap)
        snap.derive = None  # (it holds the parent: let it go)
        return snap.enabled

    def derived_choices(self, snap: _Snapshot, parent: _Snapshot, taken: int, gone: tuple,
                        new: list[Entry], timers: dict) -> list[Choice]:
        """`enabled` for a state that `retake` reached: the parent's choices but for the
        entry ``taken`` and the timers ``gone``, and the ``new`` entries' (whose sequence
        numbers come after every other: each goes last among its kind)."""
        explorer = self.explorer
        delivers, drops, fires = [], [], []
        crashed, restarts = snap.crashed, explorer.restarts
        drops_left = explorer.drops - snap.drops
        for item in new:
            if item[2] is self.deliver_fn:
                record = item[3]
                if record[3] in crashed and not restarts:
                    continue
                identity = (record[2], record[3], record[4])
                if explorer.deliver:
                    delivers.append(("deliver", item[1], identity))
                if drops_left > 0:
                    drops.append(("drop", item[1], identity))
            elif explorer.timers and timers.get(item[3][1]) is item[3]:
                fires.append(("fire", item[1], item[3]))
        kept = [c for c in parent.enabled
                if c[1] != taken and not (c[0] == "fire" and c[2] in gone)]
        if not (delivers or drops or fires):
            return kept
        found: list[Choice] = []
        extra = {"deliver": delivers, "drop": drops, "fire": fires}
        order = ("deliver", "drop", "fire")
        i, n = 0, len(kept)
        for kind in order:
            while i < n and kept[i][0] == kind:
                found.append(kept[i])
                i += 1
            found += extra[kind]
        found += kept[i:]
        return found

    def enabled(self, snap: _Snapshot) -> list[Choice]:
        """The steps enabled in the working simulation's state, from its pending entries."""
        explorer, sim = self.explorer, self.sim
        drops_left = explorer.drops - snap.drops
        crashes_left = explorer.crashes - snap.crashes
        crashed = sim.crashed
        deliver_fn, fire_fn = self.deliver_fn, self.fire_fn
        # in the explorer's order (`_Explorer.order`): by kind, then by sequence number; the
        # entries' sequence numbers are distinct, so sorting (seq, choice) compares ints only
        delivers: list[tuple[int, Choice]] = []
        fires: list[tuple[int, Choice]] = []
        runs: list[tuple[int, Choice]] = []
        timers, restarts = sim._timers, explorer.restarts
        deliver, fire = explorer.deliver, explorer.timers
        for entry in sim.scheduler.heap:
            fn = entry[2]
            if fn is deliver_fn:
                record = entry[3]
                if record[3] in crashed and not restarts:
                    continue
                delivers.append((entry[1], record))
            elif fn == fire_fn:
                if fire and timers[entry[3][0]].get(entry[3][1]) is entry[3]:
                    fires.append((entry[1], ("fire", entry[1], entry[3])))
            elif sim.entry_kind(entry) == "run":
                runs.append((entry[1], ("run", entry[1],
                                        getattr(entry[3][0], "__qualname__", None))))
        found: list[Choice] = []
        if delivers:
            delivers.sort()
            if deliver:
                found += [("deliver", seq, (record[2], record[3], record[4]))
                          for seq, record in delivers]
            if drops_left > 0:
                found += [("drop", seq, (record[2], record[3], record[4]))
                          for seq, record in delivers]
        if fires:
            fires.sort()
            found += [choice for _, choice in fires]
        if runs:
            runs.sort()
            found += [choice for _, choice in runs]
        if crashes_left > 0:
            found.extend(("crash", n, None)
                         for n in sorted(n for n in explorer.crashable if n not in crashed))
        if restarts:
            found.extend(("restart", n, None) for n in sorted(crashed))
        return found

    def keep(self, snap: _Snapshot) -> _Snapshot:
        """Complete ``snap`` with copies of what the next step from it will change."""
        sim = self.sim
        snap.heap = list(sim.scheduler.heap)
        snap.timers = dict(sim._timers)
        snap.events = list(sim.trace._events) if self.keep_trace else None
        if self.deepest is None or len(snap.path) >= len(self.deepest.path):
            self.deepest = snap
        return snap

    def path(self, snap: _Snapshot) -> tuple:
        """The schedule that reached ``snap``."""
        return snap.path

    def verify(self) -> None:
        """Replay the deepest state kept, and check that it is the state the snapshots hold.

        Snapshots never re-execute anything, so node code that is not deterministic (that
        reads the wall clock, the random module or a global variable) would go unnoticed:
        this one replay, with the replay engine's own checks, notices it.
        """
        snap = self.deepest
        if snap is None:
            return
        self.restore(snap)
        explorer = self.explorer
        mine = explorer.key(self.sim, snap.path)
        sim, found = explorer.replay(snap.path)
        self.loaded = [None] * len(self.cells)  # the replay reset the invariants
        self.private = [True] * len(self.cells)
        if found is not None or explorer.key(sim, snap.path) != mine:
            raise RuntimeError(
                f"replaying the schedule of {len(snap.path)} steps that the exploration "
                f"reached gives another state than the exploration found: the run diverged. "
                f"Node code must be deterministic: use self.rng and self.now, never the "
                f"random module, the wall clock or global variables")

