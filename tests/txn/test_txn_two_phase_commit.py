"""Two-phase commit (`distlab.txn.two_phase_commit`) and its invariants: commits and aborts,
recovery from the logs, blocking, and broken variants caught by the invariants, the explorer
and the soak."""

from __future__ import annotations

import pytest

from distlab.check import InvariantViolation, explore, watch
from distlab.sim import Constant, Network, Simulation
from distlab.soak.library import two_phase_commit
from distlab.soak.run import run_seed
from distlab.txn.invariants import Atomicity, NothingForgotten, Validity, commit_invariants
from distlab.txn.messages import ABORT, COMMIT, Decision, DecisionRequest
from distlab.txn.runs import PARTICIPANTS, blocking, commit_cluster, outcomes
from distlab.txn.two_phase_commit import RESEND, Coordinator, Participant


def run(until=2_000.0, seed=1, **kwargs) -> Simulation:
    sim = Simulation(seed=seed, network=Network(latency=Constant(5)))
    commit_cluster(sim, **kwargs)
    watch(sim, *commit_invariants(PARTICIPANTS))
    return sim


def test_every_yes_commits_and_one_no_aborts():
    sim = run(transactions=("t1", "t2"), refuse={"p2": {"t2"}})
    sim.run(until=1_000)
    expected = {"t1": COMMIT, "t2": ABORT}
    assert outcomes(sim) == {node: expected for node in ("coordinator", *PARTICIPANTS)}
    assert sim.nodes["p2"].votes == {"t1": "yes", "t2": "no"}


def test_the_coordinator_stops_resending_once_everyone_acknowledged():
    sim = run()
    sim.run(until=1_000)
    decisions = [e for e in sim.trace.of_kind("send") if isinstance(e.data, Decision)]
    assert len(decisions) == len(PARTICIPANTS)     # once each: every Ack came back in time
    assert sim.nodes["coordinator"].acked["t1"] == set(PARTICIPANTS)


def test_a_missing_vote_aborts_after_the_timeout():
    sim = run()
    sim.at(1.0, sim.crash, "p3")                  # before its Prepare arrives
    sim.run(until=1_000)
    assert outcomes(sim)["p1"] == {"t1": ABORT}
    assert outcomes(sim)["coordinator"] == {"t1": ABORT}


def test_the_coordinator_recovers_its_decision_from_its_log():
    sim = run()
    sim.at(10.5, sim.crash, "coordinator")        # it decided commit at 10 ms
    sim.at(11.0, sim.crash, "p1")                 # p1 misses the decision...
    sim.at(11.0, sim.cut, "p2", "p1")             # ...and cannot ask the others
    sim.at(11.0, sim.cut, "p3", "p1")
    sim.at(300.0, sim.restart, "p1")
    sim.at(600.0, sim.restart, "coordinator")
    sim.run(until=590)
    assert outcomes(sim)["p1"] == {} and sim.nodes["p1"].in_doubt() == ["t1"]
    sim.run(until=2_000)
    assert all(o == {"t1": COMMIT} for o in outcomes(sim).values())


def test_blocking_lasts_until_the_coordinator_recovers():
    blocked = blocking(recover_at=3_000.0)
    assert blocked.in_doubt == {f"{p}/t1": 3_000.0 for p in PARTICIPANTS}
    forever = blocking(recover_at=None)
    assert forever.in_doubt == {f"{p}/t1": None for p in PARTICIPANTS}


def test_cooperative_termination_learns_from_a_peer():
    sim = run()
    sim.at(8.0, sim.cut, "coordinator", "p3", False)   # p3's decision will not arrive
    sim.at(50.0, sim.crash, "coordinator")
    sim.run(until=1_000)
    assert outcomes(sim)["p3"] == {"t1": COMMIT}


