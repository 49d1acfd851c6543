"""Lab 4: Raft, part D -- snapshots: the reference passes, the skeleton fails, and classic
bugs are caught, each by a named check that names the rule broken.

Each broken variant subclasses the reference solution of ``solutions/lab04-raft.ipynb`` and
changes one thing, a mistake students make.
"""

from __future__ import annotations

import pytest

from distlab.check import Invariant
from distlab.labs.lab04_raft import MachineState, explore_snapshots, with_service
from distlab.labs.lab04_raft.part_d import lagging_state

from lab04_code import (RAFT, SKELETON, assert_not_implemented, assert_reference_passes,
                        first_failure)

CHECKS_D = 9


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


class InstallsOverANewerState(RAFT.RaftNode):
    """Installs any snapshot beyond its own snapshot_index, even one behind what it has
    applied (and sets commit_index to it): a late InstallSnapshot takes its state back."""

    def on_install_snapshot(self, src, msg):
        if msg.term < self.term or msg.last_included_index <= self.snapshot_index:
            super().on_install_snapshot(src, msg)
            return
        self.state = "follower"
        self.reset_election_timer()
        index = msg.last_included_index
        if index < self.last_index() and self.term_at(index) == msg.last_included_term:
            del self.log[:index - self.snapshot_index]
        else:
            del self.log[:]
        self.snapshot_index, self.snapshot_term = index, msg.last_included_term
        self.storage["snapshot"] = (index, msg.last_included_term, msg.state)
        self.commit_index = self.last_applied = index
        self.note("apply", index=index, snapshot=msg.state)
        self.apply_committed()
        self.send(src, RAFT.InstallSnapshotReply(self.term, index))


class KeepsItsLogOnInstall(RAFT.RaftNode):
    """Installs a snapshot whose last entry its log lacks, but keeps its log: the entries it
    had now stand after the snapshot, at indices where the leader has others (Figure 13 says
    to discard the entire log)."""

    def on_install_snapshot(self, src, msg):
        if msg.term >= self.term and msg.last_included_index > self.last_index():
            kept = list(self.log)
            super().on_install_snapshot(src, msg)
            self.log.extend(kept)
            return
        super().on_install_snapshot(src, msg)


# -- the reference and the skeleton ----------------------------------------------------------

def test_the_reference_solution_passes_every_check_of_part_d():
    assert_reference_passes("D", CHECKS_D)


@pytest.mark.parametrize("node", [SKELETON.RaftNode, PartsAToCOnly],
                         ids=["the untouched skeleton", "a class done up to part C"])
def test_a_class_without_part_d_fails_every_check_of_part_d_as_not_implemented(node):
    assert_not_implemented(node, "D", CHECKS_D)


# -- each classic mistake, caught by a named check ------------------------------------------

@pytest.mark.parametrize("node, name, summary, explanation", [
    pytest.param(KeepsTheWholeLog, "test_snapshot_basic_D",
                 "asked by the service for a snapshot up to index i, a server drops its "
                 "entries up to i", "snapshot_index=0, snapshot_term=0 and 10 entries",
                 id="a snapshot that keeps the whole log, at the first compaction"),
    pytest.param(KeepsTheSnapshotInMemory, "test_snapshot_all_crash_D",
                 "every server applies the same command at the same index (State Machine "
                 "Safety)", "a snapshot) kept in memory only is lost",
                 id="a snapshot kept in memory only, after all restart"),
    pytest.param(ForgetsTheSnapshotAtRestart, "test_snapshot_all_crash_D",
                 "a server applies committed entries only, each once, in index order",
                 "after a restart, hand the service the snapshot",
                 id="a restart that does not hand the snapshot to the service"),
    pytest.param(DescribesItsLogByItsLength, "test_snapshot_init_D",
                 "a candidate's RequestVote gives the index and term of its last log entry",
                 "but its log ends at index",
                 id="a RequestVote that forgets the snapshot, after a restart"),
    pytest.param(InstallsWithoutCommitting, "test_snapshot_install_D",
                 "a server applies committed entries only, each once, in index order",
                 "set commit_index and last_applied",
                 id="installing a snapshot without advancing commit_index"),
    pytest.param(ObeysStaleInstallSnapshot, "test_snapshot_install_D",
                 "a server installs a leader's snapshot of its term that is news",
                 "a message of an older term is stale",
                 id="an InstallSnapshot of an older term obeyed"),
    pytest.param(DropsTheWholeLogOnInstall, "test_snapshot_churn_D",
                 "a server installs a leader's snapshot of its term that is news",
                 "keep the entries that follow it",
                 id="dropping the entries that follow an installed snapshot"),
    pytest.param(InstallsOverANewerState, "test_snapshot_late_D",
                 "a server installs a leader's snapshot of its term that is news",
                 "which is not news: it has applied up to index",
                 id="an older snapshot installed over a newer state, when it comes late"),
])
def test_each_classic_mistake_is_caught_by_a_named_check(node, name, summary, explanation):
    failure = first_failure(node, name)
    assert failure.summary.startswith("violated: " + summary)
    assert explanation in failure.explanation


