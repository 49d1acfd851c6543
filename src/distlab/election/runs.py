"""Experiments on the Bully algorithm and ring election: message counts and election times.

These are the runs the book's leader-election page plots; the protocols themselves are in
`distlab.election.bully` and `distlab.election.ring`. The page also watches Raft's election
(`distlab.consensus.raft.election`) node by node: `sample_roles` records each node's role and
term as a run goes on, for `distlab.viz.roles.draw_roles`, and `crash_the_leader` is the Raft
paper's experiment (a leader serves, then crashes, and the followers race to replace it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from distlab.consensus.raft.election import RaftElectionNode
from distlab.election.bully import BULLY_MESSAGES, BullyNode
from distlab.election.ring import Elected, RingElection, RingNode
from distlab.sim import Latency, Network, Simulation, Trace, Uniform, stream
from distlab.sim.helpers import node_ids, trace_of


def count_messages(trace: Trace | Simulation, types: Iterable[type], since: float = 0.0) -> int:
    """How many messages of the given types were sent from time ``since`` on."""
    trace = trace_of(trace)
    types = tuple(types)
    return sum(1 for e in trace.of_kind("send") if e.time >= since and isinstance(e.data, types))



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
    ids = node_ids(n, first=1)
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
    ids = node_ids(n, first=1)
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


# -- Raft's election, watched node by node ---------------------------------------------
#: one sample: (time in ms, {node: (role, term)}), role "crashed" and term None when down
RoleSample = tuple[float, dict[str, tuple[str, int | None]]]


def sample_roles(sim: Simulation, until: float, samples: list[RoleSample],
                 step: float = 2.0) -> None:
    """Run ``sim`` to ``until``, appending every ``step`` ms each node's (role, term) to
    ``samples`` (nodes with ``role`` and ``term``, such as Raft's)."""
    if step <= 0:
        raise ValueError(f"step must be a positive number of ms, got {step!r}")
    while sim.now < until:
        sim.run(until=min(sim.now + step, until))
        samples.append((sim.now, {i: (sim.nodes[i].role, sim.nodes[i].term)
                                  if sim.is_up(i) else ("crashed", None) for i in sim.nodes}))


def leader_of(sim: Simulation) -> str | None:
    """A live node whose role is ``"leader"`` (the first in id order), or None."""
    return next((i for i in sim.nodes if sim.is_up(i) and sim.nodes[i].role == "leader"), None)


def crash_the_leader(seed: int, election_timeout: tuple[float, float] = (150.0, 300.0),
                     until: float = 1_300.0, n: int = 5, crash_at: float = 500.0
                     ) -> tuple[Simulation, list[RoleSample]]:
    """``n`` Raft nodes ``n1..n<n>`` (heartbeats every third of the shortest timeout); the
    leader at ``crash_at`` ms crashes. Returns the run, stopped at ``until``, and its
    samples of roles."""
    sim = Simulation(seed=seed, network=Network(latency=Uniform(1, 10)))
    sim.add_nodes(RaftElectionNode, node_ids(n, first=1), election_timeout=election_timeout,
                  heartbeat_interval=election_timeout[0] / 3)
    samples: list[RoleSample] = []
    sample_roles(sim, crash_at, samples)
    leader = leader_of(sim)
    if leader is None:
        raise RuntimeError(f"no leader by {crash_at:g} ms (seed={seed}): choose a later "
                           f"crash_at, or a wider election_timeout than {election_timeout}")
    sim.crash(leader)
    sample_roles(sim, until, samples)
    return sim, samples
