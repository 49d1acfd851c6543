"""Leader election: the Bully algorithm, ring election, and Raft's randomized timeouts.

Many systems let one node decide (a coordinator, a primary, a leader) and need a way to pick
a new one when it fails. Three classic answers:

* `BullyNode` -- Garcia-Molina, "Elections in a Distributed Computing System" (1982). Every
  node has a rank; a node that suspects the leader challenges every higher-ranked node, and
  the highest one alive "bullies" the others into accepting it. It assumes a synchronous
  system (known bounds on delays), and costs O(n^2) messages when the lowest node starts.
* `RingNode` -- Chang and Roberts, "An improved algorithm for decentralized extrema-finding
  in circular configurations of processes" (1979). Candidates travel around a ring; a node
  forwards only ids larger than its own, so only the largest completes the round trip.
  O(n log n) messages on average, O(n^2) in the worst arrangement.
* `RaftElectionNode` -- the election half of Raft, Ongaro and Ousterhout, "In Search of an
  Understandable Consensus Algorithm" (2014): terms, one durable vote per term, a majority
  to win, heartbeats from the leader, and *randomized* election timeouts so that one
  candidate usually starts first. Safe (at most one leader per term) whatever the timing;
  `raft_election_study` measures how the timeout range affects split votes.

Ranks compare node ids in natural order (``"n2" < "n10"``), see `rank`.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from distlab.sim import Latency, Network, Node, Simulation, Trace, Uniform, stream


def rank(node_id: str) -> tuple:
    """The id's rank for elections: natural order, so ``"n2" < "n10"`` and ``"9" < "10"``."""
    return tuple(int(part) if part.isdigit() else part
                 for part in re.split(r"(\d+)", node_id) if part)


def count_messages(trace: Trace | Simulation, types: Iterable[type], since: float = 0.0) -> int:
    """How many messages of the given types were sent from time ``since`` on."""
    trace = trace.trace if isinstance(trace, Simulation) else trace
    types = tuple(types)
    return sum(1 for e in trace.of_kind("send") if e.time >= since and isinstance(e.data, types))


# -- the Bully algorithm ---------------------------------------------------------------------------
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


@dataclass(frozen=True)
class BullyRun:
    """A measured Bully election: who started it, its messages, how long it took."""

    n: int
    initiator: str
    messages: int
    time: float
    leader: str | None


def bully_election(n: int, *, initiator: str = "lowest", seed: int = 0,
                   latency: Latency | float = Uniform(1, 10)) -> BullyRun:
    """Crash the leader of ``n`` nodes ``n1..n<n>`` and let one node notice.

    ``initiator`` is ``"lowest"`` (``n1``: the worst case, O(n^2) messages) or
    ``"highest"`` (the highest survivor: the best case, n - 1 messages: one `Election` to the
    dead leader, n - 2 `Coordinator`). Failure detection is
    off, so the count is that of this one election (Election, Answer and Coordinator sends).
    """
    if n < 3:
        raise ValueError(f"n must be at least 3 (a leader to crash and two survivors); got {n}")
    ids = [f"n{i}" for i in range(1, n + 1)]
    sim = Simulation(seed=seed, network=Network(latency=latency))
    sim.add_nodes(BullyNode, ids, heartbeat_interval=None)

    def all_follow(leader: str) -> bool:
        return all(sim.nodes[i].leader == leader for i in ids if sim.is_up(i))

    if not sim.run_until(lambda: all_follow(ids[-1]), timeout=10_000):
        raise RuntimeError(f"no initial leader (seed={seed}); are the timeouts too short "
                           f"for the latency {latency!r}?")
    sim.run(until=sim.now + 500)  # let the start-up elections' last messages land
    crashed_at = sim.now
    sim.crash(ids[-1])
    match initiator:
        case "lowest":
            starter = ids[0]
        case "highest":
            starter = ids[-2]
        case _:
            raise ValueError(f"initiator must be 'lowest' or 'highest', got {initiator!r}")
    sim.nodes[starter].start_election()
    sim.run_until(lambda: all_follow(ids[-2]), timeout=10_000)
    elected_at = sim.now
    sim.run(until=sim.now + 500)  # count the election's stragglers too
    return BullyRun(n=n, initiator=starter,
                    messages=count_messages(sim, BULLY_MESSAGES, since=crashed_at),
                    time=elected_at - crashed_at, leader=sim.nodes[ids[-2]].leader)


