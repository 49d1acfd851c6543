"""Two mistakes in Zab, each a small subclass of `ZabServer`.

* `KeepsOwnHistory`: the new leader keeps its own history instead of the most recent one
  its quorum reports in `AckEpoch`. The election usually picks a server whose history is
  the latest, so the mistake hides -- until a leader is chosen whose history lacks
  committed transactions, and synchronisation erases them from the followers.
* `CommitsOnOneAck`: a quorum taken to be two servers -- right for three, written as if every
  ensemble had three. With five, a transaction acknowledged by one follower is committed
  while three servers never saw it, and they can elect a leader without it.
"""

from __future__ import annotations

from distlab.consensus.zab.messages import Txn
from distlab.consensus.zab.server import ZabServer


class KeepsOwnHistory(ZabServer):
    """The bug: discovery ignores the followers' histories."""

    def choose_history(self) -> tuple[Txn, ...]:
        return tuple(self.history)


class CommitsOnOneAck(ZabServer):
    """The bug: a quorum of two, whatever the size of the ensemble."""

    def quorum(self) -> int:
        return 2
