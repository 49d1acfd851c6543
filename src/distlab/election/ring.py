"""Ring election: Chang and Roberts, "An improved algorithm for decentralized extrema-finding
in circular configurations of processes" (1979).

Candidates travel one way round a ring; a node forwards only ids larger than its own, so only
the largest completes the round trip. O(n log n) messages on average, O(n^2) in the worst
arrangement (`distlab.election.runs.ring_election` measures both).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from distlab.election.rank import rank
from distlab.sim import Node


@dataclass(frozen=True)
class RingElection:
    """A candidate travelling around the ring."""

    candidate: str


@dataclass(frozen=True)
class Elected:
    """The winner, announced once around the ring."""

    leader: str


class RingNode(Node):
    """A node of Chang and Roberts' ring election.

    Messages go one way round ``ring`` (a sequence of all node ids). A node starting an
    election sends its own id. On receiving a candidate id: a larger one is forwarded; a
    smaller one is replaced by the node's own id, unless the node already takes part (then
    it is swallowed); its own id back means it is the largest, and it announces `Elected`.
    The ring is assumed not to fail while the election runs.
    """

    def __init__(self, ring: Sequence[str], initiator: bool = True):
        ring = tuple(ring)
        if self.id not in ring or len(set(ring)) != len(ring):
            raise ValueError(f"ring must list every node id once (including {self.id!r}); "
                             f"got {ring}")
        self.successor = ring[(ring.index(self.id) + 1) % len(ring)]
        self.initiator = initiator
        self.participant = False
        self.leader: str | None = None

    def on_start(self) -> None:
        if self.initiator:
            self.start_election()

    def start_election(self) -> None:
        self.participant = True
        self.send(self.successor, RingElection(self.id))

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case RingElection(candidate) if rank(candidate) > rank(self.id):
                self.participant = True
                self.send(self.successor, msg)
            case RingElection(candidate) if rank(candidate) < rank(self.id):
                if not self.participant:
                    self.start_election()
            case RingElection(_):  # my own id went all the way round
                self.participant = False
                self.leader = self.id
                self.note("leader", node=self.id)
                self.send(self.successor, Elected(self.id))
            case Elected(leader):
                self.participant = False
                if leader != self.id:
                    self.leader = leader
                    self.send(self.successor, msg)
