"""The messages of atomic commitment (two- and three-phase commit).

A transaction is named by a string (``"t1"``); an outcome is ``"commit"`` or ``"abort"``; a
vote is ``"yes"`` or ``"no"``.
"""

from __future__ import annotations

from dataclasses import dataclass

COMMIT = "commit"
ABORT = "abort"
YES = "yes"
NO = "no"


@dataclass(frozen=True)
class Prepare:
    """Coordinator -> participant: can you commit ``txn``? Vote."""

    txn: str


@dataclass(frozen=True)
class Vote:
    """Participant -> coordinator: my vote on ``txn``, ``"yes"`` or ``"no"``."""

    txn: str
    vote: str


@dataclass(frozen=True)
class Decision:
    """The outcome of ``txn``, ``"commit"`` or ``"abort"``: from the coordinator, or from a
    participant that knows it (cooperative termination)."""

    txn: str
    outcome: str


@dataclass(frozen=True)
class Ack:
    """Participant -> coordinator: I have logged the outcome of ``txn``; stop re-sending it."""

    txn: str


@dataclass(frozen=True)
class DecisionRequest:
    """A participant in doubt about ``txn`` asks for its outcome."""

    txn: str


@dataclass(frozen=True)
class PreCommit:
    """3PC, coordinator -> participant: everyone voted yes; get ready to commit ``txn``."""

    txn: str


@dataclass(frozen=True)
class PreCommitAck:
    """3PC, participant -> coordinator: I am ready to commit ``txn``."""

    txn: str


@dataclass(frozen=True)
class StateRequest:
    """3PC termination protocol: what is your state for ``txn``?"""

    txn: str


@dataclass(frozen=True)
class StateReply:
    """3PC termination protocol: my state for ``txn`` (``"uncertain"``, ``"precommitted"``,
    ``"commit"``, ``"abort"`` or ``"initial"``)."""

    txn: str
    state: str
