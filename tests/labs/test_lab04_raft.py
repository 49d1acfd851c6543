"""Lab 4: Raft, part A -- the reference passes, the skeleton fails, and classic bugs are caught.

The reference solution is the one of ``solutions/lab04-raft.ipynb``, loaded from the notebook
(``tests/lab04_code.py``); the untouched skeleton is the generated ``labs/lab04-raft.ipynb``.
Each broken variant subclasses the reference and changes one thing, a mistake students make;
a named check must catch it, name the rule broken, and say what to do.
"""

from __future__ import annotations

import dataclasses
import re
import time

import matplotlib.pyplot as plt
import pytest

from distlab.consensus.raft.election import RaftElectionNode
from distlab.grading import Scenario, check, replay
from distlab.labs.lab04_raft import ElectionRules, NoLeader, RaftLab, explore_election
from distlab.sim import ConfigurationError, Network, Uniform

from lab04_code import (RAFT, SKELETON, assert_not_implemented, assert_reference_passes,
                        first_failure)

RequestVoteReply = RAFT.RequestVoteReply
CHECKS_A = 9
#: the summary of a failure of the rule of a stale AppendEntries
STALE_APPEND = ("violated: an AppendEntries of a lower term than the receiver's is refused, "
                "with the receiver's term, and changes nothing: neither its term, role nor "
                "vote, nor (from part B) its log or commit index")


class VotesTwice(RAFT.RaftNode):
    """Grants every request of its term: forgets that it already voted."""

    def on_request_vote(self, src, msg):
        granted = msg.term == self.term
        if granted:
            self.voted_for = msg.candidate_id
            self.save()
            self.reset_election_timer()
        self.send(src, RequestVoteReply(self.term, granted))


class FixedTimeout(RAFT.RaftNode):
    """The same election timeout everywhere, every time: split votes forever."""

    def reset_election_timer(self):
        self.set_timer(200, "election")


class NoResetOnVote(RAFT.RaftNode):
    """Grants a vote without setting its election timer again."""

    def on_request_vote(self, src, msg):
        granted = msg.term == self.term and self.voted_for in (None, msg.candidate_id)
        if granted:
            self.voted_for = msg.candidate_id
            self.save()
        self.send(src, RequestVoteReply(self.term, granted))


class IgnoresHigherTermInReplies(RAFT.RaftNode):
    """Adopts higher terms from requests only, never from replies."""

    def on_message(self, src, msg):
        if isinstance(msg, (RequestVoteReply, RAFT.AppendEntriesReply)) and msg.term > self.term:
            return
        super().on_message(src, msg)


class CountsOldVotes(RAFT.RaftNode):
    """Counts a granted vote whatever its term."""

    def on_request_vote_reply(self, src, msg):
        if self.state == "candidate" and msg.vote_granted:
            self.votes.add(src)
            if len(self.votes) >= self.majority():
                self.become_leader()


class SlowHeartbeats(RAFT.RaftNode):
    """Sends heartbeats every 200 ms, longer than the shortest election timeout."""

    def send_heartbeats(self):
        super().send_heartbeats()
        self.set_timer(200, "heartbeat")


class HalfIsMajority(RAFT.RaftNode):
    """Takes n // 2 servers for a majority."""

    def majority(self):
        return (len(self.peers) + 1) // 2


class CountsOwnVoteTwice(RAFT.RaftNode):
    """Keeps its votes in a list, its own vote in it twice."""

    def start_election(self):
        super().start_election()
        self.votes = [self.id, self.id]

    def on_request_vote_reply(self, src, msg):
        if self.state == "candidate" and msg.term == self.term and msg.vote_granted:
            self.votes.append(src)
            if len(self.votes) >= self.majority():
                self.become_leader()


class ForgetsOnRestart(RAFT.RaftNode):
    """Keeps term and voted_for in memory only: a restart forgets them."""

    def __init__(self):
        super().__init__()
        self.term, self.voted_for = 0, None


# -- the reference and the skeleton ----------------------------------------------------------

