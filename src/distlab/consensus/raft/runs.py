"""Experiments on Raft: who ran and won in each term, split votes, time to elect; and a
replicated key-value store (`raft_kv`) for the runs of the whole protocol.

Ongaro and Ousterhout (2014), Figure 16, measures how long it takes to replace a crashed
leader as a function of the election-timeout range; `raft_election_study` repeats it.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from distlab.consensus.raft.election import RaftElectionNode
from distlab.consensus.raft.node import RaftNode
from distlab.sim import Latency, Nemesis, Network, Simulation, Trace, Uniform
from distlab.sim.helpers import node_ids, trace_of
from distlab.workloads.kv import KVClient


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
    servers = node_ids(n, first=1)
    sim.add_nodes(node_class, servers, **options)
    for i in range(1, clients + 1):
        first = (i - 1) % n
        sim.add_node(KVClient, f"c{i}", server=servers[first:] + servers[:first], ops=ops,
                     retry=retry)
    return servers


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
