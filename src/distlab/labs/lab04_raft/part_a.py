"""Part A's checks: leader election, the first part of `RaftLab`.

Part A's checks restart crashed nodes: ``term`` and ``voted_for`` must be durable (kept in
``self.storage``), as the paper's Figure 2 says ("updated on stable storage before responding
to RPCs").
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from distlab.check import ExplorationResult, explore
from distlab.consensus.raft.invariants import at_most_one_leader_per_term
from distlab.grading.exploration import exploration_trial
from distlab.grading.lab import Lab, Scenario, Trial, graded
from distlab.labs.lab04_raft.common import (ELECT_WITHIN, ELECTION_TIMEOUT, EXPLORE_DEPTH,
                                            EXPLORE_REFERENCE, EXPLORE_SECONDS, EXPLORE_STATES,
                                            FAULT_AT, REPAIR_AT, WATCHED, instrumented,
                                            refuse_library_raft, servers)
from distlab.labs.lab04_raft.election import (ElectionRules, LeaderElected, NoLeader,
                                              NoNeedlessElections)
from distlab.labs.lab04_raft.faults import churn_step, elect, leaders, repair_all
from distlab.labs.lab04_raft.tester import add_tester
from distlab.sim import Network, Node, Simulation, Uniform, stream
from distlab.sim.helpers import node_ids


def safety() -> list:
    """The properties every check of part A judges, most specific first.

    When a run breaks several, the first rule broken in time is reported: a double vote is
    reported as the double vote, not as the two leaders it leads to a few events later.
    """
    return [ElectionRules(shortest_timeout=ELECTION_TIMEOUT[0])]


class PartA(Lab):
    """Part A's checks, and what every part's checks use: the student's Raft node class and a
    cluster of it.

    Refuses a class that reuses the library's Raft (`refuse_library_raft`): the point of the
    lab is to write it.
    """

    title = "Lab 4: Raft"
    node_attributes = (*WATCHED, "_lab_where")
    #: the bounds of every part's exploration: its cap of states, and its guard against a
    #: node that hangs or crawls, in seconds of real time (`exploration_trial`)
    explore_states = EXPLORE_STATES
    explore_seconds = EXPLORE_SECONDS

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
                crashed.extend(leaders(sim))
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
                alone = set(leaders(sim)[:1])
                if alone:
                    sim.partition(alone, set(servers(sim)) - alone)

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
                leader = leaders(sim)[:1]
                others = sorted(set(servers(sim)) - set(leader))
                crashed.extend(leader + rng.sample(others, 3 - len(leader)))
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
                sim.at(time, churn_step, sim, rng.random(), rng.random())
            sim.at(calm_at, repair_all, sim)

        return Scenario(setup, run_for=calm_at + ELECT_WITHIN,
                        network=Network(latency=Uniform(1, 30), loss=0.05),
                        properties=[*safety(), LeaderElected(calm_at, ELECT_WITHIN)])

    @graded(part="A", seeds=20, description="3 servers, scripted: n1's RequestVote of term 1 "
            "to n3 is held back 600 ms; meanwhile n1 leads term 1, then n2 wins term 2 without "
            "n3's vote (its request to n3 is lost) and n3 follows it: the late request of term "
            "1 reaches n3, which has not voted in term 2, and is refused")
    def test_stale_request_vote_A(self, seed: int) -> Scenario:
        return Scenario(stale_request_script(self.cluster(3)), run_for=STALE_AT + 300,
                        network=Network(latency=Uniform(1, 10)), properties=safety())

    @graded(part="A", seeds=1, description="every schedule of up to 6 steps of 3 servers, "
            "one of which may crash, explored exhaustively: at most one leader per term")
    def test_explore_election_safety_A(self, seed: int) -> Trial:
        return self.exploration(explore_election, "explore_election")

    def exploration(self, search: Callable[..., ExplorationResult], name: str) -> Trial:
        """The check that runs the exploration ``search`` (``name``) on the student's class,
        within the lab's bounds; it passes only if the exploration covers them."""
        return exploration_trial(partial(search, self.node), name, f"{name}(YourClass)",
                                 reference_states=EXPLORE_REFERENCE, states=self.explore_states,
                                 seconds=self.explore_seconds)


#: when the held-back RequestVote of `RaftLab.test_stale_request_vote_A` arrives, in ms
STALE_AT = 601.0


def stale_request_script(cluster: Callable[[Simulation], None]) -> Callable[[Simulation], None]:
    """The setup of `RaftLab.test_stale_request_vote_A`: three servers (``cluster``) and a
    script that brings a RequestVote of an older term to a server that has not voted in its
    own, the one case where a voter that forgets to compare terms grants it:

    * at 1 ms the script makes n1 start an election (term 1), its request to n3 held back
      until `STALE_AT` (the link n1 -> n3 is slowed for that one message); n2's vote makes n1
      leader, and n3 follows n1's heartbeats (term 1, voted for no one);
    * at 300 ms the script makes n2 start an election (term 2), its request to n3 lost (the
      link n2 -> n3 is cut for 11 ms); n1's vote makes n2 leader, and n3 follows its next
      heartbeats (term 2, voted for no one);
    * at `STALE_AT` n1's request of term 1 reaches n3: it must be refused.
    """
    def setup(sim: Simulation) -> None:
        cluster(sim)
        add_tester(sim, [])  # (the script's elections are noted by the lab's client)
        held = STALE_AT - 1.0
        sim.at(0.5, lambda: sim.network.set_link("n1", "n3", latency=held, both_ways=False))
        sim.at(1.0, elect("n1"), sim)
        sim.at(1.5, sim.network.clear_links)
        sim.at(299.5, sim.cut, "n2", "n3", False)
        sim.at(300.0, elect("n2"), sim)
        sim.at(311.0, sim.heal)

    return setup


def explore_election(node: type[Node], *, max_depth: int = EXPLORE_DEPTH,
                     max_states: int = EXPLORE_STATES, time_budget: float = EXPLORE_SECONDS
                     ) -> ExplorationResult:
    """Every schedule of up to ``max_depth`` steps of three servers of class ``node``, one of
    which may crash: the first (shortest) that leads to two leaders in one term, if any.

    Deliveries and timers in every order (timing is ignored: any pending timer may fire), one
    crash; the check `RaftLab.test_explore_election_safety_A` runs this.
    """
    refuse_library_raft(node)

    def setup(sim: Simulation) -> None:
        sim.add_nodes(node, ["n1", "n2", "n3"])

    return explore(setup, [at_most_one_leader_per_term(role_attr="state")], crashes=1,
                   max_depth=max_depth, max_states=max_states, time_budget=time_budget)