# -- ring election (Chang and Roberts) -------------------------------------------------------------
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


@dataclass(frozen=True)
class RingRun:
    n: int
    arrangement: str
    messages: int
    leader: str | None


def ring_election(n: int, *, arrangement: str = "random", initiators: str = "all",
                  seed: int = 0, latency: Latency | float = Uniform(1, 10)) -> RingRun:
    """A Chang-Roberts election on ``n`` nodes ``n1..n<n>`` placed around a ring.

    ``arrangement``: ``"increasing"`` (ids grow in the direction of travel: the best case,
    about 3n messages when all start), ``"decreasing"`` (the worst case, about n^2 / 2) or
    ``"random"`` (a shuffle drawn from ``seed``: O(n log n) on average). ``initiators`` is
    ``"all"`` or ``"one"`` (only ``n1`` starts).
    """
    ids = [f"n{i}" for i in range(1, n + 1)]
    match arrangement:
        case "increasing":
            ring = ids
        case "decreasing":
            ring = ids[::-1]
        case "random":
            ring = ids[:]
            stream(seed, "ring").shuffle(ring)
        case _:
            raise ValueError(f"arrangement must be 'increasing', 'decreasing' or 'random', "
                             f"got {arrangement!r}")
    if initiators not in ("all", "one"):
        raise ValueError(f"initiators must be 'all' or 'one', got {initiators!r}")
    sim = Simulation(seed=seed, network=Network(latency=latency))
    for node_id in ids:
        sim.add_node(RingNode, node_id, ring=ring,
                     initiator=initiators == "all" or node_id == "n1")
    sim.run()
    leaders = {sim.nodes[i].leader for i in ids}
    return RingRun(n=n, arrangement=arrangement,
                   messages=count_messages(sim, (RingElection, Elected)),
                   leader=leaders.pop() if len(leaders) == 1 else None)


# -- Raft's randomized election --------------------------------------------------------------------
@dataclass(frozen=True)
class RequestVote:
    term: int
    candidate_id: str


@dataclass(frozen=True)
class RequestVoteReply:
    term: int
    vote_granted: bool


@dataclass(frozen=True)
class AppendEntries:
    """A heartbeat (Raft's AppendEntries with no entries: this Raft has no log)."""

    term: int
    leader_id: str


@dataclass(frozen=True)
class AppendEntriesReply:
    term: int
    success: bool


