"""Part D's checks: snapshots (log compaction), after MIT 6.5840's tests of its part 3D.

Every server now runs with the lab's service (`distlab.labs.lab04_raft.tester.with_service`),
which asks it for a snapshot every `SNAPSHOT_EVERY` applied entries: its log must stay short
(`LogBound`), a follower too far behind must get the leader's snapshot (`InstallSnapshot`,
the paper's Figure 13), and a server that restarts comes back from its snapshot and the
entries after it. The rules of parts A to C hold throughout, the log's read at its true
indices (`LogRules`), with two more: compaction as asked, and InstallSnapshot as Figure 13
says. The exploration starts from the durable state of a run that took snapshots.
"""

from __future__ import annotations

import copy
from typing import Any

from distlab.check import ExplorationResult, explore
from distlab.consensus.raft.invariants import at_most_one_leader_per_term, log_matching
from distlab.grading.lab import Scenario, Trial, graded
from distlab.labs.lab04_raft.common import (EXPLORE_SECONDS, exploration_trial,
                                            refuse_library_raft, servers)
from distlab.labs.lab04_raft.faults import leaders
from distlab.labs.lab04_raft.part_b import START
from distlab.labs.lab04_raft.part_c import UNRELIABLE, PartC, _crash, _restart_all
from distlab.labs.lab04_raft.replication import Agreement, LogBound, Phase
from distlab.labs.lab04_raft.tester import add_tester, split, with_service
from distlab.sim import Network, Node, Simulation, Uniform

#: the service asks for a snapshot each time a server has applied this many entries
SNAPSHOT_EVERY = 10
#: the most entries a log may hold: a snapshot's worth, and as many not yet applied
MOST_ENTRIES = 2 * SNAPSHOT_EVERY
#: the exploration of part D: schedule length, and the snapshots of the run it starts from
EXPLORE_SNAPSHOT_DEPTH = 5
EXPLORE_SNAPSHOT_EVERY = 2


def _commands(start: float, count: int, every: float, first: int = 101
              ) -> list[tuple[float, int]]:
    """``count`` commands from ``first`` on, one every ``every`` ms from ``start``."""
    return [(start + every * i, first + i) for i in range(count)]


class PartD(PartC):
    """Part D's checks: snapshots (see the module's docstring)."""

    def compacting(self, n: int, run_for: float, plan: list[tuple[float, int]], *properties,
                   faults: list = (), network: Network | None = None) -> Scenario:
        """A scenario of part B on (`PartB.scenario`) with the service's snapshots and a
        bounded log."""
        return self.scenario(n, run_for, plan, *properties,
                             LogBound(MOST_ENTRIES, SNAPSHOT_EVERY), faults=faults,
                             network=network, snapshot_every=SNAPSHOT_EVERY)

    @graded(part="D", seeds=20, description="3 servers: 35 commands, one every 30 ms, each "
            "applied by every server within 1 s; the service asks for a snapshot every 10 "
            "applied entries, and no log ever holds more than 20 entries")
    def test_snapshot_basic_D(self, seed: int) -> Scenario:
        return self.compacting(3, START + 2_100, _commands(START, 35, 30), Agreement())

    @graded(part="D", seeds=20, description="3 servers; a follower is cut off from 1.5 s to "
            "2.5 s while the other two apply 25 commands and compact them: after the heal the "
            "leader sends it its snapshot (InstallSnapshot), and it applies a new command")
    def test_snapshot_install_D(self, seed: int) -> Scenario:
        return self.lagging_follower(Network(latency=Uniform(1, 10)))

    @graded(part="D", seeds=20, description="the same on an unreliable network (10% of "
            "messages lost, 10% twice, 20% late by up to 200 ms): snapshots lost, repeated, "
            "late")
    def test_snapshot_install_unreliable_D(self, seed: int) -> Scenario:
        return self.lagging_follower(Network(latency=Uniform(1, 10), **UNRELIABLE),
                                     within=1_500)

    @graded(part="D", seeds=20, description="3 servers; a follower crashes at 1.5 s while the "
            "others apply 25 commands and compact them, and the leader crashes at 2.5 s as "
            "the follower restarts: the follower restarts from its storage, gets the snapshot "
            "from the new leader, and applies a new command")
    def test_snapshot_install_crash_D(self, seed: int) -> Scenario:
        crashed: list[str] = []

        def crash_a_follower(sim: Simulation) -> None:
            crashed.extend(sorted(set(servers(sim)) - set(leaders(sim)))[:1])
            for node_id in crashed:
                sim.crash(node_id)

        def swap(sim: Simulation) -> None:
            sim.restart(crashed[0])
            for node_id in leaders(sim)[:1]:
                sim.crash(node_id)
                crashed.append(node_id)

        plan = [(START, 101), *_commands(1_600, 25, 30, 201), (2_600, 301), (3_600, 302)]
        return self.compacting(3, 4_600, plan,
                               Agreement(Phase(end=1_500), Phase(1_500, 2_500, 2),
                                         Phase(2_500, 3_500, 2), Phase(3_500)),
                               faults=[(1_500, crash_a_follower), (2_500, swap),
                                       (3_500, lambda sim: sim.restart(crashed[1]))])

    @graded(part="D", seeds=20, description="5 servers, reliable network, for 2 s: crashes, "
            "restarts and partitions every 200 ms or so, a command every 100 ms and snapshots "
            "every 10 entries; once all is repaired, one command applied by all within 1.5 s")
    def test_snapshot_churn_D(self, seed: int) -> Scenario:
        return self.churning(seed, "snapshot-churn", 2_000, 200,
                             Network(latency=Uniform(1, 10)), snapshot_every=SNAPSHOT_EVERY,
                             properties=(LogBound(MOST_ENTRIES, SNAPSHOT_EVERY),))

    @graded(part="D", seeds=20, description="3 servers: 25 commands; all crash at 2 s and "
            "restart at 2.1 s, from their storage (snapshot and the entries after it): each "
            "hands its service the snapshot, applies from there on, and a new command is "
            "applied by all three")
    def test_snapshot_all_crash_D(self, seed: int) -> Scenario:
        plan = [*_commands(START, 25, 30), (2_200, 301)]
        return self.compacting(3, 3_200, plan, Agreement(),
                               faults=[(2_000, _crash("n1", "n2", "n3")), (2_100, _restart_all)])

    @graded(part="D", seeds=20, description="3 servers: 20 commands, so that each log ends "
            "with its snapshot; all crash and restart; a command; all crash and restart again: "
            "a server that restarts with a snapshot and no entries after it votes and answers "
            "AppendEntries by the snapshot's last index and term, and all three apply both "
            "commands")
    def test_snapshot_init_D(self, seed: int) -> Scenario:
        plan = [*_commands(START, 20, 30), (2_200, 301), (3_200, 302)]
        return self.compacting(3, 4_200, plan, Agreement(),
                               faults=[(1_900, _crash("n1", "n2", "n3")), (2_000, _restart_all),
                                       (2_900, _crash("n1", "n2", "n3")), (3_000, _restart_all)])

    @graded(part="D", seeds=1, description="every schedule of up to 5 steps of 3 servers "
            "restarted from the storage of a run in which two took snapshots and the third "
            "was cut off, with one command, one server of which may crash and restart, "
            "explored exhaustively: at most one leader per term, and Log Matching")
    def test_explore_snapshots_D(self, seed: int) -> Trial:
        return exploration_trial(self.node, explore_snapshots, "explore_snapshots")

    def lagging_follower(self, network: Network, within: float = 1_000.0) -> Scenario:
        """A follower cut off from 1.5 s to 2.5 s, while the others apply 25 commands; then
        a command that all three must apply within ``within`` ms."""
        cut: list[str] = []

        def cut_off_a_follower(sim: Simulation) -> None:
            cut.extend(sorted(set(servers(sim)) - set(leaders(sim)))[:1])
            split(sim, set(servers(sim)) - set(cut), set(cut))

        plan = [(START, 101), *_commands(1_600, 25, 30, 201), (2_600, 301)]
        return self.compacting(3, 2_600 + within + 100, plan,
                               Agreement(Phase(end=1_500, count=2, within=within),
                                         Phase(1_500, 2_500, 2, within=within),
                                         Phase(2_500, within=within)),
                               faults=[(1_500, cut_off_a_follower),
                                       (2_500, Simulation.heal)],
                               network=network)