def test_a_participant_not_yet_prepared_aborts_when_asked():
    sim = Simulation(seed=1, network=Network(latency=Constant(5)))
    commit_cluster(sim)
    sim.nodes["p1"].on_message("p2", DecisionRequest("t1"))
    assert sim.nodes["p1"].votes == {"t1": "no"}
    assert sim.nodes["p1"].outcomes == {"t1": ABORT}


class DecisionNotLogged(Coordinator):
    def decide(self, txn, outcome):
        self.decisions[txn] = outcome
        for participant in self.participants:
            self.send(participant, Decision(txn, outcome))
        self.set_timer(RESEND, "resend")


class AbortsInDoubt(Participant):
    def on_timer(self, name):
        for txn in self.in_doubt():
            self.learn(txn, ABORT)


def two_participants(coordinator=Coordinator, participant=Participant):
    def setup(sim):
        commit_cluster(sim, ("p1", "p2"), coordinator=coordinator, participant=participant)
    return setup


def test_exploration_finds_no_violation_in_the_library():
    result = explore(two_participants(), commit_invariants(("p1", "p2")), crashes=1,
                     restarts=True, max_depth=7)
    assert not result.found and result.stopped_by is None


@pytest.mark.parametrize("coordinator, participant, broken", [
    (DecisionNotLogged, Participant, "nothing forgotten"),
    (Coordinator, AbortsInDoubt, "atomicity"),
])
def test_exploration_catches_broken_variants(coordinator, participant, broken):
    result = explore(two_participants(coordinator, participant),
                     commit_invariants(("p1", "p2")), crashes=1, restarts=True, max_depth=8)
    assert result.found
    assert result.violation.invariant.startswith(broken)


def test_the_soak_target_passes_and_catches_a_coordinator_that_does_not_log():
    good = two_phase_commit()
    assert all(run_seed(good, seed)[1].violation is None for seed in range(1, 6))
    bad = two_phase_commit(coordinator=DecisionNotLogged)
    found = [run_seed(bad, seed)[1].violation for seed in range(1, 41)]
    assert any(v is not None for v in found)


def test_the_invariants_explain_what_broke():
    atomicity, validity, kept = Atomicity(), Validity(("p1", "p2")), NothingForgotten()
    sim = Simulation(seed=1)
    commit_cluster(sim, ("p1", "p2"))
    sim.nodes["p1"].outcomes = {"t1": COMMIT}
    sim.nodes["p2"].outcomes = {"t1": ABORT}
    assert atomicity.check(sim) == "transaction t1: abort at p2; commit at p1"
    assert "p1, p2 did not vote yes" in validity.check(sim)
    assert kept.check(sim) is None
    sim.nodes["p1"].outcomes = {}
    assert kept.check(sim).startswith("p1 had outcomes['t1'] = 'commit' and now has None")
    kept.reset()
    assert kept.memory() == ()


def test_a_bad_refusal_is_refused():
    with pytest.raises(ValueError, match="not participants"):
        commit_cluster(Simulation(seed=1), refuse={"p9": {"t1"}})


def test_watch_stops_a_run_that_breaks_atomicity():
    sim = Simulation(seed=1, network=Network(latency=Constant(5)))
    commit_cluster(sim, participant=AbortsInDoubt)
    watch(sim, *commit_invariants(PARTICIPANTS))
    sim.at(7.0, sim.cut, "coordinator", "p3", False)
    with pytest.raises(InvariantViolation, match="atomicity"):
        sim.run(until=2_000)


def test_over_raft_groups_a_leader_crash_keeps_the_transaction_atomic():
    from distlab.txn.runs import GROUPS, over_raft_groups
    for seed in (1, 2, 3):
        run = over_raft_groups(seed)
        assert run.crashed_leader in GROUPS["g1"]
        assert run.atomic and run.sim.nodes["tm"].decisions == {"t1": COMMIT}
        # each group elects its own leader among its own three servers: a majority is 2
        for members in GROUPS.values():
            assert sum(run.sim.nodes[m].role == "leader" for m in members) == 1
            assert all(run.sim.nodes[m].majority() == 2 for m in members)