def test_the_reference_solution_passes_every_check_of_part_a():
    assert_reference_passes("A", CHECKS_A)


def test_the_untouched_skeleton_fails_every_check_as_not_implemented():
    report = assert_not_implemented(SKELETON.RaftNode, "A", CHECKS_A)
    assert "RaftNode.__init__" in report.failures[0].summary


# -- each classic mistake, caught by a named check ------------------------------------------

def test_voting_twice_in_a_term_is_caught_at_the_second_vote():
    failure = first_failure(VotesTwice, "test_initial_election_A")
    assert failure.summary == "violated: each server grants at most one vote per term"
    assert "granted its vote in term 1 to" in failure.explanation
    assert "in your code (vote for" in failure.explanation
    assert "in VotesTwice.on_request_vote" in failure.explanation


def test_exploration_finds_the_shortest_schedule_with_two_leaders_when_votes_are_repeated():
    failure = first_failure(VotesTwice, "test_explore_election_safety_A")
    assert failure.summary == ("violated: at most one leader per term, in every schedule "
                               "explored")
    assert "the shortest schedule that breaks it (6 steps):" in failure.explanation
    assert "1. fire n1:election" in failure.explanation
    result = explore_election(VotesTwice)
    assert result.found and len(result.schedule) == 6
    reference = explore_election(RAFT.RaftNode)
    assert reference.status == "no violation" and reference.depth == 6
    assert reference.states < 10_000  # (what a report of the state cap says of the reference)


class SlowHandlers(RAFT.RaftNode):
    """Waits 20 ms in every handler of a message (as if it did heavy work): an exploration
    of thousands of steps cannot end in time."""

    def on_message(self, src, msg):
        time.sleep(0.02)
        super().on_message(src, msg)


class ImpatientLab(RaftLab):
    """The lab with a guard of 1 s on its explorations, so that a test sees it ring."""

    explore_seconds = 1.0


class StateCappedLab(RaftLab):
    """The lab with a cap of 500 states on its explorations, so that a test sees it hit."""

    explore_states = 500


def test_an_exploration_stopped_by_its_time_guard_fails_and_says_how_far_it_got():
    report = check(ImpatientLab(SlowHandlers), name="test_explore_election_safety_A",
                   timing=False)
    failure = report.failures[0]
    assert failure.summary == ("violated: the exploration covers every schedule of up to 6 "
                               "steps within 1 s")
    assert re.search(r"explore_election explored [\d,]+ states \([\d,]+ steps\) and reached "
                     r"depth \d of 6 in \d+ s, its time limit, without covering every "
                     r"schedule of up to 6 steps: it must, to pass. Your node's steps took "
                     r"[\d.]+ ms each", failure.explanation)
    assert "does a handler sleep, wait, loop or copy much" in failure.explanation


class HangsOnAVote(RAFT.RaftNode):
    """Waits for ever in the handler of a RequestVote (as if it waited for a message)."""

    def on_request_vote(self, src, msg):
        time.sleep(3_600)


class HangTestLab(ImpatientLab):
    """The impatient lab, whose exploration check also gives up on a step after 2 s."""

    def test_explore_election_safety_A(self, seed):
        return dataclasses.replace(super().test_explore_election_safety_A(seed), time_limit=2.0)


def test_an_exploration_whose_step_never_ends_is_stopped_with_advice_for_handlers():
    report = check(HangTestLab(HangsOnAVote), name="test_explore_election_safety_A",
                   timing=False)
    failure = report.failures[0]
    assert failure.kind == "time limit"
    assert failure.summary == "stopped: the check did not finish within 2 s of real time"
    assert failure.explanation.startswith("A handler that never returns? explore_election "
                                          "stops between two steps when its 1 s are up")
    assert "A handler must return at once" in failure.explanation


