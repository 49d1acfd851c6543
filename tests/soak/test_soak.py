"""The soak (`distlab.soak`): a small slice of it, and proof that it can fail.

`make soak` runs every protocol over 1,000 seeds; here each runs a few, and every broken
variant below is caught, with its seed and the command that replays it.
"""

from __future__ import annotations

import pytest

from distlab.compute.mapreduce import Worker
from distlab.compute.messages import output_file
from distlab.consensus.multipaxos.bugs import SkipsPhase1Leader
from distlab.consensus.paxos import HastyProposer
from distlab.consensus.raft.election import RaftElectionNode
from distlab.consensus.vr import bugs as vr_bugs
from distlab.consensus.zab import bugs as zab_bugs
from distlab.labs.lab05b_swim import PERIOD, late_probes
from distlab.membership.heartbeat import TimeoutDetector
from distlab.membership.messages import ALIVE, Update
from distlab.membership.phi_accrual import PhiAccrualDetector
from distlab.membership.swim import SwimMember
from distlab.ordering.fifo import FifoMember
from distlab.ordering.member import ArrivalMember
from distlab.soak import labs, library
from distlab.soak.__main__ import main
from distlab.soak.runner import PROTOCOLS, replay, soak, target
from distlab.soak.solutions import solution
from distlab.soak.target import Faults, Target

from lab04_code import VotesForAnyLog

#: seeds per protocol in this slice (make soak runs 1,000)
SLICE = 3


@pytest.mark.parametrize("name", PROTOCOLS)
def test_every_protocol_holds_up_over_a_few_seeds(name):
    summary = soak(name, SLICE)
    assert summary.target.name == name  # the catalogue and the targets agree
    assert [o.seed for o in summary.outcomes] == [1, 2, 3]
    assert all(o.events > 0 for o in summary.outcomes)
    assert summary.violations == [], summary.details()


def test_a_proposer_that_ignores_the_promises_is_caught():
    summary = soak(library.paxos(proposer=HastyProposer), SLICE)
    assert len(summary.violations) >= 2
    first = summary.violations[0]
    assert first.violation.startswith("at most one value is chosen: a majority of acceptors")
    details = "\n".join(summary.details())
    assert f"seed {first.seed}:" in details
    assert f"replay: python -m distlab.soak --protocol paxos --seed {first.seed}" in details
    # the replay is the same run
    assert replay(library.paxos(proposer=HastyProposer), first.seed)[1] == first


def test_a_multipaxos_leader_that_skips_phase_1_is_caught():
    summary = soak(library.multipaxos(server=SkipsPhase1Leader), SLICE)
    assert summary.violations, "no run made a leader reuse a slot chosen without it"
    assert summary.violations[0].violation.startswith("one value is chosen per slot: slot ")


def test_an_at_least_once_counter_is_caught_applying_a_retry_twice():
    summary = soak(library.rpc_counter(at_most_once=False), 10)
    assert summary.violations, "no run of an at-least-once server met a duplicate"
    assert "each increment is applied at most once" in summary.violations[0].violation


def test_a_detector_that_never_suspects_is_caught():
    class NeverSuspects(TimeoutDetector):
        def on_timer(self, name: str) -> None:
            pass  # the silence timer goes off, and nothing happens

    summary = soak(library.heartbeat(detector=NeverSuspects), 5)
    assert summary.violations
    assert "yet it does not suspect the sender" in summary.violations[0].violation


def test_liveness_is_judged_once_the_faults_are_over():
    class NeverStandsForElection(RaftElectionNode):
        def start_election(self) -> None:
            self.reset_election_timer()  # waits for a leader that never comes

    summary = soak(library.raft_election(node=NeverStandsForElection), 2)
    assert [o.violation.split(":")[0] for o in summary.violations] == [
        "every node follows one leader, and still at the end"] * 2


def test_a_lab_solution_with_a_bug_is_caught():
    code = solution("lab02b-vector-clocks")

    class MergeWithoutMax(code.VectorClock):
        def merge(self, other):
            counts = self.as_dict()
            counts.update(other.as_dict())
            return type(self).of(counts)

    buggy = labs.lab02b(clock=MergeWithoutMax)
    seed = next(s for s in range(1, 13) if buggy.which(s) == "test_merge_A")
    outcome = replay(buggy, seed)[1]
    assert outcome.violation is not None and "merge" in outcome.violation


def test_a_lab_4_raft_that_votes_for_any_log_is_caught_by_the_lab_s_own_rules():
    summary = soak(labs.lab04(node=VotesForAnyLog), SLICE)
    assert summary.violations, "no run elected a leader that lacks committed entries"
    assert summary.violations[0].violation.startswith(
        "a server votes only for a candidate whose log is at least as up to date")


