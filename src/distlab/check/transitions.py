"""Steps taken again: what a node did from one saved version, remembered and replayed.

In the stateful search (`distlab.check.fork`) a delivery, a timer or a restart runs the
code of one node, and nodes share no memory: what the node does -- its new attributes and
storage, the messages it sends, the timers it sets or cancels -- depends only on its saved
version (attributes, storage, random stream position), the event (the same message from the
same sender, the same timer, a restart into the same incarnation) and the clock, if it reads
it. The same node in the same version handling an equal event in another interleaving of the
others' steps does the same again: the first time, what it did is remembered as a
`Transition`; the next times, the search applies the remembered effects instead of running
the handler, pickling the node and computing its part of the state's key (nine steps in ten,
on the book's configurations).

A handler that reads ``self.now`` is noticed (`StepMemo.watch_runtime`), and its steps are
remembered per reading of the clock. A step is remembered only if every effect is one that
`distlab.check.fork.ForkEngine.retake` reproduces exactly: deliveries over a plain network
with a constant latency, timers of the node itself, no draw from the network's stream; any
other step runs its code every time.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from distlab.check.keys import KeyParts
from distlab.check.snapshots import Cells, Snapshot, Version
from distlab.sim import Node, Simulation
from distlab.sim.network import Constant
from distlab.sim.scheduler import Entry
from distlab.sim.times import timer_delay


class Transition:
    """What one node did when it handled one event, from one saved version: enough to take
    the same step again from the same version without running its code (see `StepMemo`).

    ``sends`` are ``(receiver, message, in-flight number)``, ``pushes`` the new entries in
    order, each ``(delay, index into sends or None for a timer, timer name)``; ``timers`` the
    actor's timers that the step fired, set or cancelled, each ``(name, index into pushes
    of its new entry, or None when it is no longer pending)``.
    """

    __slots__ = ("version", "pushes", "sends", "timers", "part", "flights", "cleared",
                 "armed")

    def __init__(self, version: Version, pushes: tuple, sends: tuple, timers: tuple,
                 part: int):
        self.version = version
        self.pushes = pushes
        self.sends = sends
        self.timers = timers
        self.part = part
        # what the state's key needs, ready: the messages sent, as (receiver, in-flight
        # number); the timers left not pending, and those pending again
        self.flights = tuple([(dst, number) for dst, _, number in sends])
        self.cleared = tuple([name for name, push in timers if push is None])
        self.armed = tuple([name for name, push in timers if push is not None])


class StepMemo:
    """The steps single server nodes took, by (version, event, network, clock drift)."""

    def __init__(self, sim: Simulation, cells: Cells, keys: KeyParts, position: dict[str, int]):
        self.sim = sim
        self.cells = cells
        self.keys = keys
        self.position = position  # a node's place among the key's node parts
        self.deliver_fn = sim._deliver_fn
        self.fire_fn = sim._fire
        self.transitions: dict[Hashable, Any] = {}
        # whether each saved version of the network delivers as `ForkEngine.retake` assumes
        # (no loss, no duplicates, no bandwidth limit, a constant latency)
        self.plain: dict[Version, bool] = {}
        # what the step running now did that its effects do not show: lists that the hooks
        # on the simulation fill (`watch_runtime`) without holding the memo, so that no
        # reference cycle keeps the memo alive after the search (see `ForkEngine`)
        self.clock_reads: list[float] = []
        self.timer_delays: list[float] = []
        self.timers_touched: list[str] = []
        self.watch_runtime()

    def watch_runtime(self) -> None:
        """Note when node code reads its clock, and the delay of every timer it sets.

        A node's step can be taken again without running its code only if it did not read
        ``self.now`` (or the reading is part of what identifies the step), and the new timers'
        times are then ``now + delay`` with the very delays it computed.
        """
        sim = self.sim
        clock, set_timer, cancel_timer = sim._clock, sim._set_timer, sim._cancel_timer
        reads, delays, touched = self.clock_reads, self.timer_delays, self.timers_touched

        def read_clock(node: Node) -> float:
            now = clock(node)
            reads.append(now)
            return now

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

    def start(self) -> None:
        """Forget the notes of the last step (before node code runs)."""
        self.clock_reads.clear()
        self.timer_delays.clear()
        self.timers_touched.clear()

    def key(self, parent: Snapshot, kind: str, entry: Entry
                       ) -> tuple[str, int, Hashable] | None:
        """``(actor, cell, key)`` of a delivery or a timer that one server node handles, when
        its step may be taken again from a memo (see `ForkEngine.step`); None when it may not."""
        if kind == "deliver":
            _, _, src, actor, _, _ = entry[3]
            if actor in parent.crashed or (src, actor) in parent.cuts:
                return None  # dropped without running node code
            event: Hashable = parent.by_seq.get(entry[1])  # (its in-flight number)
            if event is None:
                return None
        else:
            record, event = entry[3]  # (the timer's name: a str, where a delivery has an int)
            actor = record.id
            if parent.timers[actor].get(event) is not entry[3]:
                return None
        return self.over_network(parent, actor, event)

    def restart_key(self, parent: Snapshot, node_id: str) -> tuple[str, int, Hashable] | None:
        """`key` of the restart of crashed node ``node_id``: it is built on its storage (in
        its saved version) with a stream of its new incarnation, then runs ``on_start``."""
        return self.over_network(parent, node_id, ("restart", parent.incarnation[node_id]))

    def over_network(self, parent: Snapshot, actor: str, event: Hashable
                     ) -> tuple[str, int, Hashable] | None:
        """``(actor, cell, key)`` of ``event`` handled by server node ``actor`` from its
        version in ``parent``, over the network's settings there; None for a client, or a
        network whose deliveries `ForkEngine.retake` cannot reproduce."""
        cells = self.cells
        cell = cells.cell_of[actor]
        if cell >= cells.server_cells:
            return None
        network = parent.versions[cells.net_cell]  # (a sim.at action may have changed it)
        plain = self.plain.get(network)
        if plain is None:
            if cells.loaded[cells.net_cell] is not network:
                cells.load(cells.net_cell, network)
            net = self.sim.network
            plain = self.plain[network] = net.plain and type(net.latency) is Constant
        if not plain:
            return None
        return actor, cell, (parent.versions[cell], event, network, parent.clocks.get(actor))

    def find(self, memo_key: Hashable, now: float) -> Transition | None:
        """The step remembered under ``memo_key`` (taken at ``now``, if the node read its
        clock), or None."""
        known = self.transitions.get(memo_key)
        if type(known) is dict:  # the node read its clock: the clock is part of the key
            return known.get(now)
        return known

    def remember(self, parent: Snapshot, child: Snapshot, entry: Entry | None, actor: str,
                 cell: int, memo_key: Hashable) -> None:
        """Keep what ``actor`` just did (from ``parent`` to ``child``) as a `Transition`,
        if every effect is one that `ForkEngine.retake` reproduces exactly."""
        sim = self.sim
        now = sim.now
        clock_read = bool(self.clock_reads)  # (before an invariant's reads: checked already)
        new = child.derive[3]  # the new entries in the order they were made (`advance`)
        latency = sim.network.latency.ms
        delays = iter(self.timer_delays)
        pushes, sends = [], []
        msg_id = parent.msg_next
        numbers = child.by_seq  # (the in-flight numbers of the messages it counts)
        for at, seq, fn, arg in new:
            if fn is self.deliver_fn:
                if (arg[0] != now or arg[2] != actor or arg[4] != msg_id
                        or at != now + latency):
                    return
                msg_id += 1
                pushes.append((latency, len(sends), None))
                number = numbers.get(seq)
                if number is None:  # (to a crashed node, when restarts are off)
                    number = self.keys.in_flight((at, seq, fn, arg))
                sends.append((arg[3], arg[5], number))
            elif fn == self.fire_fn and arg[0].id == actor:
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
        after, tokens = sim._records[actor].timers, [e[3] for e in new]
        touched = set(self.timers_touched)
        if entry is not None and entry[2] == self.fire_fn:
            touched.add(entry[3][1])
        timers = []
        for name in sorted(touched):
            token = after.get(name)
            if token is None:
                timers.append((name, None))
            else:
                for index, made in enumerate(tokens):
                    if made is token:
                        timers.append((name, index))
                        break
                else:
                    return
        before = parent.timers[actor]
        for name, token in after.items():
            if name not in touched and token is not before.get(name):
                return
        known = Transition(child.versions[cell], tuple(pushes), tuple(sends), tuple(timers),
                            child.parts[self.position[actor]])
        if clock_read:
            by_clock = self.transitions.get(memo_key)
            if type(by_clock) is not dict:
                by_clock = self.transitions[memo_key] = {}
            by_clock[now] = known
        else:
            self.transitions[memo_key] = known