class RaftElectionNode(Node):
    """Leader election as in Raft (Ongaro and Ousterhout 2014, section 5.2), without the log.

    ``current_term`` and ``voted_for`` are durable (``storage``): a node that crashes and
    restarts must not vote twice in one term. A follower that hears nothing from a leader for
    a random time in ``election_timeout`` becomes a candidate: it starts a new term, votes for
    itself and asks the others (`RequestVote`). Each node grants one vote per term, first come
    first served. A candidate with votes from a majority of the cluster becomes leader and
    sends heartbeats (`AppendEntries`) every ``heartbeat_interval``. Any message with a higher
    term makes the receiver adopt that term and become a follower.

    Invariant (Election Safety): at most one leader per term -- two majorities intersect, and
    the node in both voted only once. Without a log there is no up-to-date check on votes.

    The trace records ``candidate`` and ``leader`` notes with their ``term`` (see
    `election_terms`).
    """

    def __init__(self, election_timeout: tuple[float, float] = (150.0, 300.0),
                 heartbeat_interval: float = 50.0):
        low, high = election_timeout
        if not 0 < low <= high:
            raise ValueError(f"election_timeout must be a range (low, high) with "
                             f"0 < low <= high; got {election_timeout!r}")
        if heartbeat_interval >= low:
            raise ValueError(f"heartbeat_interval ({heartbeat_interval}) must be shorter than "
                             f"the election timeout ({low}), or followers would start "
                             f"elections against a healthy leader")
        self.election_timeout = (float(low), float(high))
        self.heartbeat_interval = heartbeat_interval
        self.role = "follower"
        self.leader_id: str | None = None
        self.votes: set[str] = set()

    # durable state
    @property
    def current_term(self) -> int:
        return self.storage.get("current_term", 0)

    @property
    def voted_for(self) -> str | None:
        return self.storage.get("voted_for")

    def show(self) -> dict[str, Any]:
        return {"role": self.role, "current_term": self.current_term,
                "voted_for": self.voted_for, "leader_id": self.leader_id}

    def on_start(self) -> None:
        self.reset_election_timer()

    def reset_election_timer(self) -> None:
        self.set_timer(self.rng.uniform(*self.election_timeout), "election")

    def majority(self) -> int:
        return (len(self.peers) + 1) // 2 + 1

    def start_election(self) -> None:
        self.storage["current_term"] = self.current_term + 1
        self.storage["voted_for"] = self.id
        self.role = "candidate"
        self.leader_id = None
        self.votes = {self.id}
        self.note("candidate", term=self.current_term)
        self.broadcast(RequestVote(self.current_term, self.id))
        self.reset_election_timer()  # if this term ends in a split vote, try again
        if len(self.votes) >= self.majority():  # a cluster of one
            self.become_leader()

    def become_leader(self) -> None:
        self.role = "leader"
        self.leader_id = self.id
        self.cancel_timer("election")
        self.note("leader", term=self.current_term)
        self.send_heartbeats()

    def send_heartbeats(self) -> None:
        self.broadcast(AppendEntries(self.current_term, self.id))
        self.set_timer(self.heartbeat_interval, "heartbeat")

    def step_down(self, term: int) -> None:
        """A higher term exists: adopt it, with no vote cast in it yet, as a follower."""
        was_leader = self.role == "leader"
        self.storage["current_term"] = term
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
        if msg.term > self.current_term:
            self.step_down(msg.term)
        match msg:
            case RequestVote(term, candidate_id):
                granted = term == self.current_term and self.voted_for in (None, candidate_id)
                if granted:
                    self.storage["voted_for"] = candidate_id
                    self.reset_election_timer()
                self.send(src, RequestVoteReply(self.current_term, granted))
            case RequestVoteReply(term, vote_granted):
                if self.role == "candidate" and term == self.current_term and vote_granted:
                    self.votes.add(src)
                    if len(self.votes) >= self.majority():
                        self.become_leader()
            case AppendEntries(term, leader_id):
                if term == self.current_term:
                    self.role = "follower"  # a candidate that lost to leader_id
                    self.leader_id = leader_id
                    self.reset_election_timer()
                self.send(src, AppendEntriesReply(self.current_term, term == self.current_term))
            case AppendEntriesReply():
                pass  # only its term matters (handled above)


@dataclass(frozen=True)
class TermOutcome:
    """Who ran and who won in one term."""

    term: int
    candidates: frozenset[str]
    leaders: frozenset[str]


def election_terms(trace: Trace | Simulation) -> dict[int, TermOutcome]:
    """Each term's candidates and leaders, read from a `RaftElectionNode` trace's notes."""
    trace = trace.trace if isinstance(trace, Simulation) else trace
    candidates: dict[int, set[str]] = {}
    leaders: dict[int, set[str]] = {}
    for e in trace.of_kind("note"):
        if e.data.what == "candidate":
            candidates.setdefault(e.data["term"], set()).add(e.node)
        elif e.data.what == "leader":
            leaders.setdefault(e.data["term"], set()).add(e.node)
    return {t: TermOutcome(t, frozenset(candidates.get(t, ())), frozenset(leaders.get(t, ())))
            for t in sorted(candidates.keys() | leaders.keys())}


