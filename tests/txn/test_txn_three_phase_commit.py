"""Three-phase commit (`distlab.txn.three_phase_commit`): it does not block when the
coordinator crashes, and it loses atomicity under a partition, where 2PC blocks but stays
atomic (`distlab.txn.runs.partition_after_precommit`)."""

from __future__ import annotations

import pytest

from distlab.check import watch
from distlab.sim import Constant, Network, Simulation
from distlab.txn.invariants import commit_invariants
from distlab.txn.messages import ABORT, COMMIT
from distlab.txn.runs import PARTICIPANTS, outcomes, partition_after_precommit
from distlab.txn.three_phase_commit import Coordinator3PC, Participant3PC


def three_pc(refuse=None) -> Simulation:
    sim = Simulation(seed=1, network=Network(latency=Constant(5)))
    sim.add_node(Coordinator3PC, "coordinator", participants=PARTICIPANTS)
    for p in PARTICIPANTS:
        sim.add_node(Participant3PC, p, refuse=(refuse or {}).get(p, ()))
    watch(sim, *commit_invariants(PARTICIPANTS))
    return sim


def test_all_yes_commits_and_a_no_aborts():
    sim = three_pc()
    sim.run(until=1_000)
    assert all(o == {"t1": COMMIT} for o in outcomes(sim).values())
    sim = three_pc(refuse={"p2": {"t1"}})
    sim.run(until=1_000)
    assert all(o == {"t1": ABORT} for o in outcomes(sim).values())


@pytest.mark.parametrize("crash_at, outcome", [
    (7.0, ABORT),      # before the votes arrive: everyone is uncertain
    (17.0, COMMIT),    # after the PreCommits arrived: everyone is precommitted
])
def test_a_coordinator_crash_does_not_block(crash_at, outcome):
    sim = three_pc()
    sim.at(crash_at, sim.crash, "coordinator")
    sim.run(until=1_000)
    assert {p: outcomes(sim)[p] for p in PARTICIPANTS} == {p: {"t1": outcome}
                                                           for p in PARTICIPANTS}


def test_a_partition_splits_3pc_but_only_blocks_2pc():
    split = outcomes(partition_after_precommit("3pc"))
    assert split == {"coordinator": {"t1": COMMIT}, "p1": {"t1": COMMIT},
                     "p2": {"t1": ABORT}, "p3": {"t1": ABORT}}
    blocked = outcomes(partition_after_precommit("2pc", until=1_000))
    assert blocked == {"coordinator": {"t1": COMMIT}, "p1": {"t1": COMMIT}, "p2": {}, "p3": {}}
    healed = outcomes(partition_after_precommit("2pc"))
    assert all(o == {"t1": COMMIT} for o in healed.values())
    with pytest.raises(ValueError, match="'2pc' or '3pc'"):
        partition_after_precommit("paxos-commit")
