"""Tiny protocols, correct and deliberately broken, to try the checkers on.

Each comes with the invariant it must keep. They are small on purpose: the schedule explorer
(`distlab.check.explore`) can enumerate all their interleavings, and a reader can hold the
whole protocol in mind while reading a violating schedule.

* **Mutual exclusion by messages.** Each node wants the critical section once: it asks every
  peer and enters when all have granted. `NaiveMutex` grants whenever it is not inside
  itself, so two nodes that ask at almost the same moment both enter -- a race that random
  timing rarely produces. `RicartAgrawala` {cite:p}`ricart1981optimal` orders requests by
  Lamport timestamps {cite:p}`lamport1978time` and defers the later one: always safe.
* **Leader election** in the style of Raft {cite:p}`ongaro2014raft`: terms, votes, majorities.
  `Election` remembers whom it voted for in each term, durably; `ForgetfulElection` forgets,
  so one voter can elect two leaders in the same term; `AmnesiacElection` remembers only in
  memory, so a crash and restart make it vote twice. Their messages (`Candidacy`, `Vote`,
  `Heartbeat`) are smaller than Raft's `RequestVote` and `AppendEntries`
  (`distlab.consensus.raft.messages`), so that the explorer has fewer states to enumerate,
  and `distlab.check` sits below the protocols: it cannot import them.
"""

from __future__ import annotations

from dataclasses import dataclass

from distlab.check.invariants import invariant, live_nodes
from distlab.sim import Node, Simulation

# -- mutual exclusion ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AskToEnter:
    """Ask for permission to enter; ``clock`` is the sender's Lamport timestamp."""

    clock: int = 0


@dataclass(frozen=True)
class Grant:
    """Permission to enter."""


class NaiveMutex(Node):
    """Wants the critical section once, at a random time; holds it for ``hold`` ms.

    The bug: it grants every request unless it is inside the critical section itself --
    even while it is waiting for grants of its own.
    """

    def __init__(self, want_within: float = 1_000.0, hold: float = 5.0):
        self.want_within = want_within
        self.hold = hold
        self.wanting = False
        self.in_cs = False
        self.done = False
        self.grants: frozenset[str] = frozenset()
        self.deferred: frozenset[str] = frozenset()

    def on_start(self) -> None:
        self.set_timer(self.rng.uniform(0, self.want_within), "want")

    def on_timer(self, name: str) -> None:
        match name:
            case "want":
                self.wanting = True
                self.ask()
            case "leave":
                self.in_cs = False
                self.done = True
                for peer in sorted(self.deferred):
                    self.send(peer, Grant())
                self.deferred = frozenset()

    def ask(self) -> None:
        self.broadcast(AskToEnter())

    def on_message(self, src: str, msg: object) -> None:
        match msg:
            case AskToEnter():
                if self.must_defer(src, msg):
                    self.deferred |= {src}
                else:
                    self.send(src, Grant())
            case Grant() if self.wanting:
                self.grants |= {src}
                if self.grants == set(self.peers):
                    self.wanting = False
                    self.in_cs = True
                    self.set_timer(self.hold, "leave")

    def must_defer(self, src: str, msg: AskToEnter) -> bool:
        return self.in_cs


class RicartAgrawala(NaiveMutex):
    """Ricart and Agrawala's algorithm: a waiting node defers requests later than its own.

    Requests carry Lamport timestamps; ties are broken by node id, so any two requests are
    ordered the same way by everyone, and of two waiting nodes exactly one defers.
    """

    def __init__(self, want_within: float = 1_000.0, hold: float = 5.0):
        super().__init__(want_within, hold)
        self.clock = 0
        self.asked_at = 0

    def ask(self) -> None:
        self.clock += 1
        self.asked_at = self.clock
        self.broadcast(AskToEnter(self.clock))

    def on_message(self, src: str, msg: object) -> None:
        if isinstance(msg, AskToEnter):
            self.clock = max(self.clock, msg.clock) + 1
        super().on_message(src, msg)

    def must_defer(self, src: str, msg: AskToEnter) -> bool:
        mine_first = (self.asked_at, self.id) < (msg.clock, src)
        return self.in_cs or (self.wanting and mine_first)


@invariant("at most one node in the critical section", reads_only_nodes=True)
def mutual_exclusion(sim: Simulation) -> str | None:
    """Mutual exclusion: never two nodes inside at once."""
    inside = sorted(node_id for node_id, node in live_nodes(sim).items()
                    if getattr(node, "in_cs", False))
    if len(inside) > 1:
        return f"{' and '.join(map(repr, inside))} are in the critical section together"
    return None


# -- leader election -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidacy:
    """The sender is a candidate in ``term`` and asks for a vote."""

    term: int


@dataclass(frozen=True)
class Vote:
    """A vote for the receiver, in ``term``."""

    term: int


@dataclass(frozen=True)
class Heartbeat:
    """The leader of ``term`` is alive."""

    term: int


class Election(Node):
    """Raft's leader election, without logs.

    Invariant kept: a node votes at most once per term, and remembers it across crashes
    (``term`` and ``voted_for`` are saved in durable storage before any vote is sent), so at
    most one candidate per term gathers a majority.
    """

    election_timeout = (150.0, 300.0)
    heartbeat_interval = 50.0

    def __init__(self) -> None:
        self.term: int = self.storage.get("term", 0)
        self.voted_for: str | None = self.storage.get("voted_for")
        self.role = "follower"
        self.votes: frozenset[str] = frozenset()

    def on_start(self) -> None:
        self.reset_election_timer()

    def reset_election_timer(self) -> None:
        self.set_timer(self.rng.uniform(*self.election_timeout), "election")

    def persist(self) -> None:
        self.storage["term"] = self.term
        self.storage["voted_for"] = self.voted_for

    def on_timer(self, name: str) -> None:
        match name:
            case "election":
                self.term += 1
                self.role = "candidate"
                self.voted_for = self.id
                self.votes = frozenset({self.id})
                self.persist()
                self.broadcast(Candidacy(self.term))
                self.reset_election_timer()
            case "heartbeat" if self.role == "leader":
                self.broadcast(Heartbeat(self.term))
                self.set_timer(self.heartbeat_interval, "heartbeat")

    def on_message(self, src: str, msg: Candidacy | Vote | Heartbeat) -> None:
        if msg.term > self.term:
            self.term = msg.term
            self.role = "follower"
            self.voted_for = None
            self.votes = frozenset()
            self.persist()
        match msg:
            case Candidacy(term) if self.grants_vote(src, term):
                self.voted_for = src
                self.persist()
                self.send(src, Vote(term))
                self.reset_election_timer()
            case Vote(term) if self.role == "candidate" and term == self.term:
                self.votes |= {src}
                if len(self.votes) > (len(self.peers) + 1) // 2:
                    self.role = "leader"
                    self.cancel_timer("election")
                    self.broadcast(Heartbeat(self.term))
                    self.set_timer(self.heartbeat_interval, "heartbeat")
            case Heartbeat(term) if term == self.term and self.role != "leader":
                self.role = "follower"
                self.reset_election_timer()

    def grants_vote(self, src: str, term: int) -> bool:
        return term == self.term and self.voted_for in (None, src)


class ForgetfulElection(Election):
    """The bug: it grants every request of the current term, forgetting earlier votes."""

    def grants_vote(self, src: str, term: int) -> bool:
        return term == self.term


class AmnesiacElection(Election):
    """The bug: ``term`` and ``voted_for`` live only in memory, so a restart forgets them."""

    def persist(self) -> None:
        pass
