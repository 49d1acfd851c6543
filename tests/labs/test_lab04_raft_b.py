"""Lab 4: Raft, part B -- log replication: the reference passes, the skeleton fails, and
classic bugs are caught, each by a named check that names the rule broken.

Each broken variant subclasses the reference solution of ``solutions/lab04-raft.ipynb`` and
changes one thing, a mistake students make.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt

from distlab.grading import check
from distlab.labs.lab04_raft import RaftLab, explore_log
from distlab.labs.lab04_raft.replication import wire_bytes
from distlab.labs.lab04_raft.tester import BigCommand

from notebook_code import solution

RAFT = solution("lab04-raft")
SKELETON = solution("lab04-raft", Path(__file__).resolve().parents[2] / "labs")
AppendEntriesReply, Entry = RAFT.AppendEntriesReply, RAFT.Entry
RequestVoteReply = RAFT.RequestVoteReply
CHECKS_B = 12


class VotesForAnyLog(RAFT.RaftNode):
    """Grants its vote without the up-to-date check of section 5.4.1."""

    def on_request_vote(self, src, msg):
        granted = msg.term == self.term and self.voted_for in (None, msg.candidate_id)
        if granted:
            self.voted_for = msg.candidate_id
            self.save()
            self.reset_election_timer()
        self.send(src, RequestVoteReply(self.term, granted))


class TruncatesBlindly(RAFT.RaftNode):
    """Deletes every entry after prev_log_index, even those that match the leader's: a late
    AppendEntries then cuts off entries a later one brought."""

    def on_append_entries(self, src, msg):
        prev = msg.prev_log_index
        if (msg.term == self.term and prev <= len(self.log)
                and self.term_at(prev) == msg.prev_log_term):
            del self.log[prev:]
        super().on_append_entries(src, msg)


class NeverBacksUp(RAFT.RaftNode):
    """Ignores a refusal: next_index never goes down."""

    def on_append_entries_reply(self, src, msg):
        if msg.success:
            super().on_append_entries_reply(src, msg)


class FollowerIgnoresLeaderCommit(RAFT.RaftNode):
    """A follower never learns the commit index from the leader."""

    def on_append_entries(self, src, msg):
        super().on_append_entries(src, type(msg)(msg.term, msg.leader_id, msg.prev_log_index,
                                                 msg.prev_log_term, msg.entries, 0))


class SendsTheWholeLog(RAFT.RaftNode):
    """Sends every follower the whole log every time."""

    def send_append_entries(self, peer):
        self.send(peer, RAFT.AppendEntries(self.term, self.id, 0, 0, tuple(self.log),
                                           self.commit_index))


class HeartbeatsCarryTheWholeLog(RAFT.RaftNode):
    """Sends new entries as it should, but each heartbeat carries the whole log again."""

    def send_heartbeats(self):
        for peer in self.peers:
            self.send(peer, RAFT.AppendEntries(self.term, self.id, 0, 0, tuple(self.log),
                                               self.commit_index))
        self.set_timer(RAFT.HEARTBEAT_INTERVAL, "heartbeat")


class BacksUpOneEntryAtATime(RAFT.RaftNode):
    """Ignores conflict_index and conflict_term: after a refusal, next_index goes back by one
    entry only (a round trip per entry)."""

    def on_append_entries_reply(self, src, msg):
        if msg.success or self.state != "leader" or msg.term != self.term:
            super().on_append_entries_reply(src, msg)
            return
        if self.next_index[src] > self.match_index[src] + 1:
            self.next_index[src] -= 1
            self.send_append_entries(src)


class KeepsConflictingSuffix(RAFT.RaftNode):
    """Writes the leader's entries over its own, but keeps whatever follows them."""

    def on_append_entries(self, src, msg):
        prev = msg.prev_log_index
        if (msg.term < self.term or prev > len(self.log)
                or self.term_at(prev) != msg.prev_log_term):
            super().on_append_entries(src, msg)  # the refusals are right
            return
        self.state = "follower"
        self.reset_election_timer()
        self.log[prev:prev + len(msg.entries)] = msg.entries  # the stale tail stays
        last_new = prev + len(msg.entries)
        if msg.leader_commit > self.commit_index:
            self.commit_index = max(self.commit_index, min(msg.leader_commit, last_new))
            self.apply_committed()
        self.send(src, AppendEntriesReply(self.term, True, match_index=last_new))


class AppliesFromTheStartEachTime(RAFT.RaftNode):
    """Applies every committed entry again each time the commit index moves."""

    def apply_committed(self):
        for index in range(1, self.commit_index + 1):
            self.note("apply", index=index, command=self.log[index - 1].command)
        self.last_applied = self.commit_index


class CommitsOnOneAcknowledgement(RAFT.RaftNode):
    """Commits an entry as soon as one follower stores it."""

    def majority(self):
        return 2 if self.state == "leader" else super().majority()


def first_failure(node, name):
    """The failure of check ``name`` for class ``node`` (it must fail)."""
    report = check(RaftLab(node), name=name, timing=False)
    assert report.failed == [name], str(report)
    return report.failures[0]


# -- the reference and the skeleton ----------------------------------------------------------

