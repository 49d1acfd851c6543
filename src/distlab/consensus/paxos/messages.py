"""The messages of single-decree Paxos: phase 1 (prepare, promise), phase 2 (accept, accepted).

Each is a small frozen dataclass, named as in "Paxos Made Simple": a proposer sends
`Prepare` (phase 1a) and `Accept` (phase 2a) to the acceptors, which answer with `Promise`
(1b) and `Accepted` (2b). Ballots -- Lamport's "proposal numbers" -- are `Ballot` pairs,
totally ordered and distinct for different proposers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: A proposal number: ``(round, proposer id)``, compared as a tuple -- round first, the id
#: breaking ties. Two proposers never use the same ballot, and a proposer uses a higher round
#: each time it starts again, so every ballot is used for at most one proposal. (A plain
#: tuple: it prints short in a schedule, and snapshots copy it fastest.)
Ballot = tuple[int, str]


@dataclass(frozen=True)
class Prepare:
    """Phase 1a: "promise to ignore ballots lower than ``ballot``"."""

    ballot: Ballot


@dataclass(frozen=True)
class Promise:
    """Phase 1b: the acceptor promises ``ballot``, and reports the proposal it accepted
    last (``accepted_ballot`` and ``accepted_value``; None if it accepted none)."""

    ballot: Ballot
    accepted_ballot: Ballot | None
    accepted_value: Any


@dataclass(frozen=True)
class Accept:
    """Phase 2a: "accept ``value`` in ``ballot``"."""

    ballot: Ballot
    value: Any


@dataclass(frozen=True)
class Accepted:
    """Phase 2b: the acceptor accepted ``value`` in ``ballot`` (sent to the proposer, the
    learner of its own ballot)."""

    ballot: Ballot
    value: Any
