"""Lab 4: Raft, built part by part in one node class (``solutions/lab04-raft.ipynb``).

Ongaro and Ousterhout, "In Search of an Understandable Consensus Algorithm"
{cite:p}`ongaro2014raft`. The student writes one class, a `Node` with Raft's own variables:
``term`` (the paper's currentTerm), ``state`` (``"follower"``, ``"candidate"`` or
``"leader"``), ``voted_for``, ``votes`` and ``log``. Part A is leader election (section 5.2).

This module holds what the student does not write: the timing constants, the messages (the
library's, `distlab.consensus.raft.messages`, so that the log's fields are already there for
the later parts), and the checks. The checks read the nodes' ``term`` and ``state`` and the
messages in the trace, and they judge, besides "at most one leader per term" and "a leader is
elected", the rules of the paper's Figure 2 one at a time (one vote per term; a leader only
with a majority of votes of its own term; adopt any higher term seen), so that a report names
the rule that was broken rather than only its distant consequence. The rules and the
instrumentation that finds the student's line are in `distlab.labs.raft_rules`.

Part A's checks restart crashed nodes: ``term`` and ``voted_for`` must be durable (kept in
``self.storage``), as the paper's Figure 2 says ("updated on stable storage before responding
to RPCs").
"""

from __future__ import annotations

from collections.abc import Callable

from distlab.check import ExplorationResult, explore
from distlab.consensus.raft.invariants import at_most_one_leader_per_term
from distlab.consensus.raft.messages import (AppendEntries, AppendEntriesReply, RequestVote,
                                             RequestVoteReply)
from distlab.grading.lab import Lab, Scenario, Trial, graded
from distlab.grading.properties import Violation
from distlab.labs.raft_rules import (WATCHED, ElectionRules, LeaderElected, NoLeader,
                                     NoNeedlessElections, instrumented, refuse_library_raft)
from distlab.sim import Network, Node, Simulation, Uniform, stream
from distlab.sim.helpers import node_ids

__all__ = [
    "AppendEntries", "AppendEntriesReply", "ELECTION_TIMEOUT", "ELECT_WITHIN",
    "HEARTBEAT_INTERVAL", "RaftLab", "RequestVote", "RequestVoteReply", "explore_election",
]

#: the range an election timeout is drawn from, in ms (a new draw each time the timer is set)
ELECTION_TIMEOUT = (150.0, 300.0)
#: how often a leader sends heartbeats (empty AppendEntries), in ms
HEARTBEAT_INTERVAL = 50.0
#: a leader must be elected (and followed) within this many ms of the start or of a failure
ELECT_WITHIN = 1_500.0
#: when the checks break something (crash or cut off the leader), in ms
FAULT_AT = 1_500.0
#: when they repair it
REPAIR_AT = 3_000.0
#: the exploration's bounds: schedule length and real time (seconds)
EXPLORE_DEPTH = 6
EXPLORE_SECONDS = 10.0


def safety() -> list:
    """The properties every check of part A judges, most specific first.

    When a run breaks several, the first rule broken in time is reported: a double vote is
    reported as the double vote, not as the two leaders it leads to a few events later.
    """
    return [ElectionRules(shortest_timeout=ELECTION_TIMEOUT[0])]


