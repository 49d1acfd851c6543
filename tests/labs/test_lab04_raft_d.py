"""Lab 4: Raft, part D -- snapshots: the reference passes, the skeleton fails, and classic
bugs are caught, each by a named check that names the rule broken.

Each broken variant subclasses the reference solution of ``solutions/lab04-raft.ipynb`` and
changes one thing, a mistake students make.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from distlab.grading import check
from distlab.labs.lab04_raft import MachineState, RaftLab, explore_snapshots, with_service
from distlab.labs.lab04_raft.part_d import snapshot_storage

from notebook_code import solution

RAFT = solution("lab04-raft")
SKELETON = solution("lab04-raft", Path(__file__).resolve().parents[2] / "labs")
CHECKS_D = 8


class KeepsTheWholeLog(RAFT.RaftNode):
    """Keeps the snapshot, but never drops the entries it replaces."""

    def snapshot(self, index, data):
        self.storage["snapshot"] = (index, self.term_at(index), data)


class KeepsTheSnapshotInMemory(RAFT.RaftNode):
    """Drops the entries, but keeps the snapshot in memory only: a restart finds a log that
    starts after entries it has no snapshot of."""

    def snapshot(self, index, data):
        if index <= self.snapshot_index:
            return
        self.snapshot_term = self.term_at(index)
        del self.log[:index - self.snapshot_index]
        self.snapshot_index = index
        self.snapshot_data = data

    def send_append_entries(self, peer):
        if self.next_index[peer] <= self.snapshot_index:
            self.send(peer, RAFT.InstallSnapshot(self.term, self.id, self.snapshot_index,
                                                 self.snapshot_term, self.snapshot_data))
            return
        super().send_append_entries(peer)


class ForgetsTheSnapshotAtRestart(RAFT.RaftNode):
    """Restarts with its snapshot, but does not hand it to the service."""

    def on_start(self):
        self.reset_election_timer()


class DescribesItsLogByItsLength(RAFT.RaftNode):
    """Asks for votes with len(self.log) as its last index, forgetting the snapshot."""

    def start_election(self):
        self.term += 1
        self.voted_for = self.id
        self.save()
        self.state = "candidate"
        self.votes = {self.id}
        self.broadcast(RAFT.RequestVote(self.term, self.id, len(self.log), self.last_log_term()))
        self.reset_election_timer()


class InstallsWithoutCommitting(RAFT.RaftNode):
    """Installs a snapshot, but leaves commit_index and last_applied where they were."""

    def on_install_snapshot(self, src, msg):
        if msg.term < self.term:
            self.send(src, RAFT.InstallSnapshotReply(self.term, 0))
            return
        self.state = "follower"
        self.reset_election_timer()
        index = msg.last_included_index
        if index > self.last_applied:
            if index < self.last_index() and self.term_at(index) == msg.last_included_term:
                del self.log[:index - self.snapshot_index]
            else:
                del self.log[:]
            self.snapshot_index, self.snapshot_term = index, msg.last_included_term
            self.storage["snapshot"] = (index, msg.last_included_term, msg.state)
            self.note("apply", index=index, snapshot=msg.state)
        self.send(src, RAFT.InstallSnapshotReply(self.term, index))


class DropsTheWholeLogOnInstall(RAFT.RaftNode):
    """Installs a snapshot by dropping its whole log, even the entries that follow it."""

    def on_install_snapshot(self, src, msg):
        if msg.term >= self.term and msg.last_included_index > self.last_applied:
            self.log.clear()
        super().on_install_snapshot(src, msg)


class ObeysStaleInstallSnapshot(RAFT.RaftNode):
    """Installs a snapshot whatever the term of its sender."""

    def on_install_snapshot(self, src, msg):
        super().on_install_snapshot(src, RAFT.InstallSnapshot(
            max(msg.term, self.term), msg.leader_id, msg.last_included_index,
            msg.last_included_term, msg.state))


class IgnoresTheSnapshotInTheConsistencyCheck(RAFT.RaftNode):
    """Checks prev_log_index against its log as if the snapshot were not there: an
    AppendEntries that starts inside the snapshot reads an entry that is gone (Python's
    negative indices make it some other entry)."""

    def on_append_entries(self, src, msg):
        if msg.term < self.term:
            self.send(src, RAFT.AppendEntriesReply(self.term, False))
            return
        self.state = "follower"
        self.reset_election_timer()
        prev, entries = msg.prev_log_index, msg.entries
        if prev > self.last_index():
            self.send(src, RAFT.AppendEntriesReply(self.term, False,
                                                   conflict_index=self.last_index() + 1))
            return
        if self.term_at(prev) != msg.prev_log_term:
            conflict_term = self.term_at(prev)
            first = prev
            while first - 1 > self.snapshot_index and self.term_at(first - 1) == conflict_term:
                first -= 1
            self.send(src, RAFT.AppendEntriesReply(self.term, False, conflict_index=first,
                                                   conflict_term=conflict_term))
            return
        for offset, entry in enumerate(entries):
            index = prev + 1 + offset
            if index <= self.last_index() and self.term_at(index) == entry.term:
                continue
            del self.log[index - self.snapshot_index - 1:]
            self.log.extend(entries[offset:])
            break
        last_new = prev + len(entries)
        if msg.leader_commit > self.commit_index:
            self.commit_index = max(self.commit_index, min(msg.leader_commit, last_new))
            self.apply_committed()
        self.send(src, RAFT.AppendEntriesReply(self.term, True, match_index=last_new))


class PartsAToCOnly(RAFT.RaftNode):
    """A student's class before part D: everything but snapshots."""

    def snapshot(self, index, data):
        raise NotImplementedError()

    def on_install_snapshot(self, src, msg):
        raise NotImplementedError()


