"""Stateful exploration: snapshots of a running simulation, forked to take one step.

The schedule explorer (`distlab.check.explore`) can reach a state in two ways. *Replay*
re-executes the state's whole schedule from a fresh simulation. This module does the other:
it keeps a **snapshot** of every state still to expand, and takes one step from it by
loading the snapshot into one working simulation and running a single event. Reaching a state
costs one event instead of a whole schedule, and a step a node already took from the same
state costs no node code at all: ten to thirty-five times faster on the book's configurations,
more on deeper ones (``bench/bench_explore.py`` measures both).

Its parts, each in its own module:

* `distlab.check.snapshots` -- what a snapshot holds, and how it is saved and loaded: one
  working simulation whose state is cut into *cells* (a node, the clients, the network, the
  invariants that remember), each saved as a `Version` that states share when a step did
  not change it;
* `distlab.check.streams` -- random streams whose position is cheap to save;
* `distlab.check.keys` -- the state's key (the one the replay engine computes), built from
  parts computed once per node version and shared;
* `distlab.check.transitions` -- steps taken again: what a node did from a version,
  remembered, and applied without running its code when the same step comes again;
* this module -- the engine that the search loop drives: restore a snapshot, take a step,
  describe the child (its key, its enabled steps), keep it.

What a snapshot holds, and why it is enough
-------------------------------------------
Everything a step can read or change: the clock; the pending events (a list of immutable
entries, shared between snapshots); every node's timers (its record's table, shared between
snapshots until the node runs code), its attributes and its ``storage``;
which nodes are down and in which incarnation; the message-id and sequence counters; each
random stream's position; the network's settings and the run's cut and busy links (for
``sim.at`` actions and lossy networks); the clients' operations in ``sim.history``; and what
the invariants that remember the past have remembered.

Two facts about the simulator keep a step cheap. A step runs the code of one node (a message's
receiver, a timer's owner) and nodes never share memory, so only that node's cell can change:
the others are shared with the parent state, and so are their parts of the state's key.
A ``sim.at`` action may touch anything, so after one everything is saved again.

Most states reached are never expanded: they were seen before, or the search stops at the
first violation or at ``max_depth`` with the last level reached but not expanded. So a child
gets only what its key needs; the steps enabled in it are listed when (and if) the search
expands it, derived from its parent's: the same steps but for the one taken and the timers
it cleared, with the new entries last in their kind (`ForkEngine.derived_choices`).

The invariants read the nodes through *views* (`Cells.view`), loaded only when a check runs.
When every invariant reads only the nodes (`Invariant.reads_only_nodes`), the invariants
are checked once per combination of the nodes' versions, which nodes are down and what the
invariants remember: a state that differs from one already checked only by its messages in
flight, its timers or its clock is not checked again (`ForkEngine.check_state`).

What it assumes, beyond the determinism that replaying needs: nodes share no mutable object
(the simulator's contract: messages are immutable, and a node never reaches another's
memory), and a node's ``fingerprint()`` depends only on its own attributes and storage.

The trace is not recorded while exploring (the violating schedule is replayed at the end,
with its trace, for the drawings). An invariant that reads ``sim.trace`` is detected the
first time it does, and the search starts again with the trace recorded in every snapshot.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from heapq import heappush
from itertools import count
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from distlab.check.invariants import Invariant
from distlab.check.keys import KeyParts, fingerprint
from distlab.check.snapshots import Cells, Snapshot, Version
from distlab.check.streams import CountingRandom, counting
from distlab.check.transitions import StepMemo, Transition
from distlab.sim import Client, NodeError, Simulation
from distlab.sim.record import timer_identity
from distlab.sim.scheduler import Entry
from distlab.sim.trace import Trace

if TYPE_CHECKING:
    from distlab.check.explore import Choice, _Explorer


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


class Later:
    """The steps enabled in a state, some at least, listed only when the search expands it
    (`ForkEngine.choices`): what the search loop iterates over then."""

    __slots__ = ("engine", "snap")

    def __init__(self, engine: ForkEngine, snap: Snapshot):
        self.engine = engine
        self.snap = snap

    def __bool__(self) -> bool:
        return True

    def __iter__(self) -> Iterator[Choice]:
        return iter(self.engine.listed(self.snap))


class CannotFork(Exception):
    """This configuration cannot be explored with snapshots (the message says why); the
    explorer replays schedules instead."""


def actor_of(kind: str, entry: Entry) -> str:
    """The node whose code a delivery or a timer runs."""
    return entry[3][3] if kind == "deliver" else entry[3][0].id


class ForkEngine:
    """Stateful search steps for `distlab.check.explore`: restore a snapshot, take a step.

    It offers the same operations as the replay engine -- ``initial``, ``step``, ``key``,
    ``choices``, ``keep`` -- and its keys and choices equal the replay engine's, state for
    state (``tests/check/test_explore_fast.py`` checks it), so both explore the same states
    in the same order.

    The search runs with the cyclic garbage collector off, so nothing it keeps may be in a
    reference cycle: the hooks that the memo of steps puts on the working simulation, and
    the functions of the cells, hold the simulation, never the memo or the cells. All the
    engine kept is then freed by reference counting as the search returns
    (``tests/check/test_explore_memory.py``), not by a collection that scans it all first.
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
        servers = [i for i in self.ids if not isinstance(sim.nodes[i], Client)]
        clients = [i for i in self.ids if isinstance(sim.nodes[i], Client)]
        self.deliver_fn = sim._deliver_fn
        self.fire_fn = sim._fire
        self.position = {i: n for n, i in enumerate(self.ids)}  # among the key's node parts
        self.deepest: Snapshot | None = None
        self.net_loaded: tuple | None = None
        # whether the invariants' memory() can change only with what they save (it can if
        # one that does not declare ``remembers`` still overrides memory())
        self.plain_memory = all(inv.remembers or type(inv).memory is Invariant.memory
                                for inv in explorer.invariants)
        self.track_streams()
        self.specs = len(sim._specs)
        self.cells = Cells(sim, servers, clients, explorer.remembering)
        self.inv_cell = self.cells.inv_cell
        self.clients_cell = self.cells.server_cells if clients else None
        self.keys = KeyParts(sim, self.cells, clients, explorer.restarts)
        # the steps of single nodes already taken (see `step`), when they can be taken again
        self.memoise = not keep_trace
        self.steps = StepMemo(sim, self.cells, self.keys, self.position)
        # the first version of each content that a restarted node took (see `restarted`)
        self.restarts_seen: dict[tuple, Version] = {}
        # the pending timers' key after a step taken again, by (the parent's, the Transition)
        self.timer_keys: dict[tuple[frozenset, Transition], frozenset] = {}
        # what the invariants remember, interned (see `memory`)
        self.memory_numbers: dict[tuple, int] = {}
        self.memories: list[tuple] = []
        # the fingerprints of the keys' parts but the nodes and messages (see `portable`)
        self.rest_fingerprints: dict[tuple, int] = {}
        # the states of the nodes (and the invariants' memory) in which the invariants held
        # without changing what they remember, when every invariant reads only the nodes
        # (see `check_state`)
        self.held: set[tuple] | None = (
            set() if not keep_trace and self.plain_memory
            and all(inv.reads_only_nodes for inv in explorer.invariants) else None)

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

    def initial(self) -> tuple[Snapshot, tuple[str, str] | None]:
        """The initial state (``setup`` ran, every node started) and any violation in it."""
        found = self.check()
        sim = self.sim
        snap = Snapshot()
        snap.path = ()
        snap.drops = snap.crashes = 0
        snap.versions = self.cells.save_all()
        snap.crashed = frozenset(sim.crashed)
        snap.incarnation = dict(sim._incarnation)
        snap.clocks = dict(sim._clocks)
        self.keys.count_in_flight(snap)
        self.keys.count_others(snap)
        snap.parts = tuple([self.keys.part(node_id, snap.versions) for node_id in self.ids])
        snap.timer_key = self.keys.timer_key()
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

    def check_state(self, versions: list[Version], parts: tuple, memory: int,
                    child: Snapshot | None = None) -> tuple[str, str] | None:
        """`check` in the state whose cells hold ``versions`` (the invariants' version before
        the check, replaced in ``versions`` by the one after it when they hold) and whose
        nodes' parts of the key are ``parts``, where the invariants remember ``memory``
        (their `Invariant.memory` before the check). The working simulation is in that state,
        or is put in the state of ``child`` (a child that `retake` reached) if the check runs:
        only its nodes and its clock when the invariants read only the nodes.

        When every invariant reads only the nodes (`Invariant.reads_only_nodes`), their
        verdict is a function of the nodes' states (their parts of the key: fingerprint,
        storage, whether they are down), the clients' history and what the invariants
        remember: a check that held without changing what they remember is not run again in
        the same node states (the messages in flight, the timers and the clock may differ).
        The nodes are loaded (as views) only when the check runs.
        """
        held, inv_cell = self.held, self.inv_cell
        state = None
        if held is not None:
            state = self.node_state(versions, parts, memory)
            if state in held:
                return None
        if child is not None:
            if held is not None:  # (they read the nodes, and maybe the clock to record it)
                self.sim.now, self.sim.crashed = child.now, child.crashed
            else:
                self.restore_events(self.complete(child))
        self.cells.show(versions)
        found = self.check()
        if found is None:
            if inv_cell is not None:
                before = versions[inv_cell]
                versions[inv_cell] = self.cells.resave_invariants(before)
                if versions[inv_cell] is not before:
                    return None
            if state is not None:
                held.add(state)
        return found

    def node_state(self, versions: list[Version], parts: tuple, memory: int) -> tuple:
        """What the verdict of invariants that read only the nodes depends on: the nodes'
        parts of the key, the clients' saved content (with their history), the memory."""
        if self.clients_cell is None:
            return parts, memory
        return parts, memory, versions[self.clients_cell].data

    def restore(self, snap: Snapshot) -> None:
        """Put the working simulation in the state of ``snap``."""
        self.restore_events(snap)
        self.cells.show(snap.versions)

    def restore_events(self, snap: Snapshot) -> None:
        """Put the working simulation's clock, pending events, timers, counters, streams and
        trace in the state of ``snap`` (its cells: `show`).

        What only crashes, restarts and ``sim.at`` actions change (the crashed set, the
        incarnations, the clocks) is shared with the snapshot here, and copied by `step`
        before such a step.
        """
        sim = self.sim
        sim.now = snap.now
        sim.scheduler.heap[:] = snap.heap
        for node_id, record in sim._records.items():  # (each table shared until changed)
            record.timers = snap.timers[node_id]
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

    def run(self, entry: Entry, index: int | None = None) -> None:
        """Run one pending entry (at ``index`` in the pending list, if known), as
        ``sim.step()`` would (without asking the trace)."""
        heap = self.sim.scheduler.heap
        if index is None:
            heap.remove(entry)
        else:
            del heap[index]  # (a copy of the parent's list, in the same order)
        self.sim._run_entry(entry)

    def run_starts(self) -> None:
        """Run the pending on_start of a restarted node (starting is not a choice)."""
        sim = self.sim
        for entry in sorted(e for e in sim.scheduler.heap if sim.entry_kind(e) == "start"):
            self.run(entry)

    def step(self, parent: Snapshot, choice: Choice) -> tuple[Snapshot, tuple[str, str] | None]:
        """Take ``choice`` from the state ``parent``, and describe the child reached (its
        copies come in `keep`). The working simulation is then in the child's state, except
        after a step taken again (`retake`), which does not use it.

        A delivery or a timer runs the code of one node, whose effects depend only on its
        saved version (attributes, storage, random position), the event, and the clock if it
        reads it. The first time a node takes a step from a version, what it did is kept as
        a `Transition`; when the same step comes again from the same version (in another
        interleaving of the other nodes' steps), its effects are applied without running
        its code, pickling it or computing its part of the key. A step that runs no node
        code (a crash, a drop, a message dropped on arrival) takes a short path too
        (`without_code`).
        """
        sim = self.sim
        kind, target, _ = choice
        entry: Any = None
        memo = None
        index: Any = None
        if kind == "deliver" or kind == "fire" or kind == "drop" or kind == "run":
            for index, entry in enumerate(parent.heap):
                if entry[1] == target:
                    break
        if self.memoise and (kind == "crash" or kind == "drop" or (
                kind == "deliver" and (entry[3][3] in parent.crashed
                                       or (entry[3][2], entry[3][3]) in parent.cuts))):
            return self.without_code(parent, choice, entry, index)
        if self.memoise and (kind == "deliver" or kind == "fire"):
            memo = self.steps.key(parent, kind, entry)
        elif self.memoise and kind == "restart":
            memo = self.steps.restart_key(parent, target)
        if memo is not None:
            actor, cell, memo_key = memo
            known = self.steps.find(memo_key, entry[0] if entry is not None and entry[0] >
                                    parent.now else parent.now)
            if known is not None:
                return self.retake(parent, choice, entry, index, actor, cell, known)
            self.restore_events(parent)
            cells = self.cells
            # The actor's code reads only its own cell (and the network's, which the memo's
            # key loaded); the other nodes are shown to the invariants if they must be
            # checked (`check_state`). A restart computes every node's part of the key.
            if kind == "restart":
                cells.show(parent.versions, skip=cell)
            network = parent.versions[cells.net_cell]
            if cells.loaded[cells.net_cell] is not network:
                cells.load(cells.net_cell, network)
            if cells.loaded[cell] is not parent.versions[cell] or not cells.private[cell]:
                cells.load(cell, parent.versions[cell])
            self.steps.start()
            net_words = sim._net_rng.words
        else:
            self.restore(parent)
            if kind == "run":  # a sim.at action may change any node
                self.cells.own_all()
            elif kind != "drop" and kind != "crash" and not (
                    kind == "deliver" and (entry[3][3] in sim.crashed
                                           or (entry[3][2], entry[3][3]) in sim._cut_links)):
                # (a crash runs no node code, nor a delivery to a crashed node or over a cut)
                # the node that runs code (a restart builds it on its storage) needs its
                # own copy
                node_id = target if kind == "restart" else actor_of(kind, entry)
                cell = self.cells.cell_of[node_id]
                if not self.cells.private[cell]:
                    self.cells.load(cell, self.cells.loaded[cell])
        # which nodes run code: only their parts of the state can change (and their timers
        # must be copied before they change: the parent's stay as they were)
        if kind == "deliver":
            _, _, src, dst, _, _ = entry[3]
            # a message to a crashed node, or over a cut link, is dropped on arrival: no node
            # code runs
            actors = () if dst in sim.crashed or (src, dst) in sim._cut_links else (dst,)
        elif kind == "fire":
            actors = (entry[3][0].id,)
        elif kind == "drop":
            actors = ()
        else:
            actors = (target,) if kind != "run" else tuple(self.ids)
            sim.crashed = set(parent.crashed)
            sim._incarnation = dict(parent.incarnation)
            sim._clocks = dict(parent.clocks)
        for node_id in actors:
            sim._records[node_id].timers = dict(parent.timers[node_id])
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
                    self.run(entry, index)
                    if kind == "run":
                        self.track_streams()
        except NodeError as exc:
            failed: tuple[str, str] | None = ("node handlers run without raising", str(exc))
        else:
            failed = None
        child = Snapshot()
        child.path = (*parent.path, choice)
        child.drops = parent.drops + (kind == "drop")
        child.crashes = parent.crashes + (kind == "crash")
        if failed is not None:
            return child, failed
        self.advance(parent, child, kind, target, actors)
        # the invariants are checked in the state reached, unless they held already in the
        # same node states (`check_state`)
        versions = child.versions
        found = self.check_state(versions, child.parts, parent.memory)
        if found is not None:
            return child, found
        inv_cell = self.inv_cell
        if (self.plain_memory and kind != "run"
                and (inv_cell is None or versions[inv_cell] is parent.versions[inv_cell])):
            child.memory = parent.memory
        else:
            child.memory = self.memory()
        if memo is not None and sim._net_rng.words == net_words:
            self.steps.remember(parent, child, entry, *memo)
        return child, None

    def retake(self, parent: Snapshot, choice: Choice, entry: Entry | None, index: int | None,
               actor: str, cell: int, known: Transition
               ) -> tuple[Snapshot, tuple[str, str] | None]:
        """Take again a step that ``actor`` already took from the same version (a delivery,
        a timer, or its restart, which has no ``entry``): what `run` and `advance` do, from
        the `Transition` instead of running node code.

        Only what the child's key needs is computed here, without the working simulation;
        the child's pending events, timers and choices are built by `complete`, when it
        turns out to be a new state (or its invariants must be checked).
        """
        now = parent.now
        if entry is not None and entry[0] > now:
            now = entry[0]
        versions = parent.versions.copy()
        versions[cell] = known.version
        parts = list(parent.parts)
        parts[self.position[actor]] = known.part
        child = Snapshot()
        child.path = (*parent.path, choice)
        child.drops, child.crashes = parent.drops, parent.crashes
        child.versions = versions
        child.parts = tuple(parts)
        restart = choice[0] == "restart"
        child.crashed = parent.crashed - {actor} if restart else parent.crashed
        child.runs, child.cuts, child.now = parent.runs, parent.cuts, now
        # (the rest -- incarnations, counters, pending events -- waits for `complete`)
        child.derive = (parent, index, actor, known)
        child.heap = None
        held = self.held
        if (held is None or self.clients_cell is not None
                or (child.parts, parent.memory) not in held):
            found = self.check_state(versions, child.parts, parent.memory, child)
            if found is not None:
                return child, found
        inflight = parent.inflight.copy()
        if choice[0] == "deliver":
            number = parent.by_seq[entry[1]]
            if inflight[number] == 1:
                del inflight[number]
            else:
                inflight[number] -= 1
        restarts, crashed = self.explorer.restarts, child.crashed
        for dst, number in known.flights:
            if restarts or dst not in crashed:
                inflight[number] = inflight.get(number, 0) + 1
        child.inflight = inflight
        # the pending timers change only if the actor's timers' names do (the key holds a
        # timer as (node id, name))
        # (a function of the parent's and the transition's: computed once, then looked up)
        child.timer_key = parent.timer_key
        if known.cleared or known.armed:
            timer_key = self.timer_keys.get((parent.timer_key, known))
            if timer_key is None:
                before = parent.timer_key
                gone = [(actor, name) for name in known.cleared if (actor, name) in before]
                new = [(actor, name) for name in known.armed if (actor, name) not in before]
                timer_key = before.difference(gone).union(new) if gone or new else before
                self.timer_keys[(parent.timer_key, known)] = timer_key
            child.timer_key = timer_key
        inv_cell = self.inv_cell
        if self.plain_memory and (inv_cell is None
                                  or versions[inv_cell] is parent.versions[inv_cell]):
            child.memory = parent.memory
        else:  # (the invariants were checked: the working simulation is in the child's state)
            child.memory = self.memory()
        return child, None

    def complete(self, child: Snapshot) -> Snapshot:
        """Build the pending events, the timers and the messages in flight of a child that
        `retake` reached (nothing if it has them already)."""
        derive = getattr(child, "derive", None)
        if derive is None or len(derive) != 4:
            return child
        parent, index, actor, known = derive
        restart = index is None  # (its start entry took a sequence number)
        child.incarnation = ({**parent.incarnation, actor: parent.incarnation[actor] + 1}
                             if restart else parent.incarnation)
        child.clocks, child.net_position = parent.clocks, parent.net_position
        child.msg_next = parent.msg_next + len(known.sends)
        child.seq_next = parent.seq_next + restart + len(known.pushes)
        heap = parent.heap.copy()
        # (the list stays a list of the pending entries, which is all the explorer needs of
        # it: it never pops the earliest)
        taken = None if restart else heap.pop(index)
        now, seq, msg_id = child.now, parent.seq_next + restart, parent.msg_next
        deliver_fn, fire_fn, sends = self.deliver_fn, self.fire_fn, known.sends
        record = self.sim._records[actor]
        new = []
        for delay, send, name in known.pushes:
            if send is not None:
                dst, msg, _ = sends[send]
                item = (now + delay, seq, deliver_fn, (now, "send", actor, dst, msg_id, msg))
                msg_id += 1
            else:
                item = (now + delay, seq, fire_fn, (record, name))
            heappush(heap, item)
            new.append(item)
            seq += 1
        before = timers = parent.timers[actor]
        all_timers = parent.timers
        if known.timers:
            all_timers = dict(all_timers)
            timers = all_timers[actor] = dict(before)
            for name, push in known.timers:
                if push is None:
                    timers.pop(name, None)
                else:
                    timers[name] = new[push][3]
        by_seq = parent.by_seq.copy()
        if taken is not None and taken[2] is deliver_fn:
            by_seq.pop(taken[1], None)
        restarts, crashed = self.explorer.restarts, child.crashed
        for item, (_, send, _) in zip(new, known.pushes):
            if send is not None:
                dst, _, number = sends[send]
                if restarts or dst not in crashed:
                    by_seq[item[1]] = number
        child.heap, child.timers, child.by_seq = heap, all_timers, by_seq
        child.events = None
        # the child's choices are the parent's, but for the entry taken and the timers the
        # actor fired, cancelled or set again, and with the new entries (see `listed`)
        gone = tuple([(actor, name) for name, _ in known.timers if name in before])
        child.derive = (parent, None if taken is None else taken[1], gone, new, None)
        return child

    def without_code(self, parent: Snapshot, choice: Choice, entry: Entry, index: int
                     ) -> tuple[Snapshot, tuple[str, str] | None]:
        """Take a step that runs no node code: a crash, a drop, a delivery to a crashed node
        or over a cut link (dropped on arrival). Every node keeps its version; a crashed
        node's part of the key changes, and its timers are gone."""
        sim = self.sim
        kind, target, _ = choice
        self.restore_events(parent)
        versions = parent.versions.copy()
        parts = parent.parts
        if kind == "crash":
            sim.crashed = set(parent.crashed)
            sim.crash(target)
            if versions[self.cells.cell_of[target]].parts is None:
                self.cells.show(versions)  # (its part is computed from the live node)
            listed = list(parts)
            listed[self.position[target]] = self.keys.part(target, versions)
            parts = tuple(listed)
        else:
            del sim.scheduler.heap[index]  # (a copy of the parent's heap, in the same order)
            if kind == "deliver" and entry[0] > sim.now:
                sim.now = entry[0]
        found = self.check_state(versions, parts, parent.memory)
        child = Snapshot()
        child.path = (*parent.path, choice)
        child.drops = parent.drops + (kind == "drop")
        child.crashes = parent.crashes + (kind == "crash")
        if found is not None:
            return child, found
        child.versions = versions
        child.crashed = frozenset(sim.crashed) if kind == "crash" else parent.crashed
        child.incarnation, child.clocks = parent.incarnation, parent.clocks
        child.runs, child.cuts = parent.runs, parent.cuts
        if kind == "crash":
            child.timer_key = self.keys.timer_key()
            if self.explorer.restarts:  # (messages to a crashed node count if it restarts)
                child.by_seq, child.inflight = parent.by_seq, parent.inflight
            else:
                self.keys.count_in_flight(child)
        else:
            child.timer_key = parent.timer_key
            by_seq, inflight = parent.by_seq.copy(), parent.inflight.copy()
            number = by_seq.pop(entry[1], None)
            if number is not None:
                if inflight[number] == 1:
                    del inflight[number]
                else:
                    inflight[number] -= 1
            child.by_seq, child.inflight = by_seq, inflight
        child.parts = parts
        inv_cell = self.inv_cell
        if self.plain_memory and (inv_cell is None
                                  or versions[inv_cell] is parent.versions[inv_cell]):
            child.memory = parent.memory
        else:
            child.memory = self.memory()
        child.now, child.msg_next, child.seq_next = sim.now, parent.msg_next, parent.seq_next
        child.net_position = parent.net_position
        child.heap, child.events = list(sim.scheduler.heap), None
        child.timers = {node_id: record.timers for node_id, record in sim._records.items()}
        # its choices are the parent's but for the entry taken, or the crashed node's
        # timers (and messages, unless it may restart): see `listed`
        if kind == "crash":
            gone = tuple([(target, name) for name in parent.timers[target]])
            child.derive = (parent, None, gone, [], target)
        else:
            child.derive = (parent, entry[1], (), [], None)
        return child, None

    def advance(self, parent: Snapshot, child: Snapshot, kind: str, target: Any,
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
            cells = range(len(self.cells.all))
        else:
            cells = [self.cells.cell_of[node_id] for node_id in actors]
            if not sim.network.plain:
                cells.append(self.cells.net_cell)
        servers = self.cells.server_cells
        for cell in cells:
            versions[cell] = (self.cells.resave_node(cell, before[cell]) if cell < servers
                              else self.cells.resave(cell, before[cell]))
        if kind == "restart" and self.cells.cell_of[target] < servers:
            cell = self.cells.cell_of[target]
            versions[cell] = self.restarted(target, versions[cell])
        child.versions = versions
        if kind == "deliver" or kind == "fire" or kind == "drop":
            child.crashed = parent.crashed
        else:
            child.crashed = frozenset(sim.crashed)
        child.incarnation, child.clocks = sim._incarnation, sim._clocks
        if everything:
            self.keys.count_others(child)
        else:
            child.runs, child.cuts = parent.runs, parent.cuts
        restarts = self.explorer.restarts
        # the entries the step made, in the order it made them
        newest = parent.seq_next
        new = sorted([entry for entry in sim.scheduler.heap if entry[1] >= newest],
                     key=itemgetter(1))
        if everything or (kind == "crash" and not restarts):
            self.keys.count_in_flight(child)
        else:
            by_seq, inflight = parent.by_seq.copy(), parent.inflight.copy()
            if kind == "deliver" or kind == "drop":
                number = by_seq.pop(target, None)
                if number is not None:
                    if inflight[number] == 1:
                        del inflight[number]
                    else:
                        inflight[number] -= 1
            crashed, deliver_fn = sim.crashed, self.deliver_fn
            for entry in new:
                if entry[2] is deliver_fn and (restarts or entry[3][3] not in crashed):
                    number = by_seq[entry[1]] = self.keys.in_flight(entry)
                    inflight[number] = inflight.get(number, 0) + 1
            child.by_seq, child.inflight = by_seq, inflight
        if not everything:
            # its choices are its parent's, but for the entry taken and the timers that are
            # no longer pending, and with the new entries (see `listed`)
            records = sim._records
            gone = tuple([(node_id, name) for node_id in actors
                          for name, token in parent.timers[node_id].items()
                          if records[node_id].timers.get(name) is not token])
            child.derive = (parent, target if kind in ("deliver", "drop", "fire") else None,
                            gone, new, target if kind == "crash" else None)
        if not actors and (kind == "deliver" or kind == "drop"):
            # no node code ran: every node's part, and the timers, are the parent's
            parts = parent.parts
            child.timer_key = parent.timer_key
        elif kind == "deliver" or kind == "fire":
            actor = actors[0]
            parts = list(parent.parts)
            parts[self.position[actor]] = self.keys.part(actor, versions)
            # timers: unchanged unless the actor's changed (tokens compare by value)
            if sim._records[actor].timers == parent.timers[actor]:
                child.timer_key = parent.timer_key
            else:
                child.timer_key = self.keys.timer_key()
        else:
            parts = [self.keys.part(node_id, versions) for node_id in self.ids]
            child.timer_key = self.keys.timer_key()
        child.parts = tuple(parts)
        self.finish(child, parent)

    def restarted(self, node_id: str, version: Version) -> Version:
        """The version of node ``node_id`` just restarted: the one the *first* node object
        restarted in the same incarnation into the same content holds (now loaded).

        A restart builds a new node object, and a node's versions are told apart by object:
        without this, every step a restarted node takes would run its code again
        (`StepMemo`). Restarts into equal contents (attributes, storage, stream position)
        share one object, and its versions, instead."""
        if type(version.data) is not bytes:
            return version
        base, words, gauss_next = version.positions[0]
        content = (node_id, self.sim._incarnation[node_id], version.data, base, words,
                   gauss_next)
        first = self.restarts_seen.setdefault(content, version)
        if first is not version:
            self.cells.load(self.cells.cell_of[node_id], first)
        return first

    def memory(self) -> int:
        """What the invariants remember (as the replay engine's key holds it), interned: a
        small int, cheap to hash in the keys of states and in `held` (`memories` holds
        what each stands for)."""
        memory = tuple([inv.memory() for inv in self.explorer.invariants])
        number = self.memory_numbers.get(memory)
        if number is None:
            number = self.memory_numbers[memory] = len(self.memories)
            self.memories.append(memory)
        return number

    def finish(self, snap: Snapshot, parent: Snapshot | None) -> None:
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

    def key(self, snap: Snapshot) -> Hashable:
        """The state's key: equal exactly when the replay engine's keys are equal."""
        return (snap.parts, frozenset(snap.inflight.items()), snap.timer_key, snap.runs,
                snap.cuts, snap.drops, snap.crashes, snap.memory)

    def portable(self, key: tuple) -> int:
        """The `distlab.check.keys.fingerprint` of ``key``, its interned numbers replaced by
        what they stand for: the same in every process forked from this one, which numbers
        parts differently (`distlab.check.split` compares the workers' states with it)."""
        parts, inflight, *others = key
        known = self.keys.fingerprints_of
        messages = sorted(zip(known([number for number, _ in inflight]),
                              [count for _, count in inflight]))
        rest = tuple(others)  # (timers, actions, cuts, counts, memory: shared by many states)
        printed = self.rest_fingerprints.get(rest)
        if printed is None:
            *settings, memory = rest
            printed = self.rest_fingerprints[rest] = fingerprint(
                (*settings, self.memories[memory]))
        return hash((*known(parts), "in flight", *messages, printed))

    def choices(self, snap: Snapshot) -> list[Choice] | Later:
        """The steps enabled in the state just reached (the same as the replay engine's):
        an empty list if there is none, else a `Later` that lists them when the search
        expands the state.

        Most states are never expanded: the search stops at the first violation, or at
        ``max_depth``, with most of the last level's states reached but not expanded. Only
        whether *some* step is enabled matters for them, and the state's key tells it
        (`can_step`); listing the steps, and building the pending events they come from
        (`complete`), waits for the expansion.
        """
        return Later(self, snap) if self.can_step(snap) else []

    def can_step(self, snap: Snapshot) -> bool:
        """Whether some step is enabled in ``snap``, from what its key holds: a message in
        flight to deliver or drop, a pending timer, a ``sim.at`` action, a crash or a
        restart left. (Exactly when `listed` is not empty: the key's messages in flight
        are those `enabled` offers, and every pending timer has its entry.)"""
        explorer = self.explorer
        if snap.inflight and (explorer.deliver or explorer.drops > snap.drops):
            return True
        if (explorer.timers and snap.timer_key) or snap.runs:
            return True
        crashed = snap.crashed
        if explorer.restarts and crashed:
            return True
        return explorer.crashes > snap.crashes and any(node_id not in crashed
                                                       for node_id in explorer.crashable)

    def listed(self, snap: Snapshot) -> list[Choice]:
        """The steps enabled in ``snap``, which the search expands now: derived from its
        parent's steps when it was reached from them (`derived_choices`), else read from
        its pending entries (`enabled`)."""
        derive = getattr(self.complete(snap), "derive", None)
        if derive is not None and getattr(derive[0], "enabled", None) is not None:
            snap.enabled = self.derived_choices(snap, *derive)
        else:
            self.restore_events(snap)
            snap.enabled = self.enabled(snap)
        snap.derive = None  # (it holds the parent: let it go)
        return snap.enabled

    def derived_choices(self, snap: Snapshot, parent: Snapshot, taken: int | None,
                        gone: tuple, new: list[Entry], lost: str | None) -> list[Choice]:
        """`enabled` for a state reached from ``parent`` by one step, without reading its
        pending entries: the parent's deliveries, drops, timers and actions but for the
        entry ``taken`` and the timers ``gone`` (fired, cancelled, set again, or lost in
        the crash of node ``lost``, whose messages are then lost too unless restarts are
        on; ``gone`` holds them as `timer_identity` gives them), followed in each kind by the
        ``new`` entries' (which come after every other:
        sequence numbers grow); then the crashes and restarts enabled now."""
        explorer = self.explorer
        crashed, restarts = snap.crashed, explorer.restarts
        drops_left = explorer.drops - snap.drops
        lost_messages = lost is not None and not restarts
        kept: dict[str, list[Choice]] = {"deliver": [], "drop": [], "fire": [], "run": []}
        for choice in parent.enabled:
            kind = choice[0]
            if kind == "crash" or kind == "restart":
                break  # (they come last, and are listed again below)
            if choice[1] == taken:
                continue
            if kind == "fire":
                if choice[2] in gone:
                    continue
            elif kind != "run":
                if (kind == "drop" and drops_left <= 0) or (lost_messages
                                                            and choice[2][1] == lost):
                    continue
            kept[kind].append(choice)
        delivers, drops, fires = kept["deliver"], kept["drop"], kept["fire"]
        timers = snap.timers
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
            elif explorer.timers and timers[item[3][0].id].get(item[3][1]) is item[3]:
                fires.append(("fire", item[1], timer_identity(item[3])))
        found = delivers + drops + fires + kept["run"]
        if explorer.crashes > snap.crashes:
            found.extend(("crash", n, None)
                         for n in sorted(n for n in explorer.crashable if n not in crashed))
        if restarts:
            found.extend(("restart", n, None) for n in sorted(crashed))
        return found

    def enabled(self, snap: Snapshot) -> list[Choice]:
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
        restarts = explorer.restarts
        deliver, fire = explorer.deliver, explorer.timers
        for entry in sim.scheduler.heap:
            fn = entry[2]
            if fn is deliver_fn:
                record = entry[3]
                if record[3] in crashed and not restarts:
                    continue
                delivers.append((entry[1], record))
            elif fn == fire_fn:
                if fire and entry[3][0].timers.get(entry[3][1]) is entry[3]:
                    fires.append((entry[1], ("fire", entry[1], timer_identity(entry[3]))))
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

    def keep(self, snap: Snapshot) -> Snapshot:
        """Complete ``snap`` with copies of what the next step from it will change, if the
        working simulation holds them (a child of `retake` gets its own from `complete`)."""
        sim = self.sim
        if not hasattr(snap, "heap"):
            snap.heap = list(sim.scheduler.heap)
            snap.timers = {node_id: record.timers for node_id, record in sim._records.items()}
            snap.events = list(sim.trace._events) if self.keep_trace else None
        if self.deepest is None or len(snap.path) >= len(self.deepest.path):
            self.deepest = snap
        return snap

    def path(self, snap: Snapshot) -> tuple:
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
        self.restore(self.complete(snap))
        explorer = self.explorer
        mine = explorer.key(self.sim, snap.path)
        sim, found = explorer.replay(snap.path)
        self.cells.forget()  # the replay reset the invariants
        if found is not None or explorer.key(sim, snap.path) != mine:
            raise RuntimeError(
                f"replaying the schedule of {len(snap.path)} steps that the exploration "
                f"reached gives another state than the exploration found: the run diverged. "
                f"Node code must be deterministic: use self.rng and self.now, never the "
                f"random module, the wall clock or global variables")

