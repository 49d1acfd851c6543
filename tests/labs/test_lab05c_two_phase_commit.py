"""Lab 5c: two-phase commit with recovery -- the reference solution passes, the untouched
lab fails, and each classic mistake is caught by a named check.

The reference solution is that of ``solutions/lab05c-two-phase-commit.ipynb``, loaded from the
notebook itself (`notebook_code.solution`). Each broken variant subclasses a reference class
and changes one thing, a mistake students make.
"""

from __future__ import annotations

import re
import time

import pytest

from distlab.grading import check
from distlab.labs.lab05c_two_phase_commit import (EXPLORE_REFERENCE, EXPLORE_STATES,
                                                  LIBRARY_COMMIT, TwoPhaseCommitLab,
                                                  crash_schedule, explore_commit)
from distlab.sim import ConfigurationError, Node, stream
from distlab.soak.solutions import SOLUTIONS
from distlab.txn.two_phase_commit import Coordinator as LibraryCoordinator

from notebook_code import failures, solution

TPC = solution("lab05c-two-phase-commit")


class CommitsOnFirstYes(TPC.Coordinator):
    """Decides commit as soon as one participant has voted yes."""

    def on_message(self, src, msg):
        match msg:
            case TPC.Vote(txn, vote) if txn not in self.decisions and vote == TPC.YES:
                self.decide(txn, TPC.COMMIT)
            case _:
                super().on_message(src, msg)


class VoteNotLogged(TPC.Participant):
    """Keeps its votes in memory only: a restart forgets that it was prepared."""

    def vote(self, txn, vote):
        self.votes[txn] = vote
        if vote == TPC.NO:
            self.learn(txn, TPC.ABORT)


class DecisionNotLogged(TPC.Coordinator):
    """Sends its decision without writing it to its log."""

    def decide(self, txn, outcome):
        self.decisions[txn] = outcome
        for participant in self.participants:
            self.send(participant, TPC.Decision(txn, outcome))
        self.set_timer(TPC.RESEND, "resend")


class AbortsWhenInDoubt(TPC.Participant):
    """Tired of waiting after voting yes, aborts on its own."""

    def on_timer(self, name):
        for txn in self.in_doubt():
            self.learn(txn, TPC.ABORT)


class RecoveryAbortsAlone(TPC.Participant):
    """Restarting in doubt, asks nobody: aborts what it was in doubt about."""

    def on_start(self):
        for txn in self.in_doubt():
            self.learn(txn, TPC.ABORT)


class NoVoteTimeout(TPC.Coordinator):
    """Waits for every vote for ever."""

    def on_timer(self, name):
        if name != "vote-timeout":
            super().on_timer(name)


class AsksOnlyTheCoordinator(TPC.Participant):
    """In doubt, asks the coordinator and nobody else."""

    def on_timer(self, name):
        doubtful = self.in_doubt()
        for txn in doubtful:
            self.send(self.coordinator, TPC.DecisionRequest(txn))
        if doubtful:
            self.set_timer(TPC.ASK_EVERY, "ask")


def lab(coordinator=TPC.Coordinator, participant=TPC.Participant):
    return TwoPhaseCommitLab(coordinator, participant)


def test_the_solution_passes_every_check():
    # two seeds of each check, here in a plain process; every seed of every check runs in the
    # solution notebook, under strict nbval (tests/labs/test_lab_notebooks.py)
    report = check(lab(), seeds=2, timing=False)
    assert report.passed, str(report)
    assert [r.check.seeds for r in report.results] == [20] * 7 + [1]


def test_the_untouched_lab_fails_cleanly():
    skeleton = solution("lab05c-two-phase-commit", folder=SOLUTIONS.parent / "labs")
    report = check(lab(skeleton.Coordinator, skeleton.Participant), part="A", timing=False)
    assert not report.passed
    assert "not implemented" in str(report).lower()


def test_committing_before_every_vote_breaks_validity():
    report = check(lab(coordinator=CommitsOnFirstYes), name="test_some_vote_no_A",
                   timing=False)
    assert failures(report) == {"test_some_vote_no_A": "violated: always: validity: a transaction "
                                "commits only if every participant voted yes"}


class AlwaysAborts(TPC.Coordinator):
    """Plays safe: decides abort on every transaction, whatever the votes (atomic and valid,
    but useless)."""

    def decide(self, txn, outcome):
        super().decide(txn, TPC.ABORT)


def test_a_coordinator_that_always_aborts_is_caught_when_everyone_votes_yes():
    report = check(lab(coordinator=AlwaysAborts), part="A", seeds=2, timing=False)
    assert failures(report) == {"test_everyone_votes_yes_A": "violated: when no node crashes "
                                "and no message is lost, every node commits every transaction "
                                "everyone voted yes on within 2000 ms, and still at the end"}


def test_a_vote_kept_in_memory_is_forgotten_on_restart():
    report = check(lab(participant=VoteNotLogged), name="test_participants_crash_B",
                   timing=False)
    summary = failures(report)["test_participants_crash_B"]
    assert summary.startswith("violated: always: nothing forgotten")
    assert "write it to self.storage" in report.failures[0].explanation
    assert explore_commit(TPC.Coordinator, VoteNotLogged).found


