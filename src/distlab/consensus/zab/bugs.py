"""A mistake in Zab, as a small subclass of `ZabServer`.

* `KeepsOwnHistory`: the new leader keeps its own history instead of the most recent one
  its quorum reports in `AckEpoch`. The election usually picks a server whose history is
  the latest, so the mistake hides -- until a leader is chosen whose history lacks
  committed transactions, and synchronisation erases them from the followers.
"""

from __future__ import annotations

from distlab.consensus.zab.messages import Txn
from distlab.consensus.zab.server import ZabServer


class KeepsOwnHistory(ZabServer):
    """The bug: discovery ignores the followers' histories."""

    def choose_history(self) -> tuple[Txn, ...]:
        return tuple(self.history)