def test_a_consistency_check_that_ignores_the_snapshot_is_caught_on_a_late_append_entries():
    failure = first_failure(IgnoresTheSnapshotInTheConsistencyCheck,
                            "test_snapshot_install_unreliable_D")
    assert "raised IndexError" in failure.summary
    assert "AppendEntries" in failure.explanation


# -- the service and the exploration ---------------------------------------------------------

def test_the_service_asks_for_snapshots_every_so_many_entries_and_refuses_nonsense():
    with pytest.raises(ValueError, match="snapshot_every counts applied entries"):
        with_service(RAFT.RaftNode, 0)
    with pytest.raises(ValueError, match="or a tuple of them"):
        with_service(RAFT.RaftNode, (10, 0))
    assert repr(MachineState((101, 102))) == "MachineState(up to index 2)"


def test_the_exploration_of_part_d_goes_on_from_a_follower_lagging_behind_a_snapshot():
    state = lagging_state(RAFT.RaftNode)
    leader = next(i for i, s in state.items()
                  if s.attributes and s.attributes["state"] == "leader")
    lagging = next(i for i, s in state.items() if s.attributes is None)  # down: comes back
    assert state[leader].attributes["snapshot_index"] >= 2
    assert state[leader].attributes["next_index"][lagging] <= state[leader].attributes[
        "snapshot_index"]
    assert state[lagging].storage["log"] and "snapshot" not in state[lagging].storage
    assert [name for name, _ in state[leader].timers] == ["heartbeat"]


def test_the_exploration_of_part_d_sends_install_snapshot_and_passes_the_reference():
    sent = []

    def count_install_snapshots(sim):
        sent.append(sum(1 for e in sim.trace if e.kind == "deliver"
                        and isinstance(e.data, RAFT.InstallSnapshot)))

    # (an invariant that reads the trace makes the search record it: slower, so more time)
    counting = Invariant("counts the InstallSnapshots delivered", count_install_snapshots)
    result = explore_snapshots(RAFT.RaftNode, also=[counting], time_budget=300)
    assert result.status == "no violation" and result.depth == 5 and result.states < 10_000
    # (on the reference: about 1,900 of the 14,000 states checked have one delivered, some two)
    assert max(sent) >= 2 and sum(1 for n in sent if n > 0) > 1_000


def test_the_exploration_of_part_d_catches_a_log_kept_on_install_in_two_steps():
    failure = first_failure(KeepsItsLogOnInstall, "test_explore_snapshots_D")
    assert failure.summary == ("violated: logs that match at an index match up to it, in every "
                               "schedule explored")
    # the kept entry 5 of term 1 differs from the leader's entry 5 of term 1, so Log Matching
    # breaks at the delivery itself
    assert "the shortest schedule that breaks it (2 steps):" in failure.explanation
    assert "both have an entry of term 1 at index 5, but differ there" in failure.explanation
    assert "InstallSnapshot(term=1" in failure.explanation