class RaftLab(Lab):
    """The checks of lab 4, for the student's Raft node class.

    Refuses a class that reuses the library's Raft (`refuse_library_raft`): the point of the
    lab is to write it.
    """

    title = "Lab 4: Raft"
    node_attributes = (*WATCHED, "_lab_where")

    def __init__(self, node: type[Node]):
        refuse_library_raft(node)
        self.node = node

    def cluster(self, n: int) -> Callable[[Simulation], None]:
        """A setup that adds ``n`` servers n1..n``n`` of the student's class, instrumented
        so that a report can point at the student's line (`instrumented`)."""
        ids = node_ids(n, first=1)
        node = instrumented(self.node)

        def setup(sim: Simulation) -> None:
            sim.add_nodes(node, ids)

        return setup

    # -- part A: leader election ---------------------------------------------------------
    @graded(part="A", seeds=20, description="3 servers, reliable network: one leader, "
            "followed by the others, within 1.5 s")
    def test_initial_election_A(self, seed: int) -> Scenario:
        return Scenario(self.cluster(3), run_for=2_500, network=Network(latency=Uniform(1, 10)),
                        properties=[*safety(), LeaderElected(0, ELECT_WITHIN)])

    @graded(part="A", seeds=20, description="3 servers, quiet network: once a leader is "
            "elected, no new election (no term change) from 1.5 s to 5 s")
    def test_quiet_leader_stays_A(self, seed: int) -> Scenario:
        return Scenario(self.cluster(3), run_for=5_000, network=Network(latency=Uniform(1, 10)),
                        properties=[*safety(), LeaderElected(0, ELECT_WITHIN),
                                    NoNeedlessElections(ELECT_WITHIN, 5_000)])

    @graded(part="A", seeds=20, description="5 servers; the leader crashes at 1.5 s: a new "
            "one within 1.5 s; it restarts at 3 s and follows the leader by 4.5 s")
    def test_reelection_after_crash_A(self, seed: int) -> Scenario:
        def setup(sim: Simulation) -> None:
            self.cluster(5)(sim)
            crashed: list[str] = []

            def crash_leader() -> None:
                crashed.extend(_leaders(sim))
                for node_id in crashed:
                    sim.crash(node_id)

            sim.at(FAULT_AT, crash_leader)
            sim.at(REPAIR_AT, lambda: [sim.restart(node_id) for node_id in crashed])

        return Scenario(setup, run_for=REPAIR_AT + ELECT_WITHIN,
                        network=Network(latency=Uniform(1, 10)),
                        properties=[*safety(), LeaderElected(FAULT_AT, ELECT_WITHIN),
                                    LeaderElected(REPAIR_AT, ELECT_WITHIN)])

    @graded(part="A", seeds=20, description="5 servers; the leader is cut off at 1.5 s: the "
            "other four elect a new one within 1.5 s; after the heal at 3 s the old leader "
            "steps down and everyone follows one leader by 4.5 s")
    def test_reelection_after_partition_A(self, seed: int) -> Scenario:
        def setup(sim: Simulation) -> None:
            self.cluster(5)(sim)

            def cut_off_leader() -> None:
                alone = set(_leaders(sim)[:1])
                if alone:
                    sim.partition(alone, set(sim.nodes) - alone)

            sim.at(FAULT_AT, cut_off_leader)
            sim.at(REPAIR_AT, sim.heal)

        return Scenario(setup, run_for=REPAIR_AT + ELECT_WITHIN,
                        network=Network(latency=Uniform(1, 10)),
                        properties=[*safety(),
                                    LeaderElected(FAULT_AT, ELECT_WITHIN, majority_only=True),
                                    LeaderElected(REPAIR_AT, ELECT_WITHIN)])

    @graded(part="A", seeds=20, description="5 servers; at 1.5 s the leader and two others "
            "crash: no leader while only 2 of 5 are up; one restarts at 3 s: a leader "
            "within 1.5 s")
    def test_no_majority_no_leader_A(self, seed: int) -> Scenario:
        rng = stream(seed, "lab4-no-majority")

        def setup(sim: Simulation) -> None:
            self.cluster(5)(sim)
            crashed: list[str] = []

            def crash_three() -> None:
                leaders = _leaders(sim)[:1]
                others = sorted(set(sim.nodes) - set(leaders))
                crashed.extend(leaders + rng.sample(others, 3 - len(leaders)))
                for node_id in crashed:
                    sim.crash(node_id)

            sim.at(FAULT_AT, crash_three)
            sim.at(REPAIR_AT, lambda: sim.restart(crashed[-1]))

        return Scenario(setup, run_for=REPAIR_AT + ELECT_WITHIN,
                        network=Network(latency=Uniform(1, 10)),
                        properties=[*safety(), NoLeader(FAULT_AT, REPAIR_AT),
                                    LeaderElected(REPAIR_AT, ELECT_WITHIN)])

    @graded(part="A", seeds=20, description="5 servers, unreliable network: 10% of messages "
            "lost, 20% delivered twice, 20% held back up to 400 ms (old replies arrive in "
            "later terms): every rule of Figure 2 holds; a leader within 3 s")
    def test_unreliable_network_A(self, seed: int) -> Scenario:
        network = Network(latency=Uniform(1, 10), loss=0.1, duplicate=0.2, reorder=0.2,
                          reorder_delay=400)
        return Scenario(self.cluster(5), run_for=4_000, network=network,
                        properties=[*safety(), LeaderElected(0, 2 * ELECT_WITHIN)])

    @graded(part="A", seeds=20, description="5 servers under churn for 4 s: crashes, "
            "restarts and partitions every 300 ms or so, messages taking 1 to 30 ms, 5% lost; "
            "every rule of Figure 2 holds throughout; once all is repaired, one leader "
            "within 1.5 s")
    def test_churn_A(self, seed: int) -> Scenario:
        rng = stream(seed, "lab4-churn")
        calm_at = 4_000.0

        def setup(sim: Simulation) -> None:
            self.cluster(5)(sim)
            time = 0.0
            while True:
                time += rng.expovariate(1 / 300)
                if time >= calm_at:
                    break
                sim.at(time, _churn_step, sim, rng.random(), rng.random())
            sim.at(calm_at, _repair_all, sim)

        return Scenario(setup, run_for=calm_at + ELECT_WITHIN,
                        network=Network(latency=Uniform(1, 30), loss=0.05),
                        properties=[*safety(), LeaderElected(calm_at, ELECT_WITHIN)])

    @graded(part="A", seeds=1, description="every schedule of up to 6 steps of 3 servers, "
            "one of which may crash, explored exhaustively: at most one leader per term")
    def test_explore_election_safety_A(self, seed: int) -> Trial:
        node = self.node

        def body() -> Violation | None:
            result = explore_election(node)
            if not result.found:
                return None
            steps = "\n".join(f"  {i:2d}. {step}" for i, step in enumerate(result.schedule, 1))
            return Violation(
                "at most one leader per term, in every schedule explored",
                f"the shortest schedule that breaks it ({len(result.schedule)} steps):\n{steps}"
                f"\n  => {result.violation.explanation}\n"
                f"See it: result = explore_election(YourClass); "
                f"spacetime(result.simulation, show_timers=True)", 0.0)

        return Trial(body, time_limit=EXPLORE_SECONDS + 10)