# -- the exploration ---------------------------------------------------------------------------

def explore_snapshots(node: type[Node], *, max_depth: int = EXPLORE_SNAPSHOT_DEPTH,
                      time_budget: float = EXPLORE_SECONDS) -> ExplorationResult:
    """Every schedule of up to ``max_depth`` steps of three servers of class ``node`` that
    start from the durable state of a run (`snapshot_storage`) in which n1 and n2 took
    snapshots and n3 was cut off: the lab's client submits one more command, and one server
    may crash and restart. The first (shortest) schedule that breaks Election Safety or Log
    Matching (read at the logs' true indices, from ``snapshot_index``)."""
    refuse_library_raft(node)
    restored = _restored(with_service(node, EXPLORE_SNAPSHOT_EVERY), snapshot_storage(node))

    def setup(sim: Simulation) -> None:
        sim.add_nodes(restored, ["n1", "n2", "n3"])
        add_tester(sim, [(0.0, 1_001)])

    return explore(setup, [at_most_one_leader_per_term(role_attr="state"),
                           log_matching(first_index="_lab_log_start")],
                   crashes=1, restarts=True, crashable=["n1", "n2", "n3"],
                   max_depth=max_depth, time_budget=time_budget)


def snapshot_storage(node: type[Node]) -> dict[str, dict[str, Any]]:
    """The storage of each server after a run of ``node`` (seed 1) with the service asking
    for a snapshot every `EXPLORE_SNAPSHOT_EVERY` entries: n3 cut off from the start, n1 and
    n2 apply five commands and compact them."""
    sim = Simulation(seed=1, network=Network(latency=Uniform(1, 10)))
    sim.add_nodes(with_service(node, EXPLORE_SNAPSHOT_EVERY), ["n1", "n2", "n3"])
    add_tester(sim, _commands(START, 5, 20), retry_until=2_000)
    split(sim, {"n1", "n2"}, {"n3"})
    sim.run(until=2_000)
    return {node_id: copy.deepcopy(dict(sim.nodes[node_id].storage))
            for node_id in ("n1", "n2", "n3")}


def _restored(node: type[Node], storage: dict[str, dict[str, Any]]) -> type[Node]:
    """``node``, each server of which is first built with ``storage`` (as after a restart),
    and tells where its log starts (``_lab_log_start``, for `log_matching`)."""
    def __init__(self: Any) -> None:
        if not self.storage:  # (the first build: a restart finds its own storage)
            self.storage.update(copy.deepcopy(storage[self.id]))
        node.__init__(self)

    def _lab_log_start(self: Any) -> int:
        index = getattr(self, "snapshot_index", 0)
        return (index if type(index) is int else 0) + 1

    return type(node.__name__, (node,), {"__init__": __init__,
                                         "_lab_log_start": property(_lab_log_start),
                                         "__qualname__": node.__qualname__,
                                         "__module__": node.__module__})

