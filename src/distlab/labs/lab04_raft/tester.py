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
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from distlab.labs.lab04_raft.common import TESTER
from distlab.sim import Client, Simulation

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