def test_a_decision_not_logged_is_caught():
    report = check(lab(coordinator=DecisionNotLogged), name="test_coordinator_crashes_B",
                   timing=False)
    assert failures(report)["test_coordinator_crashes_B"].startswith(
        "violated: always: nothing forgotten")


def test_aborting_in_doubt_breaks_atomicity():
    report = check(lab(participant=AbortsWhenInDoubt), name="test_explore_atomicity_C",
                   timing=False)
    assert report.failed == ["test_explore_atomicity_C"]
    assert report.failures[0].summary.startswith("violated: atomicity: no transaction is "
                                                 "committed at one node and aborted")
    assert "=> transaction t1: abort at p1" in report.failures[0].explanation
    random_runs = check(lab(participant=AbortsWhenInDoubt), name="test_participants_crash_B",
                        timing=False)
    assert failures(random_runs)["test_participants_crash_B"].startswith(
        "violated: always: atomicity")


def test_recovery_that_asks_nobody_breaks_atomicity():
    report = check(lab(participant=RecoveryAbortsAlone), name="test_participants_crash_B",
                   timing=False)
    assert failures(report)["test_participants_crash_B"].startswith("violated: always: atomicity")


def test_waiting_for_ever_for_a_vote_is_caught():
    report = check(lab(coordinator=NoVoteTimeout), name="test_participant_never_votes_B",
                   timing=False)
    assert failures(report) == {"test_participant_never_votes_B": "violated: every node that "
                                "is up knows every outcome within 2000 ms, and still at the "
                                "end"}


def test_asking_only_the_coordinator_is_caught():
    report = check(lab(participant=AsksOnlyTheCoordinator), name="test_learns_from_peers_B",
                   timing=False)
    assert failures(report)["test_learns_from_peers_B"].startswith(
        "violated: every node that is up knows every outcome")
    assert check(lab(participant=AsksOnlyTheCoordinator), part="A", timing=False).passed


def test_the_library_is_refused():
    with pytest.raises(ConfigurationError, match="two-phase commit"):
        TwoPhaseCommitLab(LibraryCoordinator, TPC.Participant)

    class Borrows(Node):
        def on_start(self):
            LibraryCoordinator.on_start(self)

    with pytest.raises(ConfigurationError, match="uses the library's own two-phase commit"):
        TwoPhaseCommitLab(Borrows, TPC.Participant)
    with pytest.raises(TypeError, match="your coordinator class"):
        TwoPhaseCommitLab("Coordinator", TPC.Participant)
    assert LIBRARY_COMMIT[0].endswith(".")


def test_a_participant_may_use_the_word_txn():
    class UsesTxn(TPC.Participant):
        def on_message(self, src, msg):
            self.last = msg.txn
            super().on_message(src, msg)

    assert TwoPhaseCommitLab(TPC.Coordinator, UsesTxn).participant is UsesTxn


def test_crash_schedules_keep_each_node_down_once_at_a_time():
    schedule = crash_schedule(stream(5, "x"), ("a", "b"), 6)
    assert schedule
    for node in ("a", "b"):
        spans = [(down, up) for down, up, who in schedule if who == node]
        for (_, up), (down, _) in zip(spans, spans[1:]):
            assert down > up
    assert all(up - down >= 10 for down, up, _ in schedule)


class SlowParticipant(TPC.Participant):
    """Sleeps 20 ms in every handler, as if it copied much at each message."""

    def on_message(self, src, msg):
        time.sleep(0.02)
        super().on_message(src, msg)


class ImpatientLab(TwoPhaseCommitLab):
    """The lab with a guard of 1 s on its exploration, so that a test sees it ring."""

    explore_seconds = 1.0


class StateCappedLab(TwoPhaseCommitLab):
    """The lab with a cap of 500 states on its exploration, so that a test sees it hit."""

    explore_states = 500


def test_an_exploration_stopped_by_its_time_guard_fails_instead_of_passing():
    report = check(ImpatientLab(TPC.Coordinator, SlowParticipant),
                   name="test_explore_atomicity_C", timing=False)
    failure = report.failures[0]
    assert failure.summary == ("violated: the exploration covers every schedule of up to 8 "
                               "steps within 1 s")
    assert re.search(r"explore_commit explored [\d,]+ states \([\d,]+ steps\) and reached "
                     r"depth \d of 8 in \d+ s, its time limit", failure.explanation)
    assert "run explore_commit(Coordinator, Participant)" in failure.explanation


def test_an_exploration_stopped_by_its_state_cap_fails_even_for_the_reference():
    report = check(StateCappedLab(TPC.Coordinator, TPC.Participant),
                   name="test_explore_atomicity_C", timing=False)
    failure = report.failures[0]
    assert failure.summary == ("violated: the exploration covers every schedule of up to 8 "
                               "steps within 500 states")
    assert ("explore_commit explored 500 states" in failure.explanation
            and "the reference needs fewer than 30,000" in failure.explanation)


def test_the_reference_exploration_covers_its_bounds_with_room_to_spare():
    result = explore_commit(TPC.Coordinator, TPC.Participant)
    assert result.status == "no violation" and result.depth == result.max_depth == 8
    assert result.states < EXPLORE_REFERENCE < EXPLORE_STATES