def first_failure(node, name):
    """The failure of check ``name`` for class ``node`` (it must fail)."""
    report = check(RaftLab(node), name=name, timing=False)
    assert report.failed == [name], str(report)
    return report.failures[0]


# -- the reference and the skeleton ----------------------------------------------------------

def test_the_reference_solution_passes_every_check_of_part_d():
    # two seeds of each check, here in a plain process; every seed of every check runs in the
    # solution notebook, under strict nbval (tests/labs/test_lab_notebooks.py)
    report = check(RaftLab(RAFT.RaftNode), part="D", seeds=2, timing=False)
    assert report.passed, str(report)
    assert [r.check.seeds for r in report.results] == [20] * (CHECKS_D - 1) + [1]


def test_the_untouched_skeleton_fails_every_check_of_part_d_as_not_implemented():
    report = check(RaftLab(SKELETON.RaftNode), part="D", timing=False)
    assert len(report.failed) == len(report.results) == CHECKS_D
    assert {f.kind for f in report.failures} == {"not implemented"}


def test_a_class_done_up_to_part_c_fails_every_check_of_part_d_as_not_implemented():
    report = check(RaftLab(PartsAToCOnly), part="D", timing=False)
    assert len(report.failed) == len(report.results) == CHECKS_D
    assert {f.kind for f in report.failures} == {"not implemented"}


# -- each classic mistake, caught by a named check ------------------------------------------

def test_a_snapshot_that_keeps_the_whole_log_is_caught_at_the_first_compaction():
    failure = first_failure(KeepsTheWholeLog, "test_snapshot_basic_D")
    assert failure.summary.startswith("violated: asked by the service for a snapshot up to "
                                      "index i, a server drops its entries up to i")
    assert "snapshot_index=0, snapshot_term=0 and 10 entries" in failure.explanation


def test_a_snapshot_kept_in_memory_only_is_caught_after_all_restart():
    failure = first_failure(KeepsTheSnapshotInMemory, "test_snapshot_all_crash_D")
    assert failure.summary == ("violated: every server applies the same command at the same "
                               "index (State Machine Safety)")
    assert "a snapshot) kept in memory only is lost" in failure.explanation


def test_a_restart_that_does_not_hand_the_snapshot_to_the_service_is_caught():
    failure = first_failure(ForgetsTheSnapshotAtRestart, "test_snapshot_all_crash_D")
    assert failure.summary == ("violated: a server applies committed entries only, each once, "
                               "in index order")
    assert "after a restart, hand the service the snapshot" in failure.explanation


def test_a_request_vote_that_forgets_the_snapshot_is_caught_after_a_restart():
    failure = first_failure(DescribesItsLogByItsLength, "test_snapshot_init_D")
    assert failure.summary == ("violated: a candidate's RequestVote gives the index and term "
                               "of its last log entry")


def test_installing_a_snapshot_without_advancing_commit_index_is_caught():
    failure = first_failure(InstallsWithoutCommitting, "test_snapshot_install_D")
    assert failure.summary == ("violated: a server applies committed entries only, each once, "
                               "in index order")
    assert "set commit_index and last_applied" in failure.explanation


def test_an_install_snapshot_of_an_older_term_obeyed_is_caught():
    failure = first_failure(ObeysStaleInstallSnapshot, "test_snapshot_install_D")
    assert failure.summary.startswith("violated: a server installs a leader's snapshot of its "
                                      "term that is news")
    assert "a message of an older term is stale" in failure.explanation


def test_dropping_the_entries_that_follow_an_installed_snapshot_is_caught():
    failure = first_failure(DropsTheWholeLogOnInstall, "test_snapshot_churn_D")
    assert failure.summary.startswith("violated: a server installs a leader's snapshot of its "
                                      "term that is news")
    assert "keep the entries that follow it" in failure.explanation


def test_a_consistency_check_that_ignores_the_snapshot_is_caught_on_a_late_append_entries():
    failure = first_failure(IgnoresTheSnapshotInTheConsistencyCheck,
                            "test_snapshot_install_unreliable_D")
    assert "raised IndexError" in failure.summary
    assert "AppendEntries" in failure.explanation


# -- the service and the exploration ---------------------------------------------------------

def test_the_service_asks_for_snapshots_every_so_many_entries_and_refuses_nonsense():
    with pytest.raises(ValueError, match="snapshot_every counts applied entries"):
        with_service(RAFT.RaftNode, 0)
    assert repr(MachineState((101, 102))) == "MachineState(up to index 2)"


def test_the_exploration_of_part_d_starts_from_snapshots_and_passes_the_reference():
    storage = snapshot_storage(RAFT.RaftNode)
    assert storage["n1"]["snapshot"][0] >= 2 and "snapshot" not in storage["n3"]
    assert explore_snapshots(RAFT.RaftNode).status != "violation"
