"""The safety of a replicated log, for Multi-Paxos's servers, as `distlab.check.Invariant`s.

* **One value per slot** (`one_value_per_slot`) -- single-decree Paxos's agreement, slot by
  slot: once a command is chosen in a slot, no other command is ever chosen there. A command
  counts as chosen when a majority of acceptors have accepted it in the same ballot, or when
  a server has decided it (in its ``log``, or learned out of order in ``pending``).
* **Replicas agree** (`replicas_agree`) -- every server's log of decided commands is a prefix
  of one and the same log: servers apply the same command in each slot, in the same order,
  so their state machines pass through the same states.

Both remember what they saw (the chosen commands, the common log), so each run needs fresh
ones. They read the durable storage of every server, up or down (a crash does not undo a
choice), and check what changed since the last event, so that watching them after every
event stays cheap on a long run.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from distlab.check.canonical import canonical
from distlab.check.invariants import Invariant, durable_storage, live_nodes
from distlab.consensus.multipaxos.nodes import MultiPaxosServer
from distlab.sim import Simulation


class OneValuePerSlot(Invariant):
    """No slot ever has two different commands chosen.

    It remembers, for each slot, the first command it saw chosen there and why; a different
    command chosen in that slot later -- by a majority of acceptors in a higher ballot, or
    decided by some server -- is a violation. Each server's log is read once per new entry.
    """

    remembers = True
    reads_only_nodes = True

    def __init__(self) -> None:
        super().__init__("one value is chosen per slot", self._check)
        self.chosen: dict[int, tuple[Any, str]] = {}
        self.read: dict[str, int] = {}  # server -> how many entries of its log were read
        self.accepted: dict[str, dict[int, Any]] = {}  # server -> its proposals last seen

    def _check(self, sim: Simulation) -> str | None:
        servers = [i for i, node in sim.nodes.items() if isinstance(node, MultiPaxosServer)]
        changed = False
        for server in servers:
            storage = durable_storage(sim, server)
            if storage["accepted"] != self.accepted.get(server):
                self.accepted[server] = dict(storage["accepted"])
                changed = True
            log = storage["log"]
            for index in range(self.read.get(server, 0), len(log)):
                problem = self._chosen(index + 1, log[index], f"{server!r} decided it")
                if problem:
                    return problem
            self.read[server] = len(log)
        return (self._majorities(len(servers)) if changed else None) or self._pending(sim)

    def _majorities(self, servers: int) -> str | None:
        """Count the acceptors of each (slot, ballot): a majority has chosen its command."""
        votes: dict[tuple[int, Any], list[Any]] = {}
        for accepted in self.accepted.values():
            for slot, (ballot, command) in accepted.items():
                votes.setdefault((slot, ballot), []).append(command)
        for (slot, ballot), commands in votes.items():
            if len(commands) > servers // 2:
                for command in set(commands):
                    if commands.count(command) > servers // 2:
                        problem = self._chosen(slot, command, f"a majority accepted it in "
                                                              f"ballot {ballot}")
                        if problem:
                            return problem
        return None

    def _pending(self, sim: Simulation) -> str | None:
        """The commands live servers decided out of order count as chosen too."""
        for server, node in live_nodes(sim).items():
            if isinstance(node, MultiPaxosServer):
                for slot, command in node.pending.items():
                    problem = self._chosen(slot, command, f"{server!r} decided it")
                    if problem:
                        return problem
        return None

    def _chosen(self, slot: int, command: Any, why: str) -> str | None:
        first, first_why = self.chosen.setdefault(slot, (command, why))
        if first != command:
            return (f"slot {slot}: {first!r} was chosen ({first_why}), and then {command!r} "
                    f"({why})")
        return None

    def reset(self) -> None:
        self.chosen.clear()
        self.read.clear()
        self.accepted.clear()

    def memory(self) -> Hashable:
        return canonical({slot: command for slot, (command, _) in self.chosen.items()})


def one_value_per_slot() -> OneValuePerSlot:
    """Agreement in every slot (a new invariant object for each run: it remembers)."""
    return OneValuePerSlot()


class ReplicasAgree(Invariant):
    """Every server's decided log is a prefix of one common log, and never shrinks.

    It remembers the common log (each entry with the server that first had it). A server whose
    log has a different command at some slot, or fewer entries than it had before (its log is
    durable), is a violation.
    """

    remembers = True
    reads_only_nodes = True

    def __init__(self) -> None:
        super().__init__("replicas apply the same command in each slot", self._check)
        self.common: list[Any] = []
        self.first_had: list[str] = []
        self.read: dict[str, int] = {}

    def _check(self, sim: Simulation) -> str | None:
        for server, node in sim.nodes.items():
            if not isinstance(node, MultiPaxosServer):
                continue
            log = durable_storage(sim, server)["log"]
            read = self.read.get(server, 0)
            if len(log) < read:
                return (f"{server!r} had {read} decided slots and now has {len(log)}: a "
                        f"decided log must only grow")
            for index in range(read, len(log)):
                if index == len(self.common):
                    self.common.append(log[index])
                    self.first_had.append(server)
                elif log[index] != self.common[index]:
                    return (f"slot {index + 1}: {self.first_had[index]!r} applied "
                            f"{self.common[index]!r}, but {server!r} applied {log[index]!r}")
            self.read[server] = len(log)
        return None

    def reset(self) -> None:
        self.common.clear()
        self.first_had.clear()
        self.read.clear()

    def memory(self) -> Hashable:
        return canonical(self.common)


def replicas_agree() -> ReplicasAgree:
    """Decided-prefix agreement (a new invariant object for each run: it remembers)."""
    return ReplicasAgree()


def multipaxos_invariants() -> list[Invariant]:
    """Both invariants, fresh: one value per slot, and replicas that agree."""
    return [one_value_per_slot(), replicas_agree()]
