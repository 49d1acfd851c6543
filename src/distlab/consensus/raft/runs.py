"""Experiments on Raft: who ran and won in each term, split votes, time to elect; a
replicated key-value store (`raft_kv`) for the runs of the whole protocol; and the scenario
of the paper's Figure 8 (`figure8`), scripted step by step.

Ongaro and Ousterhout (2014), Figure 16, measures how long it takes to replace a crashed
leader as a function of the election-timeout range; `raft_election_study` repeats it.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from distlab.check import Invariant, InvariantViolation, watch
from distlab.consensus.cluster import add_kv_cluster
from distlab.consensus.raft.election import RaftElectionNode
from distlab.consensus.raft.invariants import figure3, logs_agree_up_to_commit
from distlab.consensus.raft.messages import Entry
from distlab.consensus.raft.node import RaftNode
from distlab.sim import Client, Latency, Nemesis, Network, Simulation, Trace, Uniform
from distlab.sim.helpers import node_ids, trace_of
from distlab.workloads.kv import Put


@dataclass(frozen=True)
class TermOutcome:
    """Who ran and who won in one term."""

    term: int
    candidates: frozenset[str]
    leaders: frozenset[str]


def election_terms(trace: Trace | Simulation) -> dict[int, TermOutcome]:
    """Each term's candidates and leaders, read from a `RaftElectionNode` trace's notes."""
    trace = trace_of(trace)
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
    ids = node_ids(n, first=1)
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
    crashed_at, old_term = sim.now, max(sim.nodes[i].term for i in ids)
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


def raft_election_study(ranges: Iterable[tuple[float, float]], *,
                        seeds: Iterable[int] = range(100), n: int = 5,
                        latency: Latency | float = Uniform(1, 10),
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


def add_raft_kv(sim: Simulation, *, n: int = 3, clients: int = 2, ops: int = 20,
                retry: float = 100.0, node_class: type[RaftNode] = RaftNode,
                **options: float | int | tuple[float, float] | None) -> list[str]:
    """Add ``n`` Raft servers ``n1``... and ``clients`` key-value clients ``c1``... doing
    ``ops`` operations each to ``sim``; return the servers' ids.

    Each client knows every server and starts with its own (``c1`` with ``n1``...); a
    follower redirects it to the leader. ``options`` go to every server (``snapshot_every``,
    ``election_timeout``...).
    """
    return add_kv_cluster(sim, node_class, n=n, clients=clients, ops=ops, retry=retry,
                          **options)


def raft_kv(*, seed: int = 0, n: int = 3, clients: int = 2, ops: int = 20,
            latency: Latency | float = Uniform(1, 10), retry: float = 100.0,
            nemesis: Nemesis | None = None, node_class: type[RaftNode] = RaftNode,
            **options: float | int | tuple[float, float] | None) -> Simulation:
    """A key-value store replicated by Raft (`add_raft_kv`), on a network of ``latency``,
    ready to run.

    A ``nemesis`` (crashes, partitions, loss...) must be limited to the servers
    (``Nemesis(..., nodes=["n1", "n2", "n3"])``): the clients' history is what is judged.
    """
    sim = Simulation(seed=seed, network=Network(latency=latency))
    servers = add_raft_kv(sim, n=n, clients=clients, ops=ops, retry=retry,
                          node_class=node_class, **options)
    if nemesis is not None:
        if nemesis.nodes is None or not set(nemesis.nodes) <= set(servers):
            raise ValueError(f"the nemesis must spare the clients (their history is judged): "
                             f"build it with nodes={servers!r} or some of them")
        nemesis.install(sim)
    return sim


# -- Figure 8 ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ServerView:
    """What one Raft server holds at one moment: the fields `distlab.viz.raftlog` draws."""

    id: str
    up: bool
    term: int
    role: str
    log: tuple[Entry, ...]
    log_start: int
    commit_index: int

    @classmethod
    def of(cls, sim: Simulation, node_id: str) -> ServerView:
        node: Any = sim.nodes[node_id]
        up = sim.is_up(node_id)
        return cls(node_id, up, node.term, node.role if up else "crashed", tuple(node.log),
                   node.log_start, node.commit_index if up else 0)


@dataclass(frozen=True)
class Figure8Run:
    """The Figure 8 script's result: the servers after each step (caption, views), and the
    invariant violation that stopped it (None: the script ran to its end safely)."""

    steps: list[tuple[str, list[ServerView]]]
    violation: InvariantViolation | None


FIGURE8_SERVERS = ["n1", "n2", "n3", "n4", "n5"]


def figure8(node_class: type[RaftNode] = RaftNode, *, seed: int = 0,
            invariants: list[Invariant] | None = None) -> Figure8Run:
    """Ongaro and Ousterhout's Figure 8 on five servers, driven step by step.

    No server times out by itself (the election timeout is far longer than the script):
    each election is started by calling the candidate's `RaftNode.start_election`, and
    each step runs until a condition holds, then cuts links or crashes a server -- so the
    script is the same whatever the node class does. ``batch=1`` makes a leader send one
    entry per message, as the figure's servers do. The steps (terms are one lower than the
    figure's, because here the first leader is elected in term 1):

    (a) n1 leads term 1; a client's entry of term 1 reaches index 2 of n1 and n2 only.
    (b) n1 crashes; n5 is elected for term 2 by n3, n4 and itself, appends its no-op at
        index 2, and crashes before sending it anywhere.
    (c) n1 restarts and is elected for term 3 by n3 and n4; it copies its index 2 to them.
        The moment it learns that a majority stores it, it is cut off and crashes.
    (d) n5 restarts and, on its second try, is elected for term 4 by n2, n3 and n4 (its last
        entry, of term 2, is more up to date than theirs, of term 1): it replaces their
        index 2 with its own entry and commits it.

    A server that commits by counting replicas commits index 2 in (c), and (d) overwrites
    it; the ``invariants`` watched (by default State Machine Safety) stop the run there.
    """
    sim = Simulation(seed=seed, network=Network(latency=Uniform(5, 5)))
    sim.add_nodes(node_class, FIGURE8_SERVERS, election_timeout=(100_000, 200_000), batch=1)
    sim.add_node(Client, "client")  # (only sends one request: the reply may never come)
    if invariants is None:
        invariants = [logs_agree_up_to_commit(first_index="log_start")]
    watch(sim, *invariants)
    steps: list[tuple[str, list[ServerView]]] = []

    def node(node_id: str) -> Any:
        return sim.nodes[node_id]

    def elect(node_id: str) -> None:
        for _ in range(3):  # a refused first try (its term was taken) moves it a term up
            node(node_id).start_election()
            if sim.run_until(lambda: node(node_id).role == "leader", timeout=50):
                return
        raise RuntimeError(f"figure8: {node_id} was not elected; the script is broken")

    def record(caption: str) -> None:
        steps.append((caption, [ServerView.of(sim, i) for i in FIGURE8_SERVERS]))

    try:
        sim.run(until=1)
        elect("n1")
        sim.run(until=sim.now + 50)
        sim.partition({"n1", "n2", "client"}, {"n3", "n4", "n5"})
        sim.nodes["client"].send("n1", Put("client", 1, "x", "a"))
        sim.run(until=sim.now + 50)
        record("(a) n1 leads term 1; its index 2 reaches n2 only")
        sim.crash("n1")
        elect("n5")
        sim.partition({"n5"})
        sim.crash("n5")
        record("(b) n5 leads term 2, appends index 2, crashes")
        sim.restart("n1")
        sim.partition({"n1", "n3", "n4"}, {"n2", "client"}, {"n5"})
        sim.run(until=sim.now + 1)
        elect("n1")
        sim.run_until(lambda: min(node("n1").match_index[p] for p in ("n3", "n4")) >= 2,
                      timeout=100)
        sim.partition({"n1"})
        record("(c) n1 leads term 3; index 2 is on a majority")
        sim.crash("n1")
        sim.restart("n5")
        sim.partition({"n1"})  # (what n1 sent last is lost with it)
        sim.run(until=sim.now + 1)
        elect("n5")
        sim.run(until=sim.now + 100)
        record("(d) n5 leads term 4 and overwrites index 2")
    except InvariantViolation as exc:
        record(f"({'abcd'[len(steps)]}) stopped: {exc.invariant} is violated")
        return Figure8Run(steps, exc)
    return Figure8Run(steps, None)


# -- the explorer's cluster ----------------------------------------------------------------------

def explorer_cluster(seed: int = 1, n: int = 5) -> Simulation:
    """``n`` Raft servers ``n1``... and a client ``client`` that sends only when told
    (`client_request`): the cluster of `distlab.widgets.raft.RaftExplorer`."""
    sim = Simulation(seed=seed, network=Network(latency=Uniform(5, 15)))
    sim.add_nodes(RaftNode, node_ids(n, first=1))
    sim.add_node(Client, "client")
    return sim


def client_request(sim: Simulation, number: int) -> None:
    """The client sends ``put x=v<number>`` to the leader of the highest term (to ``n1`` if
    no server is leader: it then answers `NotLeader`)."""
    leaders = [(node.term, node_id) for node_id, node in sim.nodes.items()
               if sim.is_up(node_id) and getattr(node, "role", None) == "leader"]
    target = max(leaders)[1] if leaders else "n1"
    sim.nodes["client"].send(target, Put("client", number, "x", f"v{number}"))


# -- safety under random faults --------------------------------------------------------------

@dataclass(frozen=True)
class SafetyRun:
    """One random fault schedule: the invariant that failed first (None: all five held), why,
    when, and how much happened (the highest term reached, the entries committed)."""

    seed: int
    violated: str | None
    explanation: str | None
    time: float | None
    terms: int
    committed: int


def safety_run(node_class: type[RaftNode] = RaftNode, *, seed: int = 0, n: int = 5,
               until: float = 2_500.0, interval: float = 150.0, batch: int = 64
               ) -> SafetyRun:
    """A five-server key-value store under a `Nemesis` that acts every ``interval`` ms on
    average (crashes of up to two servers, partitions, 10% loss, duplication and
    reordering), watched by Figure 3's five invariants (`figure3`) until ``until`` ms or the
    first violation. ``batch`` is the most entries a leader sends in one message."""
    servers = node_ids(n, first=1)
    nemesis = Nemesis(interval, nodes=servers, max_crashed=2, loss=0.1, duplicate=0.1,
                      reorder=0.1, stop=until * 3 / 4)
    sim = raft_kv(seed=seed, n=n, clients=2, ops=30, nemesis=nemesis, snapshot_every=10,
                  node_class=node_class, election_timeout=(60, 120), heartbeat_interval=20,
                  batch=batch)
    invariants = figure3()
    watch(sim, *invariants)
    try:
        sim.run(until=until)
        violation = None
    except InvariantViolation as exc:
        violation = exc
    completeness = invariants[3]
    terms = max(sim.nodes[s].term for s in servers)
    committed = max(completeness.committed, default=0)
    if violation is None:
        return SafetyRun(seed, None, None, None, terms, committed)
    return SafetyRun(seed, violation.invariant, violation.explanation, violation.time, terms,
                     committed)