def explore_election(node: type[Node], *, max_depth: int = EXPLORE_DEPTH,
                     time_budget: float = EXPLORE_SECONDS) -> ExplorationResult:
    """Every schedule of up to ``max_depth`` steps of three servers of class ``node``, one of
    which may crash: the first (shortest) that leads to two leaders in one term, if any.

    Deliveries and timers in every order (timing is ignored: any pending timer may fire), one
    crash; the check `RaftLab.test_explore_election_safety_A` runs this.
    """
    refuse_library_raft(node)

    def setup(sim: Simulation) -> None:
        sim.add_nodes(node, ["n1", "n2", "n3"])

    return explore(setup, [at_most_one_leader_per_term(role_attr="state")], crashes=1,
                   max_depth=max_depth, time_budget=time_budget)


# -- the faults, chosen in the run -------------------------------------------------------------

def _leaders(sim: Simulation) -> list[str]:
    """The live nodes that say they are leader, highest term first."""
    found = [(getattr(node, "term", 0), node_id) for node_id, node in sim.nodes.items()
             if node_id not in sim.crashed and getattr(node, "state", None) == "leader"]
    return [node_id for _, node_id in sorted(found, key=lambda tn: (-tn[0], tn[1]))]


def _churn_step(sim: Simulation, which: float, whom: float) -> None:
    """One fault of the churn: crash (at most 2 down), restart, partition or heal."""
    up = [n for n in sim.nodes if n not in sim.crashed]
    down = sorted(sim.crashed)
    nodes = list(sim.nodes)
    if which < 0.35 and len(down) < 2:
        sim.crash(up[int(whom * len(up))])
    elif which < 0.6 and down:
        sim.restart(down[int(whom * len(down))])
    elif which < 0.85:
        cut = 1 + int(whom * (len(nodes) - 1))
        start = int(which * 1000) % len(nodes)
        side = {nodes[(start + i) % len(nodes)] for i in range(cut)}
        sim.partition(side, set(nodes) - side)
    else:
        sim.heal()


def _repair_all(sim: Simulation) -> None:
    sim.heal()
    for node_id in sorted(sim.crashed):
        sim.restart(node_id)