def test_the_reference_solution_passes_every_check_of_part_b():
    # two seeds of each check, here in a plain process; every seed of every check runs in the
    # solution notebook, under strict nbval (tests/labs/test_lab_notebooks.py)
    report = check(RaftLab(RAFT.RaftNode), part="B", seeds=2, timing=False)
    assert report.passed, str(report)
    assert [r.check.seeds for r in report.results] == [20] * (CHECKS_B - 1) + [1]


def test_the_untouched_skeleton_fails_every_check_of_part_b_as_not_implemented():
    report = check(RaftLab(SKELETON.RaftNode), part="B", timing=False)
    assert len(report.failed) == len(report.results) == CHECKS_B
    assert {f.kind for f in report.failures} == {"not implemented"}


# -- each classic mistake, caught by a named check ------------------------------------------

def test_a_vote_for_a_candidate_with_a_shorter_log_is_caught():
    failure = first_failure(VotesForAnyLog, "test_agreement_despite_disconnected_follower_B")
    assert failure.summary.startswith("violated: a server votes only for a candidate whose "
                                      "log is at least as up to date")
    assert "in your code (vote for" in failure.explanation


def test_truncating_a_matching_suffix_loses_entries_a_late_message_did_not_carry():
    failure = first_failure(TruncatesBlindly, "test_concurrent_submissions_B")
    assert failure.summary.startswith("violated: a follower changes its log only as "
                                      "AppendEntries says")
    assert "a late or repeated AppendEntries must not cut off" in failure.explanation


def test_a_stale_tail_kept_after_a_conflict_is_caught():
    failure = first_failure(KeepsConflictingSuffix, "test_rejoin_of_partitioned_leader_B")
    assert failure.summary.startswith("violated: a follower changes its log only as "
                                      "AppendEntries says")
    assert "delete its entries from the first that conflicts" in failure.explanation


def test_applying_an_entry_twice_is_caught():
    failure = first_failure(AppliesFromTheStartEachTime, "test_basic_agreement_B")
    assert failure.summary == ("violated: a server applies committed entries only, each once, "
                               "in index order")
    assert "it applied that index already" in failure.explanation


def test_a_leader_that_never_backs_up_leaves_followers_behind():
    failure = first_failure(NeverBacksUp, "test_backup_over_divergent_logs_B")
    assert failure.summary == ("violated: every command submitted from 3.5 s is applied by "
                               "4 servers within 1 s")
    assert "backs up next_index" in failure.explanation


def test_followers_that_ignore_leader_commit_never_apply():
    failure = first_failure(FollowerIgnoresLeaderCommit, "test_basic_agreement_B")
    assert "followers learn commit_index from leader_commit" in failure.explanation


def test_sending_the_whole_log_every_time_is_caught_by_the_bytes_check():
    failure = first_failure(SendsTheWholeLog, "test_rpc_bytes_B")
    assert "weighing at most 55,020 bytes" in failure.summary
    assert "only the entries from its next_index on" in failure.explanation


def test_heartbeats_that_resend_the_whole_log_are_caught_by_the_bytes_check():
    failure = first_failure(HeartbeatsCarryTheWholeLog, "test_rpc_bytes_B")
    assert failure.summary.startswith("violated: at most 90 requests weighing at most 55,020 "
                                      "bytes from 1 s to 2 s")
    assert "let a heartbeat carry only what is not yet acknowledged" in failure.explanation


def test_the_bytes_are_those_of_the_messages_json_form():
    heartbeat = RAFT.AppendEntries(2, "n1", 3, 1, (), 3)
    entry = RAFT.Entry(2, BigCommand.of(101, 1_000))
    assert wire_bytes(heartbeat) == len(json.dumps(
        {"type": "AppendEntries", "term": 2, "leader_id": "n1", "prev_log_index": 3,
         "prev_log_term": 1, "entries": [], "leader_commit": 3}, separators=(",", ":")))
    loaded = RAFT.AppendEntries(2, "n1", 3, 1, (entry,), 3)
    assert wire_bytes(loaded) - wire_bytes(heartbeat) == wire_bytes(entry) > 1_000


def test_backing_up_one_entry_at_a_time_is_caught_by_the_fast_backup_rule():
    failure = first_failure(BacksUpOneEntryAtATime, "test_backup_over_divergent_logs_B")
    assert failure.summary.startswith("violated: a leader brings a follower up to date in at "
                                      "most one refused AppendEntries per term")
    assert "each at another prev_log_index" in failure.explanation
    assert "a whole term per round trip" in failure.explanation


def test_committing_without_a_majority_is_caught():
    failure = first_failure(CommitsOnOneAcknowledgement, "test_no_agreement_without_majority_B")
    assert failure.summary.startswith("violated: a leader commits an entry only of its own "
                                      "term, once a majority of servers store it")
    assert "a majority is 3" in failure.explanation


# -- what a failure shows ----------------------------------------------------------------------

def test_a_failure_of_the_log_draws_the_run_and_every_log():
    failure = first_failure(TruncatesBlindly, "test_concurrent_submissions_B")
    figure = failure.picture()
    try:
        assert len(figure.axes) == 2
        assert "bands: light blue follower" in figure.axes[0].get_title()
        assert figure.axes[1].get_title(loc="left").startswith("logs (box: an entry")
    finally:
        plt.close(figure)


def test_the_exploration_of_part_b_passes_the_reference_and_finds_no_matching_log():
    assert explore_log(RAFT.RaftNode).status == "no violation"
