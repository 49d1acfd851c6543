"""The lab's client, from part B on: it submits commands, and the checks watch them applied.

The interface a student's server meets, as in MIT 6.5840's Raft lab (``Start`` and
``applyCh``), in simulator terms:

* a command arrives as a `Submit` message from the client ``tester``, sent to every server:
  the leader appends it to its log (and replicates it); the others ignore it;
* a server *applies* the committed entry at ``index`` by calling
  ``self.note("apply", index=index, command=command)``, in index order: the note is the
  state machine's input, and the checks read it from the trace.

Like MIT's ``one()``, the client submits a command again, every `RETRY` ms, as long as no
server has applied it: a leader that crashed or was cut off before replicating it has lost it.
The client is not a server: it is in no server's ``peers``, and a partition that leaves it out
of every group would cut it off (`split` puts it on the side it must reach).

From part D on, each server runs with the lab's *service* (`with_service`), which keeps the
state machine the ``apply`` notes feed and asks the server, every so many applied entries, to
replace them by a snapshot: ``snapshot(index, data)``, as 6.5840's service calls ``Snapshot``.
A server that installs a snapshot hands it to the service by
``self.note("apply", index=last_included_index, snapshot=data)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from distlab.labs.lab04_raft.common import TESTER
from distlab.sim import Client, Node, Simulation

#: how long the client waits for a command to be applied before it submits it again, in ms
RETRY = 400.0


@dataclass(frozen=True)
class BigCommand:
    """A command that carries ``data``, many bytes of it, as the commands of MIT 6.5840's
    test of the bytes sent do: the check of the bytes (`RaftLab.test_rpc_bytes_B`) submits
    these, so that what the servers send weighs what its entries weigh. A server handles it
    as any other command; it is printed short."""

    number: int
    data: str

    @classmethod
    def of(cls, number: int, size: int) -> BigCommand:
        """Command ``number`` with ``size`` characters of data."""
        return cls(number, "x" * size)

    def __repr__(self) -> str:
        return f"BigCommand({self.number}, {len(self.data)} bytes)"


#: what the lab's client submits: a whole number, or a `BigCommand`
Command = int | BigCommand
#: the exact types of the client's commands (a subclass of int, a bool, is not one)
COMMAND_TYPES = (int, BigCommand)


@dataclass(frozen=True)
class Submit:
    """The lab's client asks the servers to agree on ``command`` (a whole number, or a
    `BigCommand`: a server never looks inside it)."""

    command: Command


class Tester(Client):
    """The lab's client (see the module's docstring); the checks drive it with `submit`.

    It remembers the commands it has seen applied (``applied``), reading the trace's new
    events each time it is asked (``read`` of them so far): a submission asks whether its
    command still needs sending.
    """

    def __init__(self) -> None:
        self.applied: set[Any] = set()
        self.read = 0

    def submit(self, command: Command) -> None:
        """Send ``command`` to every server: the leader takes it."""
        self.broadcast(Submit(command))


def add_tester(sim: Simulation, plan: Iterable[tuple[float, Command]],
               retry_until: float | None = None) -> None:
    """Add the client to ``sim`` and `submit` ``plan``."""
    sim.add_node(Tester, TESTER)
    submit(sim, plan, retry_until)


def submit(sim: Simulation, plan: Iterable[tuple[float, Command]],
           retry_until: float | None = None) -> None:
    """Submit each ``(time, command)`` of ``plan`` then and, until some server applies it,
    again every `RETRY` ms while before ``retry_until`` (None: never again)."""
    for time, command in plan:
        sim.at(time, Submission(sim, command, retry_until))


@dataclass(frozen=True)
class Submission:
    """The client's submission of ``command``, an action of the simulation: a value without
    the simulation in its repr, so that the schedule explorer tells two submissions apart
    (and does not read the whole simulation as their argument)."""

    sim: Simulation = field(repr=False, compare=False)
    command: Command
    retry_until: float | None

    def __call__(self) -> None:
        sim = self.sim
        if self.command in applied_commands(sim):
            return
        sim.nodes[TESTER].submit(self.command)
        if self.retry_until is not None and sim.now + RETRY < self.retry_until:
            sim.at(sim.now + RETRY, self)


def applied_commands(sim: Simulation) -> set[Any]:
    """The commands some server has applied so far (read from the trace's notes)."""
    tester = sim.nodes[TESTER]
    for event in sim.trace[tester.read:]:
        if event.kind == "note" and event.data.what == "apply":
            command = dict(event.data.details).get("command")
            if type(command) in COMMAND_TYPES:  # (the client's commands)
                tester.applied.add(command)
    tester.read = len(sim.trace)
    return tester.applied


def split(sim: Simulation, with_tester: Iterable[str], *others: Iterable[str]) -> None:
    """Partition the servers into ``with_tester`` (which the client can reach) and the groups
    ``others``; the servers named nowhere form one more group, without the client."""
    sim.partition({TESTER, *with_tester}, *map(set, others))



# -- part D: the service's snapshots -----------------------------------------------------------

#: the timer the service sets on a server when it has a snapshot to give it (part D)
SNAPSHOT_TIMER = "service: snapshot"


@dataclass(frozen=True)
class MachineState:
    """The state of a server's state machine: the commands it has applied, in index order.

    The service gives it to `snapshot` and a server hands it back in an ``apply`` note when it
    installs a snapshot; Raft never looks inside. Printed short, as diagrams show it.
    """

    commands: tuple[Any, ...]

    def __repr__(self) -> str:
        return f"MachineState(up to index {len(self.commands)})"


@cache
def with_service(node: type[Node], snapshot_every: int | tuple[int, ...]) -> type[Node]:
    """``node``, each server of which runs with the lab's service (part D), as 6.5840's does:
    the service keeps the state machine (a `MachineState`), fed by the server's ``apply``
    notes, and each time it has applied a multiple of ``snapshot_every`` entries it asks the
    server to compact: ``snapshot(index, data)``, in an event of its own (the timer
    `SNAPSHOT_TIMER`, noted ``compact``), as a service's call comes apart from Raft's work.

    ``snapshot_every`` may also give each server its own interval, in the order of their ids
    (``(10, 7, 13)``: n1 every 10, n2 every 7, n3 every 13), as services that compact at a
    size bound do: the servers' snapshots then end at different indices.

    The service lives in the server's process: a crash loses it, and it starts again from the
    snapshot the server hands it at restart (an ``apply`` note with ``snapshot=data``)."""
    intervals = snapshot_every if isinstance(snapshot_every, tuple) else (snapshot_every,)
    if not intervals or not all(type(every) is int and every >= 1 for every in intervals):
        raise ValueError(f"snapshot_every counts applied entries and must be a whole number of "
                         f"at least 1, or a tuple of them (one a server); got "
                         f"{snapshot_every!r}")

    def note(self: Any, what: str, **details: Any) -> None:
        node.note(self, what, **details)
        if what != "apply":
            return
        machine = self.__dict__.get("_lab_machine", ())
        if "snapshot" in details:
            state = details["snapshot"]
            machine = state.commands if isinstance(state, MachineState) else ()
        else:
            machine = (*machine, details.get("command"))
            ids = sorted([self.id, *self.peers])
            if len(machine) % intervals[ids.index(self.id) % len(intervals)] == 0:
                object.__setattr__(self, "_lab_compact",
                                   (len(machine), MachineState(machine)))
                self.set_timer(0.0, SNAPSHOT_TIMER)
        object.__setattr__(self, "_lab_machine", machine)

    def on_timer(self: Any, name: str) -> None:
        if name != SNAPSHOT_TIMER:
            node.on_timer(self, name)
            return
        index, data = self.__dict__["_lab_compact"]
        node.note(self, "compact", index=index)
        snapshot = getattr(self, "snapshot", None)
        if not callable(snapshot):  # (a class written before part D)
            raise NotImplementedError(f"{node.__name__} has no method snapshot(index, data), "
                                      f"which the service calls in part D")
        snapshot(index, data)

    return type(node.__name__, (node,), {"note": note, "on_timer": on_timer,
                                         "__qualname__": node.__qualname__,
                                         "__module__": node.__module__,
                                         "__doc__": node.__doc__})
