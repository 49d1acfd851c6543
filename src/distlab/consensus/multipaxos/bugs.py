"""Broken variants of Multi-Paxos, each a subclass of `MultiPaxosServer` changing one thing,
for the invariants to catch. Both are mistakes about what a new leader must learn first:

* `NoOpFillingLeader` runs phase 1 but ignores the proposals the promises report: it fills
  every slot it has not seen decided with a no-op. A command that a majority had accepted
  -- chosen, though nobody had learned it yet -- is replaced in a higher ballot: two values
  chosen in one slot (the scripted leader change of `runs.leader_change` shows it).
* `SkipsPhase1Leader` makes itself leader without phase 1: in a new ballot, it proposes
  client requests in the slots after the last one *it* knows. Slots that the old leader had
  chosen without this server hearing of it get a second command.
"""

from __future__ import annotations

from typing import Any

from distlab.consensus.multipaxos.messages import NOOP, Ballot
from distlab.consensus.multipaxos.nodes import MultiPaxosServer


class NoOpFillingLeader(MultiPaxosServer):
    """The bug: every slot not known decided is a gap, whatever the promises report."""

    def recover(self, reported: tuple[Ballot, Any] | None) -> Any:
        return NOOP


class SkipsPhase1Leader(MultiPaxosServer):
    """The bug: no ``Prepare``; a server that times out leads at once, with what it knows."""

    def start_phase1(self) -> None:
        self.ballot = self.new_ballot()
        self.promises = {}
        self.become_leader()
