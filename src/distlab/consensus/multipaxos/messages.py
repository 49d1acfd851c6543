"""The messages of Multi-Paxos: single-decree Paxos's four, each naming a *slot* of the log,
and four more that a replicated log needs.

Phase 1 is run once for every slot from ``first_slot`` on (`Prepare`, `Promise`); phase 2
once per slot (`Accept`, `Accepted`). An acceptor that has promised a higher ballot answers
`Preempted`, so that an old leader learns at once that it was replaced. `Decide` tells the
other servers which command a slot holds; the leader's `Heartbeat` says it is alive and how
far its log is decided, and a server that is behind asks for the rest with `CatchUp`.

Ballots are single-decree Paxos's (`distlab.consensus.paxos.messages.Ballot`): ``(round,
server id)``, compared as tuples. Commands are the key-value workload's requests, or `NOOP`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distlab.consensus.paxos.messages import Ballot

__all__ = ["NOOP", "Accept", "Accepted", "Ballot", "CatchUp", "Decide", "Heartbeat", "NoOp",
           "Preempted", "Prepare", "Promise"]


@dataclass(frozen=True)
class NoOp:
    """The command that does nothing: a new leader puts it in a slot nobody accepted anything
    for (a *gap*), so that the slots after it can be applied."""

    def __repr__(self) -> str:
        return "NOOP"


#: the one no-op command
NOOP = NoOp()


@dataclass(frozen=True)
class Prepare:
    """Phase 1a, for every slot at once: "promise to ignore ballots lower than ``ballot``,
    and tell me what you know of the slots from ``first_slot`` on"."""

    ballot: Ballot
    first_slot: int


@dataclass(frozen=True)
class Promise:
    """Phase 1b: the acceptor promises ``ballot``. It reports the slots from the
    ``Prepare``'s ``first_slot`` on: those it knows are decided (``decided``: (slot,
    command) pairs), and the last proposal it accepted in each of the others (``accepted``:
    (slot, ballot, command) triples)."""

    ballot: Ballot
    decided: tuple[tuple[int, Any], ...]
    accepted: tuple[tuple[int, Ballot, Any], ...]


@dataclass(frozen=True)
class Accept:
    """Phase 2a: "accept ``command`` in ``slot``, in ``ballot``"."""

    ballot: Ballot
    slot: int
    command: Any


@dataclass(frozen=True)
class Accepted:
    """Phase 2b: the acceptor accepted the leader's proposal for ``slot`` in ``ballot``."""

    ballot: Ballot
    slot: int


@dataclass(frozen=True)
class Preempted:
    """The acceptor has promised ``ballot``, higher than the one it was asked for: the
    sender is no longer the leader (or not yet)."""

    ballot: Ballot


@dataclass(frozen=True)
class Decide:
    """``command`` is chosen in ``slot`` (the leader tells the learners)."""

    slot: int
    command: Any


@dataclass(frozen=True)
class Heartbeat:
    """The leader of ``ballot`` is alive; its log is decided up to slot ``decided``."""

    ballot: Ballot
    decided: int


@dataclass(frozen=True)
class CatchUp:
    """A server that is behind asks the leader for the decided slots from ``first_slot`` on."""

    first_slot: int
