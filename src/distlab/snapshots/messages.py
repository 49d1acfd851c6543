"""The messages of the bank and of its snapshots."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Transfer:
    """Money sent from one branch to another."""

    amount: int


@dataclass(frozen=True)
class Marker:
    """Chandy-Lamport's marker: "I recorded my state before sending you this"."""


@dataclass(frozen=True)
class Sequenced:
    """A message of a FIFO channel: ``body``, the ``seq``-th message on its channel (1, 2...)."""

    seq: int
    body: Transfer | Marker
