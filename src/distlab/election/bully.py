"""The Bully algorithm: Garcia-Molina, "Elections in a Distributed Computing System" (1982).

Every node has a rank (`distlab.election.rank`); a node that suspects the leader challenges
every higher-ranked node, and the highest one alive "bullies" the others into accepting it.
It assumes a synchronous system (known bounds on delays), and costs O(n^2) messages when the
lowest node starts. The experiments that measure it are in `distlab.election.runs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distlab.election.rank import rank
from distlab.sim import Node


@dataclass(frozen=True)
class Election:
    """"I am starting an election": sent to every higher-ranked node."""


@dataclass(frozen=True)
class Answer:
    """"I am alive and outrank you; I take over": the reply to an `Election`."""


@dataclass(frozen=True)
class Coordinator:
    """"I am the leader": sent by the winner to every lower-ranked node."""

    leader: str


@dataclass(frozen=True)
class Heartbeat:
    """The leader is alive (how followers detect its failure)."""


BULLY_MESSAGES = (Election, Answer, Coordinator)


class BullyNode(Node):
    """A node of the Bully algorithm (in the textbook form of Garcia-Molina's protocol).

    A node starts an election when it starts (or restarts) and when the leader's heartbeats
    stop (``leader_timeout``). In an election it sends `Election` to every higher node; if
    none answers within ``answer_timeout`` it wins and sends `Coordinator` to every lower
    node. A node that gets an `Election` from a lower node answers and starts its own
    election. If an `Answer` came but no `Coordinator` follows within ``coordinator_timeout``,
    the node starts again. Timeouts must exceed the longest round trip: the algorithm assumes
    a synchronous network, and with slower messages two nodes can both believe they lead.

    Two details keep the message count polynomial when many nodes start at once: the leader
    answers an `Election` by telling the challenger `Coordinator` (it does not hold a new
    election), and a follower that heard `Coordinator` less than ``coordinator_timeout`` ago
    answers a challenge without starting an election of its own (if the leader really is
    gone, the challenger times out and tries again, and by then that news is stale). Without
    them, every late `Election` restarts elections all the way up, and the count grows
    exponentially with n.

    ``heartbeat_interval=None`` turns failure detection off (elections start only at start
    and when `start_election` is called), which makes message counts clean to measure.

    Invariant (when messages arrive within the timeouts): once elections end, every live node
    has the highest-ranked live node as ``leader``.
    """

    def __init__(self, answer_timeout: float = 30.0, coordinator_timeout: float = 100.0,
                 heartbeat_interval: float | None = 50.0, leader_timeout: float = 150.0):
        if heartbeat_interval is not None and leader_timeout <= heartbeat_interval:
            raise ValueError(f"leader_timeout ({leader_timeout}) must exceed "
                             f"heartbeat_interval ({heartbeat_interval}), or every follower "
                             f"would suspect a healthy leader")
        self.answer_timeout = answer_timeout
        self.coordinator_timeout = coordinator_timeout
        self.heartbeat_interval = heartbeat_interval
        self.leader_timeout = leader_timeout
        self.leader: str | None = None
        self.leader_since = float("-inf")  # when this node last heard Coordinator
        self.electing = False

    def on_start(self) -> None:
        self.start_election()

    def higher(self) -> list[str]:
        """The nodes that outrank this one."""
        return [p for p in self.peers if rank(p) > rank(self.id)]

    def start_election(self) -> None:
        self.electing = True
        self.cancel_timer("coordinator")
        higher = self.higher()
        if not higher:
            self.become_coordinator()
            return
        for node in higher:
            self.send(node, Election())
        self.set_timer(self.answer_timeout, "answer")

    def become_coordinator(self) -> None:
        self.electing = False
        self.leader = self.id
        self.cancel_timer("answer")
        self.cancel_timer("coordinator")
        self.note("leader", node=self.id)
        for node in self.peers:
            if rank(node) < rank(self.id):
                self.send(node, Coordinator(self.id))
        if self.heartbeat_interval is not None:
            self.set_timer(self.heartbeat_interval, "heartbeat")

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Election():
                self.send(src, Answer())
                if self.leader == self.id:
                    self.send(src, Coordinator(self.id))  # I lead: tell the challenger
                elif not self.electing and not self.leader_is_fresh():
                    self.start_election()
            case Answer() if self.electing:
                self.cancel_timer("answer")  # a higher node takes over: wait for its word
                self.set_timer(self.coordinator_timeout, "coordinator")
            case Answer():
                pass  # a late answer to an election already settled
            case Coordinator(leader):
                self.leader = leader
                self.leader_since = self.now
                self.electing = False
                self.cancel_timer("answer")
                self.cancel_timer("coordinator")
                self.watch_leader()
            case Heartbeat() if src == self.leader:
                self.watch_leader()
            case Heartbeat() if rank(src) < rank(self.id) and not self.electing:
                self.start_election()  # a lower node leads (say, after a partition): bully it
            case Heartbeat():
                pass  # a higher leader I do not follow yet: it will bully me when it hears me

    def leader_is_fresh(self) -> bool:
        """Whether a leader announced itself less than ``coordinator_timeout`` ago."""
        return self.now - self.leader_since < self.coordinator_timeout

    def watch_leader(self) -> None:
        if self.heartbeat_interval is not None:
            self.set_timer(self.leader_timeout, "leader-timeout")

    def on_timer(self, name: str) -> None:
        match name:
            case "answer":  # nobody higher is alive
                self.become_coordinator()
            case "coordinator":  # someone higher answered, then went silent
                self.start_election()
            case "heartbeat" if self.leader == self.id:
                self.broadcast(Heartbeat())
                self.set_timer(self.heartbeat_interval, "heartbeat")
            case "leader-timeout":
                self.note("leader silent", leader=self.leader)
                self.start_election()