def test_the_quorum_register_survives_a_duplicated_write():
    # found by the soak: a duplicated Write was coordinated twice, one coordination failed
    # (a definite Error) while the other stored the value on a majority
    assert replay("kv-quorum-register", 169)[1].violation is None


def test_a_swim_member_is_allowed_the_helpers_its_late_probes_need():
    # found by the soak: with one member slow and messages held back, 70 of the 800 probes
    # of lab 5b's solution needed helpers, 3.04 messages per member and period in all, and
    # a fixed bound of 3 called that too many; SWIM's cost is 2 per member and period plus
    # 4K for each late probe, and the solution sends no more
    sim, outcome = replay("lab05b-swim", 59)
    assert outcome.violation is None
    assert sim.trace.counts()["send"] > 3 * 20 * 8_000 / PERIOD
    assert late_probes(sim.trace) > 0


@pytest.mark.parametrize("seed", [49, 56])
def test_aborting_after_a_fault_is_allowed_when_everyone_votes_yes(seed):
    # found by the soak: its nemesis cut the votes off (a partition, a loss), the coordinator's
    # vote timeout aborted, and the rule demanded commits anyway; commit is owed only to a run
    # in which no node crashes and no message is lost
    target = labs.lab05c()
    assert target.which(seed) == "test_everyone_votes_yes_A"
    sim, outcome = replay(target, seed)
    assert outcome.violation is None
    assert sim.trace.counts()["drop"] > 0
    assert "abort" in sim.nodes["coordinator"].decisions.values()


def test_workers_give_the_runs_of_a_single_process():
    alone = soak("ring-election", 6)
    shared = soak("ring-election", 6, jobs=2)
    assert shared.outcomes == alone.outcomes


def test_a_nemesis_that_never_stops_leaves_no_time_for_liveness():
    with pytest.raises(ValueError, match="calm_at is the share of the run"):
        Target("x", "here", "nothing", Faults(crashes=True), lambda seed: None, calm_at=1.0)
    broken = Target("x", "here", "nothing", Faults(crashes=True), lambda seed: "no scenario")
    with pytest.raises(TypeError, match="returned 'no scenario', not a distlab.grading"):
        broken.soak_scenario(1)


def test_bad_requests_get_clear_errors(capsys):
    with pytest.raises(ValueError, match="no protocol 'raft' in the soak; the protocols are"):
        target("raft")
    with pytest.raises(ValueError, match="runs is how many seeds"):
        soak("paxos", 0)
    with pytest.raises(ValueError, match="can run in this process only"):
        soak(library.paxos(), 2, jobs=2)
    with pytest.raises(SystemExit) as exit_:
        main(["--seed", "3"])
    assert exit_.value.code == 2
    assert "name its protocol, with one --protocol" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--runs", "0"])
    assert "--runs and --jobs must be at least 1" in capsys.readouterr().err


def test_a_missing_solution_notebook_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no solution notebook .*lab00-example.ipynb: "
                       r"the lab solutions are read from the repository's solutions/ folder"):
        solution("lab00-example", folder=tmp_path)


def test_the_command_prints_a_line_per_protocol_and_a_total(capsys):
    assert main(["--runs", "2", "--protocol", "paxos", "--protocol", "cristian"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:5] for line in lines[1:]] == [
        ["paxos", "2", "runs", "0", "violations"], ["cristian", "2", "runs", "0", "violations"],
        ["total", "4", "runs", "0", "violations"]]
    assert main(["--protocol", "gossip", "--seed", "4"]) == 0
    assert capsys.readouterr().out.startswith("gossip, seed 4: every property held")


def test_broadcasts_that_promise_less_are_caught_by_the_stronger_orders():
    on_arrival = soak(library.fifo_broadcast(member=ArrivalMember), 5)
    assert on_arrival.violations
    assert on_arrival.violations[0].violation.startswith("FIFO order")
    fifo_only = soak(library.causal_broadcast(member=FifoMember), 5)
    assert fifo_only.violations
    assert fifo_only.violations[0].violation.startswith("causal order")


def test_a_mapreduce_worker_that_writes_its_output_in_place_is_caught():
    class InPlace(Worker):
        """Streams a reduce task's output into its final file: no temporary file."""

        def temporary(self):
            return output_file(self.task.task)

    summary = soak(library.mapreduce(worker=InPlace), runs=3)
    assert len(summary.violations) == 3
    assert "appended to mr-out-" in summary.violations[0].violation


def test_a_vr_primary_that_commits_on_one_acknowledgement_is_caught():
    summary = soak(library.vr_kv(replica=vr_bugs.CommitsOnOneAck), 5)
    assert summary.violations, "no run lost an op committed by two replicas of five"
    assert summary.violations[0].violation.startswith(
        "primaries of later views have every committed op")


