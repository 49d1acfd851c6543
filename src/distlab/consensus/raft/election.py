"""Raft's leader election: Ongaro and Ousterhout, "In Search of an Understandable Consensus
Algorithm" (2014), section 5.2.

Terms, one durable vote per term, a majority to win, heartbeats from the leader, and
*randomized* election timeouts so that one candidate usually starts first. Safe (at most one
leader per term, `distlab.consensus.raft.invariants`) whatever the timing;
`distlab.consensus.raft.runs` measures how the timeout range affects split votes.
"""

from __future__ import annotations

from typing import Any

from distlab.consensus.raft.messages import (AppendEntries, AppendEntriesReply, RequestVote,
                                             RequestVoteReply)
from distlab.consensus.timeouts import leader_timings
from distlab.sim import Node


class RaftElectionNode(Node):
    """Leader election as in Raft (Ongaro and Ousterhout 2014, section 5.2), without the log.

    ``term`` (the paper's currentTerm) and ``voted_for`` are durable (``storage``): a node
    that crashes and restarts must not vote twice in one term. ``role`` is ``"follower"``,
    ``"candidate"`` or ``"leader"``. A follower that hears nothing from a leader for a random
    time in ``election_timeout`` becomes a candidate: it starts a new term, votes for itself
    and asks the others (`RequestVote`). Each node grants one vote per term, first come first
    served. A candidate with votes from a majority of the cluster becomes leader and sends
    heartbeats (`AppendEntries`) every ``heartbeat_interval``. Any message with a higher term
    makes the receiver adopt that term and become a follower.

    Invariant (Election Safety): at most one leader per term -- two majorities intersect, and
    the node in both voted only once (`at_most_one_leader_per_term` checks it on ``role`` and
    ``term``). Without a log there is no up-to-date check on votes.

    The trace records ``candidate`` and ``leader`` notes with their ``term`` (read by
    `distlab.consensus.raft.runs.election_terms`).
    """

    def __init__(self, election_timeout: tuple[float, float] = (150.0, 300.0),
                 heartbeat_interval: float = 50.0):
        self.election_timeout = leader_timings(election_timeout, heartbeat_interval)
        self.heartbeat_interval = heartbeat_interval
        self.role = "follower"
        self.leader_id: str | None = None
        self.votes: set[str] = set()

    # durable state: read from storage, so a restarted node finds them again
    @property
    def term(self) -> int:
        """The latest term this node has seen (0 at first)."""
        return self.storage.get("term", 0)

    @property
    def voted_for(self) -> str | None:
        """Whom this node voted for in ``term`` (None: no vote yet)."""
        return self.storage.get("voted_for")

    def show(self) -> dict[str, Any]:
        return {"role": self.role, "term": self.term,
                "voted_for": self.voted_for, "leader_id": self.leader_id}

    def on_start(self) -> None:
        self.reset_election_timer()

    def reset_election_timer(self) -> None:
        self.set_timer(self.rng.uniform(*self.election_timeout), "election")

    def majority(self) -> int:
        return (len(self.peers) + 1) // 2 + 1

    def start_election(self) -> None:
        self.storage["term"] = self.term + 1
        self.storage["voted_for"] = self.id
        self.role = "candidate"
        self.leader_id = None
        self.votes = {self.id}
        self.note("candidate", term=self.term)
        self.broadcast(RequestVote(self.term, self.id))
        self.reset_election_timer()  # if this term ends in a split vote, try again
        if len(self.votes) >= self.majority():  # a cluster of one
            self.become_leader()

    def become_leader(self) -> None:
        self.role = "leader"
        self.leader_id = self.id
        self.cancel_timer("election")
        self.note("leader", term=self.term)
        self.send_heartbeats()

    def send_heartbeats(self) -> None:
        self.broadcast(AppendEntries(self.term, self.id))
        self.set_timer(self.heartbeat_interval, "heartbeat")

    def step_down(self, term: int) -> None:
        """A higher term exists: adopt it, with no vote cast in it yet, as a follower."""
        was_leader = self.role == "leader"
        self.storage["term"] = term
        self.storage["voted_for"] = None
        self.role = "follower"
        self.leader_id = None
        if was_leader:
            self.cancel_timer("heartbeat")
            self.reset_election_timer()

    def on_timer(self, name: str) -> None:
        match name:
            case "election" if self.role != "leader":
                self.start_election()
            case "heartbeat" if self.role == "leader":
                self.send_heartbeats()

    def on_message(self, src: str, msg: Any) -> None:
        if msg.term > self.term:
            self.step_down(msg.term)
        match msg:
            case RequestVote(term, candidate_id):
                granted = term == self.term and self.voted_for in (None, candidate_id)
                if granted:
                    self.storage["voted_for"] = candidate_id
                    self.reset_election_timer()
                self.send(src, RequestVoteReply(self.term, granted))
            case RequestVoteReply(term, vote_granted):
                if self.role == "candidate" and term == self.term and vote_granted:
                    self.votes.add(src)
                    if len(self.votes) >= self.majority():
                        self.become_leader()
            case AppendEntries(term, leader_id):
                if term == self.term:
                    self.role = "follower"  # a candidate that lost to leader_id
                    self.leader_id = leader_id
                    self.reset_election_timer()
                self.send(src, AppendEntriesReply(self.term, term == self.term))
            case AppendEntriesReply():
                pass  # only its term matters (handled above)