def test_an_exploration_stopped_by_its_state_cap_fails_even_for_the_reference():
    report = check(StateCappedLab(RAFT.RaftNode), name="test_explore_election_safety_A",
                   timing=False)
    failure = report.failures[0]
    assert failure.summary == ("violated: the exploration covers every schedule of up to 6 "
                               "steps within 500 states")
    assert ("explore_election explored 500 states" in failure.explanation
            and "when it hit its limit of 500 states" in failure.explanation)
    assert "a counter, a time (self.now) or a list that only grows" in failure.explanation


def test_the_explorations_are_bounded_by_depth_and_states_with_a_wide_time_guard():
    lab = RaftLab(RAFT.RaftNode)
    assert (lab.explore_states, lab.explore_seconds) == (100_000, 120.0)
    trial = lab.test_explore_election_safety_A(1)
    assert trial.time_limit > lab.explore_seconds  # (the guard rings first, and is reported)


def test_a_fixed_timeout_splits_votes_forever_and_the_liveness_check_says_so():
    failure = first_failure(FixedTimeout, "test_initial_election_A")
    assert failure.summary == ("violated: one leader, followed by every live server, within "
                               "1.5 s of the start")
    assert "elections in 1500 ms and none won" in failure.explanation
    assert "self.rng.uniform(*ELECTION_TIMEOUT)" in failure.explanation


def test_not_resetting_the_timer_on_a_vote_is_caught():
    failure = first_failure(NoResetOnVote, "test_initial_election_A")
    assert failure.summary.startswith("violated: a server starts an election only after a "
                                      "full election timeout")
    assert "after it granted its vote to" in failure.explanation


def test_ignoring_a_higher_term_in_a_reply_is_caught_after_a_partition():
    failure = first_failure(IgnoresHigherTermInReplies, "test_reelection_after_partition_A")
    assert failure.summary == ("violated: a server that receives a higher term adopts it and "
                               "becomes a follower")
    assert "(leader, term 1) received AppendEntriesReply(term=2" in failure.explanation


def test_counting_a_vote_of_an_older_term_is_caught_on_an_unreliable_network():
    failure = first_failure(CountsOldVotes, "test_unreliable_network_A")
    assert failure.summary == ("violated: a leader of term T has the votes of a majority, "
                               "cast in term T")
    assert "votes of earlier terms" in failure.explanation
    assert "in your code (state = 'leader'):" in failure.explanation  # where it became leader


def test_slow_heartbeats_cause_needless_elections():
    failure = first_failure(SlowHeartbeats, "test_quiet_leader_stays_A")
    assert failure.summary == ("violated: no new election while the network is quiet, from "
                               "1.5 s to 5 s")
    assert "more often than the shortest election timeout" in failure.explanation


@pytest.mark.parametrize("node", [HalfIsMajority, CountsOwnVoteTwice])
def test_a_wrong_majority_is_caught_with_five_servers(node):
    failure = first_failure(node, "test_reelection_after_crash_A")
    assert failure.summary == ("violated: a leader of term T has the votes of a majority, "
                               "cast in term T")
    assert "(2 of 5), but it needs 3" in failure.explanation


def test_a_term_kept_in_memory_only_is_caught_at_a_restart():
    failure = first_failure(ForgetsOnRestart, "test_reelection_after_crash_A")
    assert failure.summary == "violated: a server's term never decreases, across restarts too"
    assert "keep term and voted_for in self.storage" in failure.explanation


def test_no_leader_alone_catches_a_leader_without_a_majority():
    # the rules of Figure 2 report it first; the scenario's own property catches it too
    lab = RaftLab(HalfIsMajority)
    plain = lab.test_no_majority_no_leader_A(1)
    scenario = Scenario(plain.setup, plain.run_for, network=plain.network,
                        properties=[p for p in plain.properties if isinstance(p, NoLeader)])

    class OnlyNoLeader(RaftLab):
        def test_no_majority_no_leader_A(self, seed):
            return scenario

    report = check(OnlyNoLeader(HalfIsMajority), name="test_no_majority_no_leader_A",
                   seeds=[1], timing=False)
    assert report.failures[0].summary == ("violated: no leader while a majority is down, "
                                          "from 1.5 s to 3 s")
    assert "with only 2 of 5 servers up" in report.failures[0].explanation