def test_a_zab_quorum_of_two_is_caught():
    summary = soak(library.zab_kv(server=zab_bugs.CommitsOnOneAck), 4)
    assert summary.violations, "no run lost a transaction committed by two servers of five"
    assert summary.violations[0].violation.startswith(
        "leaders of later epochs have every committed transaction")


def test_a_swim_member_that_never_refutes_is_caught():
    class NeverRefutes(SwimMember):
        def learn(self, update):
            if update.member != self.id:   # news of its own death is ignored
                super().learn(update)

    summary = soak(library.swim(member=NeverRefutes), 10)
    assert summary.violations
    assert "no live member believes another live member dead" in "\n".join(
        v.violation for v in summary.violations)


def test_a_swim_member_that_invents_incarnations_is_caught():
    class Inventive(SwimMember):
        def probe_failed(self, target):   # vouches for the target, one incarnation up
            state, incarnation = self.heard.get(target, (ALIVE, 0))
            self.learn(Update(target, ALIVE, incarnation + 1))

    summary = soak(library.swim(member=Inventive), 5)
    assert summary.violations
    assert summary.violations[0].violation.startswith("no member has heard of an incarnation")


def test_a_phi_detector_that_never_suspects_is_caught():
    class NeverSuspects(PhiAccrualDetector):
        def on_timer(self, name: str) -> None:
            pass  # phi crosses the threshold, and nothing happens

    summary = soak(library.phi_accrual(detector=NeverSuspects), 5)
    assert summary.violations
    assert "yet it does not suspect the sender" in summary.violations[0].violation


def test_lab_3a_s_owner_does_a_resent_put_once():
    # found by the soak (seeds 117 and 341 of the lost-messages check): the reference store
    # did a resent put again, after another client's put, which it undid
    code = solution("lab03a-hash-ring")

    class RedoesResentPuts(code.StoreNode):
        def serve(self, request):
            if isinstance(request, code.kv.Put):
                self.data[request.key] = request.value
                self.send(request.client, request.ok())
            else:
                self.send(request.client, request.ok(self.data.get(request.key)))

    lost = ("test_lost_messages_B",)
    for seed in (117, 341):
        assert replay(labs.lab03a(only=lost), seed)[1].violation is None
        found = replay(labs.lab03a(store=RedoesResentPuts, only=lost), seed)[1].violation
        assert found.startswith("each put takes effect once: an overwritten value never "
                                "comes back"), found


@pytest.mark.parametrize("seed, name", [(119, "test_lost_messages_B"),
                                        (820, "test_requests_reach_the_owner_B"),
                                        (825, "test_lost_messages_B")])
def test_lab_3a_s_servers_are_never_named_like_its_clients(seed, name):
    # found by the soak: these seeds drew a server called c2 or c3, a client's id
    assert replay(labs.lab03a(only=(name,)), seed)[1].violation is None


def test_lab_3c_s_sloppy_writes_reach_every_replica_and_count_each_once():
    # found by the soak (seeds of part B's three first checks): the reference coordinator
    # counted a slow replica and its stand-in as two acknowledgements (seed 189), and left a
    # replica without the write when its stand-in was unreachable and a slow replica had
    # taken the other (seed 106: no convergence)
    code = solution("lab03c-quorum")

    class CountsStandInsApartAndForgets(code.QuorumNode):
        def on_write_ack(self, src, op):
            c = self.requests.get(op)
            if c is not None and not c.answered and (src in c.replicas or src in c.asked):
                c.acks.add(src)
                self.answer_if_done(c)

        def fall_back(self, op):
            c = self.requests.get(op)
            if c is None or not isinstance(c.request, code.Put):
                return
            covered = {replica for stand_in, replica in c.hinted.items() if stand_in in c.acks}
            silent = [r for r in c.replicas if r not in c.acks and r not in covered]
            stand_ins = [s for s in code.ring_order(self.servers, c.request.key)
                         if s not in c.asked]
            for replica, stand_in in zip(silent, stand_ins):
                self.send(stand_in, code.Write(op, c.request.key, c.version, hint=replica))
                c.asked.append(stand_in)
                c.hinted[stand_in] = replica
            if silent and stand_ins:
                self.set_timer(code.FALLBACK_AFTER, f"fallback {op}")

    first = ("test_replicas_converge_after_a_partition_B",
             "test_replicas_converge_after_two_partitions_B", "test_the_sloppy_quorum_anomaly_B")
    found = {seed: replay(labs.lab03c(node=CountsStandInsApartAndForgets, only=first),
                          seed)[1].violation for seed in (106, 189)}
    assert found[106].startswith("every key's N replicas hold its newest version"), found
    assert found[189].startswith("a put is acknowledged only once 2 replicas"), found
    for seed in (106, 189):
        assert replay(labs.lab03c(only=first), seed)[1].violation is None