@dataclass(frozen=True)
class RaftElectionRun:
    """One measured election: time from the leader's crash to a new leader, and the terms
    that ended without a leader (split votes) on the way. ``time`` is None if no leader
    emerged within the limit."""

    seed: int
    time: float | None
    terms: int
    split_votes: int


def raft_election(*, seed: int = 0, n: int = 5, election_timeout: tuple[float, float] = (150, 300),
                  heartbeat_interval: float | None = None,
                  latency: Latency | float = Uniform(1, 10), limit: float = 10_000
                  ) -> RaftElectionRun:
    """Elect a first leader, crash it, and measure the election that follows.

    That is the experiment of Ongaro and Ousterhout's figure 16: followers whose timers were
    last reset by the crashed leader's heartbeats race to replace it. ``heartbeat_interval``
    defaults to a third of the lowest timeout.
    """
    if heartbeat_interval is None:
        heartbeat_interval = election_timeout[0] / 3
    ids = [f"n{i}" for i in range(1, n + 1)]
    sim = Simulation(seed=seed, network=Network(latency=latency))
    sim.add_nodes(RaftElectionNode, ids, election_timeout=election_timeout,
                  heartbeat_interval=heartbeat_interval)

    def leader() -> str | None:
        for i in ids:
            if sim.is_up(i) and sim.nodes[i].role == "leader":
                return i
        return None

    if not sim.run_until(lambda: leader() is not None, timeout=limit):
        return RaftElectionRun(seed, None, 0, 0)
    sim.run(until=sim.now + 3 * election_timeout[1])  # a stable leader, heartbeats flowing
    crashed_at, old_term = sim.now, max(sim.nodes[i].current_term for i in ids)
    sim.crash(leader())
    elected = sim.run_until(lambda: leader() is not None, timeout=limit)
    terms = [o for t, o in election_terms(sim).items() if t > old_term]
    split = sum(1 for o in terms if not o.leaders)
    return RaftElectionRun(seed, sim.now - crashed_at if elected else None, len(terms), split)


@dataclass(frozen=True)
class ElectionStudy:
    """`raft_election` over many seeds for one timeout range."""

    election_timeout: tuple[float, float]
    runs: int
    split_vote_rate: float      # fraction of elections with at least one split vote
    mean_terms: float           # terms per election (1 = elected at the first try)
    mean_time: float            # ms from the crash to a new leader (elections that ended)
    max_time: float
    no_leader: int              # elections that found no leader within the limit


def raft_election_study(ranges: Iterable[tuple[float, float]], *, seeds: Iterable[int] = range(100),
                        n: int = 5, latency: Latency | float = Uniform(1, 10),
                        limit: float = 10_000) -> list[ElectionStudy]:
    """Split votes and time to elect as a function of the election-timeout range."""
    seeds = list(seeds)
    studies = []
    for election_timeout in ranges:
        runs = [raft_election(seed=s, n=n, election_timeout=election_timeout, latency=latency,
                              limit=limit) for s in seeds]
        done = [r for r in runs if r.time is not None]
        studies.append(ElectionStudy(
            election_timeout=tuple(election_timeout), runs=len(runs),
            split_vote_rate=sum(1 for r in done if r.split_votes) / len(done) if done else 1.0,
            mean_terms=statistics.mean(r.terms for r in done) if done else float("nan"),
            mean_time=statistics.mean(r.time for r in done) if done else float("nan"),
            max_time=max((r.time for r in done), default=float("nan")),
            no_leader=len(runs) - len(done)))
    return studies