class SaysLeaderInCapitals(RAFT.RaftNode):
    """Names its role in its own words."""

    def become_leader(self):
        super().become_leader()
        self.state = "Leader"


def test_a_role_named_otherwise_is_refused_with_the_names_to_use():
    failure = first_failure(SaysLeaderInCapitals, "test_initial_election_A")
    assert failure.summary.startswith("violated: state is 'follower', 'candidate' or 'leader'")
    assert "state is 'Leader': it must be one of" in failure.explanation


# -- what a failure shows ----------------------------------------------------------------------

def test_a_failure_draws_the_run_with_each_servers_role_and_term():
    failure = first_failure(VotesTwice, "test_initial_election_A")
    figure = failure.picture()
    try:
        ax = figure.axes[0]
        assert ("bands: light blue follower, dotted yellow candidate, hatched red leader"
                in ax.get_title())
        assert ax.collections and any(t.get_text().startswith("t") for t in ax.texts)
    finally:
        plt.close(figure)


def test_the_rules_are_judged_from_the_record_not_by_the_run():
    # the properties read only what a graded run records
    assert set(RaftLab.node_attributes) == {"term", "state", "voted_for", "_lab_where"}
    assert not getattr(ElectionRules(150), "calls_student_code", False)


# -- integrity --------------------------------------------------------------------------------

def test_a_subclass_of_the_librarys_raft_is_refused():
    class Mine(RaftElectionNode):
        pass

    with pytest.raises(ConfigurationError, match="built on the library's own Raft"):
        RaftLab(Mine)
    with pytest.raises(ConfigurationError, match="built on the library's own Raft"):
        explore_election(Mine)


def test_a_class_that_uses_the_librarys_raft_inside_is_refused():
    class Delegates(RAFT.RaftNode):
        def on_start(self):
            self.inner = RaftElectionNode  # the library's election, used inside

    with pytest.raises(ConfigurationError, match="uses the library's own Raft"):
        RaftLab(Delegates)


def helper_that_delegates():
    """A function of the student's module that uses the library's election."""
    return RaftElectionNode


def test_the_librarys_raft_reached_through_a_helper_or_a_dotted_name_is_refused():
    import distlab

    class ThroughHelper(RAFT.RaftNode):
        def on_start(self):
            self.inner = helper_that_delegates()

    class Dotted(RAFT.RaftNode):
        def on_start(self):
            self.inner = distlab.consensus.raft.node

    class ByName(RAFT.RaftNode):
        def on_start(self):
            self.inner = __import__("distlab.consensus.raft.election")

    with pytest.raises(ConfigurationError, match="RaftElectionNode, from distlab.consensus"):
        RaftLab(ThroughHelper)
    with pytest.raises(ConfigurationError, match="by its dotted name"):
        RaftLab(Dotted)
    with pytest.raises(ConfigurationError, match="the module name"):
        RaftLab(ByName)
    RaftLab(RAFT.RaftNode)  # the reference uses only the messages: accepted


def test_raftlab_wants_a_node_class():
    with pytest.raises(TypeError, match="RaftLab takes your node class"):
        RaftLab("RaftNode")  # type: ignore[arg-type]


def test_the_checks_run_on_a_network_that_reorders_duplicates_and_loses():
    network = RaftLab(RAFT.RaftNode).test_unreliable_network_A(1).network
    assert isinstance(network, Network) and isinstance(network.latency, Uniform)
    assert (network.loss, network.duplicate, network.reorder) == (0.1, 0.2, 0.2)


class NoNewTimerForACandidate(RAFT.RaftNode):
    """Starts an election without setting its election timer again: after a split vote the
    candidates wait for ever."""

    def start_election(self):
        self.term += 1
        self.voted_for = self.id
        self.save()
        self.state = "candidate"
        self.votes = {self.id}
        self.broadcast(RAFT.RequestVote(self.term, self.id, self.last_index(),
                                        self.last_log_term()))


