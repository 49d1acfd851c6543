"""Lab 4: Raft, part B -- log replication: the reference passes, the skeleton fails, and
classic bugs are caught, each by a named check that names the rule broken.

Each broken variant subclasses the reference solution of ``solutions/lab04-raft.ipynb`` and
changes one thing, a mistake students make.
"""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import pytest

from distlab.labs.lab04_raft import explore_log
from distlab.labs.lab04_raft.replication import wire_bytes
from distlab.labs.lab04_raft.tester import BigCommand

from lab04_code import (RAFT, SKELETON, VotesForAnyLog, assert_not_implemented,
                        assert_reference_passes, first_failure)

AppendEntriesReply = RAFT.AppendEntriesReply
CHECKS_B = 12


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


class StoresAStaleLeadersEntries(RAFT.RaftNode):
    """Refuses an AppendEntries of a lower term, with its own term, as it should, but stores
    its entries first (it does the log's work before it compares terms)."""

    def on_append_entries(self, src, msg):
        prev = msg.prev_log_index
        if (msg.term < self.term and msg.entries and prev <= self.last_index()
                and self.term_at(prev) == msg.prev_log_term):
            del self.log[prev:]
            self.log.extend(msg.entries)
        super().on_append_entries(src, msg)


class AppliesOnlyTheCommitIndex(RAFT.RaftNode):
    """Applies the entry at the new commit index only, skipping those before it when the
    commit index jumps by more than one."""

    def apply_committed(self):
        if self.last_applied < self.commit_index:
            self.last_applied = self.commit_index
            self.note("apply", index=self.last_applied,
                      command=self.log[self.last_applied - 1].command)


class MatchesItsOwnLogEnd(RAFT.RaftNode):
    """Takes a follower's success to mean it stores the leader's whole log as it is now, not
    the entries of the request it answers (prev_log_index + len(entries))."""

    def on_append_entries_reply(self, src, msg):
        if msg.success and self.state == "leader" and msg.term == self.term:
            msg = AppendEntriesReply(msg.term, True, match_index=self.last_index())
        super().on_append_entries_reply(src, msg)


class CommitsOnOneAcknowledgement(RAFT.RaftNode):
    """Commits an entry as soon as one follower stores it."""

    def majority(self):
        return 2 if self.state == "leader" else super().majority()


# -- the reference and the skeleton ----------------------------------------------------------

def test_the_reference_solution_passes_every_check_of_part_b():
    assert_reference_passes("B", CHECKS_B)


def test_the_untouched_skeleton_fails_every_check_of_part_b_as_not_implemented():
    assert_not_implemented(SKELETON.RaftNode, "B", CHECKS_B)


# -- each classic mistake, caught by a named check ------------------------------------------

@pytest.mark.parametrize("node, name, summary, explanation", [
    pytest.param(VotesForAnyLog, "test_agreement_despite_disconnected_follower_B",
                 "a server votes only for a candidate whose log is at least as up to date",
                 "in your code (vote for", id="a vote for a candidate with a shorter log"),
    pytest.param(TruncatesBlindly, "test_concurrent_submissions_B",
                 "a follower changes its log only as AppendEntries says",
                 "a late or repeated AppendEntries must not cut off",
                 id="truncating a matching suffix loses entries a late message did not carry"),
    pytest.param(KeepsConflictingSuffix, "test_rejoin_of_partitioned_leader_B",
                 "a follower changes its log only as AppendEntries says",
                 "delete its entries from the first that conflicts",
                 id="a stale tail kept after a conflict"),
    pytest.param(AppliesFromTheStartEachTime, "test_basic_agreement_B",
                 "a server applies committed entries only, each once, in index order",
                 "it applied that index already", id="applying an entry twice"),
    pytest.param(NeverBacksUp, "test_backup_over_divergent_logs_B",
                 "every command submitted from 3.5 s is applied by 4 servers within 1.5 s",
                 "backs up next_index", id="a leader that never backs up leaves followers behind"),
    pytest.param(FollowerIgnoresLeaderCommit, "test_basic_agreement_B", "every command",
                 "followers learn commit_index from leader_commit",
                 id="followers that ignore leader_commit never apply"),
    pytest.param(SendsTheWholeLog, "test_rpc_bytes_B",
                 "at most 90 requests weighing at most 55,020 bytes from 1 s to 2 s",
                 "only the entries from its next_index on",
                 id="sending the whole log every time is caught by the bytes check"),
    pytest.param(HeartbeatsCarryTheWholeLog, "test_rpc_bytes_B",
                 "at most 90 requests weighing at most 55,020 bytes from 1 s to 2 s",
                 "let a heartbeat carry only what is not yet acknowledged",
                 id="heartbeats that resend the whole log are caught by the bytes check"),
    pytest.param(StoresAStaleLeadersEntries, "test_agreement_despite_disconnected_follower_B",
                 "an AppendEntries of a lower term than the receiver's is refused, with the "
                 "receiver's term, and changes nothing",
                 "of an older term, and changed its log (from 1 to 5 entries)",
                 id="a stale leader's entries stored, although refused"),
    pytest.param(AppliesOnlyTheCommitIndex, "test_concurrent_submissions_B",
                 "a server applies committed entries only, each once, in index order",
                 "after index 0: it must apply 1 next, in order", id="applying out of order"),
    pytest.param(MatchesItsOwnLogEnd, "test_concurrent_submissions_B",
                 "a leader commits an entry only of its own term, once a majority of servers "
                 "store it", "count a follower only once it acknowledges the entries",
                 id="match_index taken from the leader's log, not from the request answered"),
    pytest.param(CommitsOnOneAcknowledgement, "test_no_agreement_without_majority_B",
                 "a leader commits an entry only of its own term, once a majority of servers "
                 "store it", "a majority is 3); count a follower only once it acknowledges "
                 "the entries (match_index), and count the leader itself\nin your code "
                 "(commit_index = 2)", id="committing without a majority"),
])
def test_each_classic_mistake_is_caught_by_a_named_check(node, name, summary, explanation):
    failure = first_failure(node, name)
    assert failure.summary.startswith("violated: " + summary)
    assert explanation in failure.explanation


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
    result = explore_log(RAFT.RaftNode)
    assert result.status == "no violation" and result.depth == 5 and result.states < 10_000
