"""Lab 4: Raft, part C -- persistence: the reference passes, the skeleton fails, and classic
bugs are caught, each by a named check that names the rule broken.

Each broken variant subclasses the reference solution of ``solutions/lab04-raft.ipynb`` and
changes one thing, a mistake students make.
"""

from __future__ import annotations

from distlab.grading import replay
from distlab.labs.lab04_raft import RaftLab, explore_persistence

from lab04_code import (RAFT, SKELETON, assert_not_implemented, assert_reference_passes,
                        first_failure)

CHECKS_C = 9


class ForgetsLogOnRestart(RAFT.RaftNode):
    """Keeps its log in memory only: a restart brings it back empty."""

    def __init__(self):
        super().__init__()
        self.log = []


class CommitsOldTermByCounting(RAFT.RaftNode):
    """Commits the highest index stored on a majority, whatever the term of its entry."""

    def advance_commit_index(self):
        for index in range(len(self.log), self.commit_index, -1):
            stored = 1 + sum(1 for match in self.match_index.values() if match >= index)
            if stored >= self.majority():
                self.commit_index = index
                self.apply_committed()
                break


class CommitsOnAStaleAppend(RAFT.RaftNode):
    """Takes leader_commit from an AppendEntries of a lower term too (and then refuses it)."""

    def on_append_entries(self, src, msg):
        if msg.term < self.term and msg.leader_commit > self.commit_index:
            self.commit_index = min(msg.leader_commit, self.last_index())
            self.apply_committed()
        super().on_append_entries(src, msg)


class BacksUpBelowOne(RAFT.RaftNode):
    """Takes next_index back by one on every refusal, late and repeated ones too, with no
    floor (and sends as in part B, before snapshots): next_index reaches 0, and the leader
    sends prev_log_index -1 with the term of ``self.log[-2]``."""

    def on_append_entries_reply(self, src, msg):
        if msg.success or self.state != "leader" or msg.term != self.term:
            super().on_append_entries_reply(src, msg)
            return
        self.next_index[src] -= 1
        self.send_append_entries(src)

    def send_append_entries(self, peer):
        prev = self.next_index[peer] - 1
        self.send(peer, RAFT.AppendEntries(self.term, self.id, prev, self.term_at(prev),
                                           tuple(self.log[prev:]), self.commit_index))


# -- the reference and the skeleton ----------------------------------------------------------

def test_the_reference_solution_passes_every_check_of_part_c():
    assert_reference_passes("C", CHECKS_C)


def test_the_untouched_skeleton_fails_every_check_of_part_c_as_not_implemented():
    assert_not_implemented(SKELETON.RaftNode, "C", CHECKS_C)


# -- each classic mistake, caught by a named check ------------------------------------------

def test_a_log_kept_in_memory_only_is_caught_after_a_restart():
    failure = first_failure(ForgetsLogOnRestart, "test_persist_restart_C")
    assert failure.summary == ("violated: every server applies the same command at the same "
                               "index (State Machine Safety)")
    assert "keep it in self.storage" in failure.explanation


def test_the_figure8_script_catches_a_commit_by_counting_an_older_terms_replicas():
    failure = first_failure(CommitsOldTermByCounting, "test_figure8_C")
    assert failure.summary.startswith("violated: a leader commits an entry only of its own "
                                      "term")
    assert "an entry of term 1" in failure.explanation
    # the report points at the line that set commit_index, not at the one that made it leader
    assert ("in your code (commit_index = 2): " in failure.explanation
            and "in CommitsOldTermByCounting.advance_commit_index" in failure.explanation)


def test_a_commit_index_taken_from_a_stale_leader_is_caught_on_an_unreliable_network():
    failure = first_failure(CommitsOnAStaleAppend, "test_unreliable_agreement_C")
    assert failure.seed == 1
    assert failure.summary.startswith("violated: an AppendEntries of a lower term than the "
                                      "receiver's is refused, with the receiver's term, and "
                                      "changes nothing")
    assert "of an older term, and moved its commit_index from" in failure.explanation
    assert "in CommitsOnAStaleAppend.on_append_entries" in failure.explanation


def test_a_next_index_below_one_is_caught_at_the_append_entries_it_sends():
    failure = first_failure(BacksUpBelowOne, "test_crashes_at_any_point_C")
    assert failure.seed == 1
    assert failure.summary == ("violated: a leader's AppendEntries carries entries of its log, "
                               "after the index prev_log_index (at least 0) and the term "
                               "prev_log_term that its log has there")
    assert "AppendEntries(prev_log_index=-1, ...): next_index[" in failure.explanation
    assert "never below match_index + 1" in failure.explanation


def test_the_figure8_script_plays_as_the_figure_says():
    # (d): n5's entry of term 2 replaces 102, which a majority stored in (c), on every server
    sim = replay(RaftLab(RAFT.RaftNode).test_figure8_C, seed=3)
    elected = [dict(e.data.details)["server"] for e in sim.trace
               if e.kind == "note" and e.data.what == "elect"]
    assert elected[0] == "n1" and elected[-1] == "n5"
    for node_id in ("n1", "n2", "n3", "n4", "n5"):
        assert sim.nodes[node_id].log[1] == RAFT.Entry(2, 103)


def test_the_exploration_of_part_c_passes_the_reference():
    result = explore_persistence(RAFT.RaftNode)
    assert result.status == "no violation" and result.depth == 5 and result.states < 10_000