def test_a_candidate_without_a_new_timer_is_caught_once_the_longest_timeout_is_over():
    failure = first_failure(NoNewTimerForACandidate, "test_no_majority_no_leader_A")
    assert failure.summary == ("violated: a candidate starts a new election if it has not won "
                               "within the longest election timeout")
    assert "more than the longest election timeout (300 ms)" in failure.explanation
    assert "sets its election timer again" in failure.explanation
    assert "in NoNewTimerForACandidate.start_election" in failure.explanation


class ResetsOnEveryRequest(RAFT.RaftNode):
    """Sets its election timer again on every RequestVote, refused ones too: two candidates
    hold each other's next election off for ever."""

    def on_request_vote(self, src, msg):
        self.reset_election_timer()
        super().on_request_vote(src, msg)


def test_a_candidate_whose_timer_a_refused_request_resets_is_caught():
    failure = first_failure(ResetsOnEveryRequest, "test_no_majority_no_leader_A")
    assert failure.summary == ("violated: a candidate starts a new election if it has not won "
                               "within the longest election timeout")
    assert "a refused RequestVote leaves it alone" in failure.explanation


class HeartbeatsAfterSteppingDown(RAFT.RaftNode):
    """A leader that steps down keeps its heartbeat timer, and sends AppendEntries as a
    follower: the others never time out, and nobody leads."""

    def become_follower(self, term):
        if self.state == "leader":
            self.reset_election_timer()
        self.term = term
        self.voted_for = None
        self.save()
        self.state = "follower"

    def on_timer(self, name):
        if name == "heartbeat":
            self.send_heartbeats()
        else:
            super().on_timer(name)


def test_heartbeats_of_a_server_that_stepped_down_are_caught_at_the_first_one():
    failure = first_failure(HeartbeatsAfterSteppingDown, "test_reelection_after_partition_A")
    assert failure.summary == "violated: only a leader sends AppendEntries, of its own term"
    assert "as follower of term 2: only the leader of a term sends" in failure.explanation
    assert "stops its \"heartbeat\" timer" in failure.explanation


class GrantsAnOlderTerm(RAFT.RaftNode):
    """Grants a vote to a RequestVote of a lower term than its own (if it has not voted in
    its own term): a late duplicate of an old request gets a vote."""

    def on_request_vote(self, src, msg):
        if msg.term < self.term and self.voted_for in (None, msg.candidate_id):
            self.voted_for = msg.candidate_id
            self.save()
            self.reset_election_timer()
            self.send(src, RequestVoteReply(self.term, True))
        else:
            super().on_request_vote(src, msg)


def test_a_vote_granted_to_an_older_term_is_caught_at_the_first_seed_of_the_scripted_check():
    failure = first_failure(GrantsAnOlderTerm, "test_stale_request_vote_A")
    assert failure.seed == 1
    assert failure.summary == ("violated: a vote is granted only to a request of the voter's "
                               "current term")
    assert "n3 (term 2) granted its vote to RequestVote(term=1" in failure.explanation
    assert "in GrantsAnOlderTerm.on_request_vote" in failure.explanation


def test_the_stale_request_script_plays_as_it_says():
    sim = replay(RaftLab(RAFT.RaftNode).test_stale_request_vote_A, seed=1)
    late = [e for e in sim.trace if e.kind == "deliver" and e.node == "n3"
            and isinstance(e.data, RAFT.RequestVote)]
    assert [(e.time, e.data.term) for e in late] == [(601.0, 1)]  # (n2's request was lost)
    n3 = sim.nodes["n3"]
    assert (n3.state, n3.term, n3.voted_for) == ("follower", 2, None)
    assert (sim.nodes["n2"].state, sim.nodes["n2"].term) == ("leader", 2)
    refusals = [e.data for e in sim.trace if e.kind == "send" and e.node == "n3"
                and isinstance(e.data, RequestVoteReply)]
    assert refusals == [RequestVoteReply(2, False)]


