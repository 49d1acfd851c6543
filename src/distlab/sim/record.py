"""What the kernel keeps of each node, in one small object: a `NodeRecord`.

Why one record per node? Because of where the time of a large simulation goes. With 100
nodes everything the kernel touches stays in the processor's caches; with 100,000 nodes
almost nothing does, and every object read for the first time in an event costs a trip to
memory: about 135 ns on the project's machine, measured by ``bench/bench_scale.py parts``
(a step along a chain of 100,000 objects in random order), against nothing measurable at
100. Those trips cannot overlap when each needs the one before (the address of the next
object is in the last), so an event costs them one after another.

A timer used to be found by its node's id: its entry gave a token ``(node id, name)``, the
id's hash gave a slot and an entry of ``sim._timers`` (the timer tables by id), that gave
the node's table, and the node object was looked up again by id in ``sim.nodes``: about
twelve dependent reads, and a timer event cost 2.25 µs at 100 nodes but 7.39 µs at 100,000
(on a quiet machine).

Now a timer's token is ``(record, name)``: the record holds the node object and its timer
table, so firing a timer reads the entry, the token, the record, the table and the node,
and looks nothing up by id. And the node that sets a timer is nearly always the one whose
timer just fired, so `Simulation._set_timer` finds its record at hand too. Measured on a busy
machine, that took 0.3 to 2.7 µs off a timer event at 100,000 nodes (README, "The simulator
at scale"); at 100 nodes, where everything is in the cache, it changes nothing measurable.

A record lives as long as its node's id: a restart puts the new node object in the same
record (``node``), a crash gives it a new, empty timer table (a new one, not the old one
cleared: the schedule explorer's snapshots share the tables, `distlab.check.fork`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distlab.sim.node import Node

#: A pending timer's token: its node's record and its name. The token of the pending timer
#: of each name is in ``record.timers``; an entry whose token is not there any more (the
#: timer was cancelled, set again, or lost in a crash) does nothing when it comes due.
Token = tuple["NodeRecord", str]


class NodeRecord:
    """One node as the kernel keeps it: its id, its current object, its pending timers.

    Invariant: ``node`` is ``sim.nodes[id]``, and ``timers`` maps the name of each pending
    timer of the node to the token its entry in the scheduler carries.
    """

    __slots__ = ("id", "node", "timers")

    def __init__(self, node_id: str):
        self.id = node_id
        self.node: Node | None = None  # (set when the node is built)
        self.timers: dict[str, Token] = {}

    def __repr__(self) -> str:
        return f"<record of node {self.id!r}: timers {sorted(self.timers)}>"


def timer_identity(token: Token) -> tuple[str, str]:
    """``(node id, timer name)``: what a token stands for, in terms that do not depend on the
    run (the schedule explorer's states and schedules compare timers by it)."""
    return token[0].id, token[1]