def test_a_vote_granted_to_an_older_term_is_caught_on_an_unreliable_network_too():
    # a rare run (seed 25): a duplicate RequestVote of term 1 reaches a voter of term 3 that
    # has not voted in term 3
    report = check(RaftLab(GrantsAnOlderTerm), name="test_unreliable_network_A", seeds=[25],
                   timing=False)
    failure = report.failures[0]
    assert failure.summary == ("violated: a vote is granted only to a request of the voter's "
                               "current term")
    assert "(term 3) granted its vote to RequestVote(term=1" in failure.explanation
    assert "in your code (vote for n4 in term 3)" in failure.explanation


class ObeysAStaleLeader(RAFT.RaftNode):
    """Becomes a follower on an AppendEntries of any term, a lower one too (and refuses it)."""

    def on_append_entries(self, src, msg):
        if msg.term < self.term:
            self.state = "follower"
            self.reset_election_timer()
            self.send(src, RAFT.AppendEntriesReply(self.term, False))
        else:
            super().on_append_entries(src, msg)


class AcceptsAStaleLeader(RAFT.RaftNode):
    """Answers an AppendEntries of a lower term with success, in the sender's term."""

    def on_append_entries(self, src, msg):
        if msg.term < self.term:
            self.send(src, RAFT.AppendEntriesReply(msg.term, True))
        else:
            super().on_append_entries(src, msg)


def test_a_leader_that_obeys_a_stale_leader_is_caught_when_the_old_leader_returns():
    failure = first_failure(ObeysAStaleLeader, "test_reelection_after_partition_A")
    assert failure.summary == STALE_APPEND
    assert "(leader, term 2) received AppendEntries(term=1" in failure.explanation
    assert "and became follower of term 2" in failure.explanation
    assert "in ObeysAStaleLeader.on_append_entries" in failure.explanation


class ForgetsItsVoteOnAStaleAppend(RAFT.RaftNode):
    """A follower that meets an AppendEntries of a lower term "follows" before it compares
    terms: it becomes a follower of its own term again, which clears voted_for (it could then
    vote a second time in its term)."""

    def on_append_entries(self, src, msg):
        if msg.term < self.term and self.state == "follower":
            self.become_follower(self.term)
        super().on_append_entries(src, msg)


def test_a_vote_forgotten_on_a_stale_append_entries_is_caught_when_the_old_leader_returns():
    failure = first_failure(ForgetsItsVoteOnAStaleAppend, "test_reelection_after_partition_A")
    assert failure.seed == 1 and failure.summary == STALE_APPEND
    assert re.search(r"\(follower, term 2\) received AppendEntries\(term=1, .* of an older "
                     r"term, and changed voted_for from 'n\d' to None", failure.explanation)


def test_a_stale_leader_answered_with_success_is_caught():
    failure = first_failure(AcceptsAStaleLeader, "test_reelection_after_partition_A")
    assert failure.summary.startswith("violated: an AppendEntries of a lower term")
    assert "and answered AppendEntriesReply(term=1, success=True)" in failure.explanation
    assert "answer AppendEntriesReply(term=2, success=False)" in failure.explanation


class NoFirstHeartbeat(RAFT.RaftNode):
    """Wins an election and waits for its heartbeat timer before its first AppendEntries."""

    def become_leader(self):
        self.state = "leader"
        self.cancel_timer("election")
        self.next_index = {peer: self.last_index() + 1 for peer in self.peers}
        self.match_index = {peer: 0 for peer in self.peers}
        self.set_timer(RAFT.HEARTBEAT_INTERVAL, "heartbeat")


def test_a_new_leader_that_waits_before_its_first_heartbeat_is_caught():
    failure = first_failure(NoFirstHeartbeat, "test_initial_election_A")
    assert failure.summary == ("violated: a new leader sends AppendEntries to every other "
                               "server at once")
    assert "without sending AppendEntries to" in failure.explanation
    assert "in NoFirstHeartbeat.become_leader" in failure.explanation
