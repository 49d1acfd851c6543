"""Lab 5a: a key-value service on Raft -- the reference solution passes, the untouched lab
fails, and each classic mistake is caught by the check written for it.

The reference solution is that of ``solutions/lab05a-kv-raft.ipynb``, loaded from the
notebook itself (`notebook_code.solution`). Each broken variant subclasses it and changes one
thing, a mistake students make.
"""

from __future__ import annotations

import pytest

from distlab.consensus.raft.messages import InstallSnapshot
from distlab.consensus.raft.node import RaftNode as LibraryRaftNode
from distlab.grading import check, replay
from distlab.kv.machine import KVMachine
from distlab.labs.lab05a_kv_raft import (MAX_LOG, MIN_RATE, Append, ClerkBase, Get, KVRaftLab,
                                         NotLeader, Put, kv_run, leader)
from distlab.sim import ConfigurationError

from notebook_code import failures, solution

KV = solution("lab05a-kv-raft")
LAB4 = solution("lab04-raft")
LINEARIZABLE = "violated: the clients' history is linearizable (model kv)"
COMPLETES = "violated: every client operation completes"


def only(report, name: str) -> str:
    """The summary of check ``name``'s failure in ``report`` (which ran that check alone)."""
    assert [f.check for f in report.failures] == [name], str(report)
    return report.failures[0].summary


# -- the mistakes ------------------------------------------------------------------------------

class StartsEveryRequest(KV.KVServer):
    """The reference without its first step: a retried request is put in the log again
    instead of being answered from the table (the mistakes below build on it)."""

    def on_request(self, src, request):
        index = self.start(request)
        if index is None:
            self.send(src, NotLeader(request.msg_id, self.leader_hint()))
            return
        self.waiting[index] = request


class NoDuplicateTable(StartsEveryRequest):
    """Applies every request it finds in the log: a retried append is applied twice."""

    def execute(self, request):
        match request:
            case Get(key=key):
                return request.ok(self.data.get(key))
            case Put(key=key, value=value):
                self.data[key] = value
            case Append(key=key, value=value):
                self.data[key] = self.data.get(key, "") + value
        return request.ok()


class TableNotInSnapshot(KV.KVServer):
    """Snapshots the data but not the duplicate table: a restore forgets what was applied."""

    def snapshot(self):
        return (tuple(sorted(self.data.items())), ())


class ReadsLocally(KV.KVServer):
    """Answers a Get from its own copy, on any server, without the log."""

    def on_request(self, src, request):
        if isinstance(request, Get):
            self.send(src, request.ok(self.data.get(request.key)))
            return
        super().on_request(src, request)


class LeaderReadsLocally(KV.KVServer):
    """The leader answers a Get from its own copy: it may have been replaced without knowing."""

    def on_request(self, src, request):
        if isinstance(request, Get) and self.leader_hint() == self.id:
            self.send(src, request.ok(self.data.get(request.key)))
            return
        super().on_request(src, request)


class RepliesBeforeCommit(KV.KVServer):
    """Acknowledges a Put or Append as soon as it is in the leader's log, before it commits."""

    def on_request(self, src, request):
        index = self.start(request)
        if index is None:
            self.send(src, NotLeader(request.msg_id, self.leader_hint()))
        elif isinstance(request, Get):
            self.waiting[index] = request
        else:
            self.send(src, request.ok())


class ClerkWithoutTimeout(KV.Clerk):
    """Moves on only when told NotLeader: a request lost with its leader is never retried."""

    def on_timer(self, name):
        if name == "think":
            self.next_operation()

    def on_message(self, src, msg):
        if self.waiting is None or getattr(msg, "in_reply_to", None) != self.msg_id:
            return
        match msg:
            case NotLeader(leader=named) if named in self.servers and named != src:
                self.server = named
            case NotLeader():
                self.next_server()
            case _:
                self.finish(msg)
                return
        self.send_request(self.waiting)


class DedupByClientOnly(KV.KVServer):
    """Treats every request of a client it has seen as a duplicate of the first one."""

    def execute(self, request):
        done = self.sessions.get(request.client)
        if done is not None:
            return done[1]
        return super().execute(request)


class TableWithoutReplies(StartsEveryRequest):
    """Recognises a retried request but keeps no reply for it: the retry is never answered."""

    def execute(self, request):
        done = self.sessions.get(request.client)
        if done is not None and request.msg_id <= done[0]:
            return None
        return super().execute(request)


class SnapshotWithoutTrim(KV.KVServer):
    """Saves its state when the log is long, in storage of its own, but never calls compact:
    the log grows without bound."""

    def apply_command(self, index, command):
        bound, self.max_log = self.max_log, None
        super().apply_command(index, command)
        self.max_log = bound
        if bound is not None and self.log_size() > bound:
            self.storage["service"] = self.snapshot()


class SnapshotWithHistory(KV.KVServer):
    """Puts every request it applied into the snapshot: the log is bounded, the snapshot
    grows with the history instead."""

    def execute(self, request):
        self.applied_requests = getattr(self, "applied_requests", ()) + (request,)
        return super().execute(request)

    def snapshot(self):
        return (*super().snapshot(), self.applied_requests)

    def restore(self, state):
        super().restore(state[:2])
        self.applied_requests = state[2]


class AnswersOnlyRetries(KV.KVServer):
    """Applies but does not answer: the client learns the outcome when it asks again."""

    def apply_command(self, index, command):
        self.waiting.pop(index, None)
        super().apply_command(index, command)


# -- the solution, the skeleton ----------------------------------------------------------------

def test_the_solution_passes_every_simulated_check():
    # the solution notebook runs each check's 5 graded seeds under strict nbval
    # (tests/labs/test_lab_notebooks.py); here 2 of them, for a quick, readable failure
    lab = KVRaftLab(KV.KVServer, KV.Clerk)
    assert {c.seeds for c in lab.checks() if c.part in "AB"} == {5}
    report = check(lab, part="A", seeds=2, timing=False)
    assert report.passed, str(report)
    report = check(lab, part="B", seeds=2, timing=False)
    assert report.passed, str(report)
    assert len(report.results) == 5


@pytest.mark.timeout(150)
def test_the_solution_survives_kill_9_of_its_leader_as_real_processes():
    report = check(KVRaftLab(KV.KVServer, KV.Clerk), part="C", timing=False)
    assert report.passed, str(report)


class Untouched(KV.KVServer):
    """The skeleton of the lab: every method the student writes raises."""

    def __init__(self, max_log=None, **raft_options):
        super().__init__(max_log, **raft_options)
        raise NotImplementedError()


class UntouchedClerk(KV.Clerk):
    def send_request(self, request):
        raise NotImplementedError()


def test_the_untouched_lab_fails_every_simulated_check_as_not_implemented():
    report = check(KVRaftLab(Untouched, UntouchedClerk), part="A", seeds=1, timing=False)
    assert not report.passed and len(report.failures) == 13
    assert all(f.summary.startswith("not implemented yet") for f in report.failures), (
        str(report))


def test_the_untouched_lab_fails_the_real_check_at_once_as_not_implemented():
    report = check(KVRaftLab(Untouched, UntouchedClerk), part="C", timing=False)
    assert report.failures[0].summary == "not implemented yet: Untouched.__init__"


@pytest.mark.timeout(200)
def test_the_lab_4_solution_takes_every_part_under_the_service():
    # lab 4's reference Raft (its four parts) under lab 5a's reference service: parts A and B
    # simulated, one seed of each check, and part C as real processes
    lab = KVRaftLab(KV.KVServer, KV.Clerk, raft=LAB4.RaftNode)
    for part in "AB":
        report = check(lab, part=part, seeds=1, timing=False)
        assert report.passed and len(report.results) == {"A": 13, "B": 5}[part], str(report)
    report = check(lab, part="C", timing=False)
    assert report.passed, str(report)


def test_a_lab_4_raft_installs_the_leaders_snapshot_under_the_service():
    sim = replay(KVRaftLab(KV.KVServer, KV.Clerk, raft=LAB4.RaftNode).test_install_snapshot_B,
                 seed=1)
    assert any(event.kind == "deliver" and isinstance(event.data, InstallSnapshot)
               for event in sim.trace)


class PartsAToC(LAB4.RaftNode):
    """A Raft of lab 4 without part D: its snapshot() is the skeleton's."""

    def snapshot(self, index, data):
        raise NotImplementedError()


def test_a_lab_4_raft_without_part_d_says_it_has_no_snapshots():
    lab = KVRaftLab(KV.KVServer, KV.Clerk, raft=PartsAToC)
    assert check(lab, name="test_many_clients_A", seeds=1, timing=False).passed
    for name in ("test_snapshot_size_B", "test_kill_the_leader_C"):
        summary = only(check(lab, name=name, seeds=1, timing=False), name)
        assert "NoSnapshots: PartsAToC.snapshot(index, data) is not written (lab 4's part D)" in (
            summary), summary
        assert "take parts B and C with the library's Raft" in summary


def test_a_lab_4_raft_is_checked_as_any_raft_under_the_service():
    # the duplicate table left out of the snapshot is caught on lab 4's Raft as on the library's
    lab = KVRaftLab(TableNotInSnapshot, KV.Clerk, raft=LAB4.RaftNode)
    report = check(lab, name="test_restart_from_snapshot_B", timing=False)
    assert only(report, "test_restart_from_snapshot_B") == LINEARIZABLE


def test_the_service_may_not_borrow_the_library_store_or_raft():
    class Borrowed(KV.KVServer):
        def execute(self, request):
            return KVMachine().apply(request)

    with pytest.raises(ConfigurationError, match="key-value service"):
        KVRaftLab(Borrowed, KV.Clerk)
    with pytest.raises(ConfigurationError, match="key-value service"):
        KVRaftLab(type("OnRaft", (LibraryRaftNode,), {}), KV.Clerk)


def test_bad_classes_are_refused_with_a_message():
    with pytest.raises(TypeError, match="must subclass ClerkBase"):
        KVRaftLab(KV.KVServer, KV.KVServer)
    with pytest.raises(TypeError, match="takes your classes"):
        KVRaftLab("KVServer", KV.Clerk)
    with pytest.raises(TypeError, match="your Raft class of lab 4"):
        KVRaftLab(KV.KVServer, KV.Clerk, raft=KV.Clerk)


def test_the_demo_run_finds_a_new_leader_after_a_crash():
    sim = kv_run(KVRaftLab(KV.KVServer, KV.Clerk).server, KV.Clerk, seed=1, clients=2, ops=10,
                 think=20)
    sim.run(until=600)
    first = leader(sim)
    sim.crash(first)
    sim.run(until=3_000)
    assert leader(sim) not in (None, first)
    assert all(op.status == "ok" for op in sim.history)


# -- each mistake, caught by its check ---------------------------------------------------------

def test_no_duplicate_table_applies_a_repeated_append_twice():
    report = check(KVRaftLab(NoDuplicateTable, KV.Clerk), name="test_duplicate_requests_A",
                   timing=False)
    assert only(report, "test_duplicate_requests_A") == LINEARIZABLE


def test_a_table_left_out_of_the_snapshot_is_caught_after_restarts():
    report = check(KVRaftLab(TableNotInSnapshot, KV.Clerk), name="test_restart_from_snapshot_B",
                   timing=False)
    assert only(report, "test_restart_from_snapshot_B") == LINEARIZABLE
    assert "cannot be placed" in report.failures[0].explanation


@pytest.mark.parametrize("server", [ReadsLocally, LeaderReadsLocally, RepliesBeforeCommit],
                         ids=lambda cls: cls.__name__)
def test_answers_without_the_log_are_caught_when_the_leader_is_cut_off(server):
    report = check(KVRaftLab(server, KV.Clerk), name="test_partitioned_leader_A", timing=False)
    assert only(report, "test_partitioned_leader_A") == LINEARIZABLE
    assert "the operations around it" in report.failures[0].explanation


def test_a_clerk_without_a_timeout_waits_forever_for_a_crashed_leader():
    report = check(KVRaftLab(KV.KVServer, ClerkWithoutTimeout), name="test_leader_crashes_A",
                   timing=False)
    assert only(report, "test_leader_crashes_A") == COMPLETES
    assert "pending" in report.failures[0].explanation


def test_a_clerk_without_a_timeout_stays_with_a_cut_off_leader():
    report = check(KVRaftLab(KV.KVServer, ClerkWithoutTimeout), name="test_majority_goes_on_A",
                   timing=False)
    assert only(report, "test_majority_goes_on_A").startswith(
        "violated: c2, c3 complete at least 20 operations from t=1000 to 3000 ms")
    assert "must elect a leader and serve their clients" in report.failures[0].explanation


def test_dedup_by_client_alone_answers_new_requests_with_old_replies():
    report = check(KVRaftLab(DedupByClientOnly, KV.Clerk), name="test_one_client_A",
                   timing=False)
    assert only(report, "test_one_client_A") == COMPLETES


def test_a_table_without_replies_never_answers_a_retried_request():
    report = check(KVRaftLab(TableWithoutReplies, KV.Clerk), name="test_unreliable_A",
                   timing=False)
    assert only(report, "test_unreliable_A") == COMPLETES


def test_a_snapshot_that_does_not_trim_the_log_breaks_the_bound():
    report = check(KVRaftLab(SnapshotWithoutTrim, KV.Clerk), name="test_snapshot_size_B",
                   timing=False)
    summary = only(report, "test_snapshot_size_B")
    assert summary.startswith(f"violated: the Raft log of every server stays under "
                              f"{MAX_LOG + 2 * 3 + 4} entries")
    assert "self.compact(index, state)" in report.failures[0].explanation


def test_a_snapshot_that_keeps_the_history_breaks_the_bound():
    report = check(KVRaftLab(SnapshotWithHistory, KV.Clerk), name="test_snapshot_size_B",
                   timing=False)
    only(report, "test_snapshot_size_B")
    assert "not the requests applied" in report.failures[0].explanation


def test_answering_only_retries_is_too_slow():
    report = check(KVRaftLab(AnswersOnlyRetries, KV.Clerk), name="test_speed_A", timing=False)
    assert only(report, "test_speed_A") == (f"violated: a busy client completes at least "
                                            f"{MIN_RATE:g} operations per second")
    assert "answer as soon as it applies the entry" in report.failures[0].explanation


def test_the_clerk_base_says_what_to_write():
    class Empty(ClerkBase):
        pass

    with pytest.raises(NotImplementedError, match="try the next server"):
        Empty.on_timer(object.__new__(Empty), "retry")


def test_failures_name_the_failing_checks():
    report = check(KVRaftLab(ReadsLocally, KV.Clerk), name="test_partitioned_leader_A",
                   seeds=2, timing=False)
    assert failures(report) == {"test_partitioned_leader_A": LINEARIZABLE}


class SilentWhenNotLeading(KV.KVServer):
    """A server that does not lead drops a request instead of answering NotLeader."""

    def on_request(self, src, request):
        done = self.sessions.get(request.client)
        if done is not None and done[0] == request.msg_id:
            self.send(src, done[1])
            return
        index = self.start(request)
        if index is not None:
            self.waiting[index] = request


class IgnoresRedirects(KV.Clerk):
    """Waits for its timer after a NotLeader, even one that names the leader."""

    def on_message(self, src, msg):
        if self.waiting is None or getattr(msg, "in_reply_to", None) != self.msg_id:
            return
        if not isinstance(msg, NotLeader):
            self.finish(msg)


@pytest.mark.parametrize("server, clerk", [(SilentWhenNotLeading, KV.Clerk),
                                           (KV.KVServer, IgnoresRedirects)],
                         ids=["SilentWhenNotLeading", "IgnoresRedirects"])
def test_requests_left_to_the_timer_are_caught_under_churn(server, clerk):
    report = check(KVRaftLab(server, clerk), name="test_snapshot_churn_B", timing=False)
    assert only(report, "test_snapshot_churn_B") == COMPLETES
    assert "does a server that does not lead answer NotLeader" in (
        report.failures[0].explanation)


class StoreNamedOtherwise(KV.KVServer):
    """Keeps the store as ``self.store``: the check of the snapshot's size cannot see it."""

    def __init__(self, max_log=None, **raft_options):
        super().__init__(max_log, **raft_options)
        self.store = self.__dict__.pop("data")

    def execute(self, request):
        self.data = self.store
        try:
            return super().execute(request)
        finally:
            del self.data

    def snapshot(self):
        self.data = self.store
        try:
            return super().snapshot()
        finally:
            del self.data

    def restore(self, state):
        super().restore(state)
        self.store = self.__dict__.pop("data")


def test_a_store_named_otherwise_is_named_when_the_snapshot_seems_too_large():
    report = check(KVRaftLab(StoreNamedOtherwise, KV.Clerk), name="test_snapshot_size_B",
                   seeds=1, timing=False)
    assert "keep the store under that name" in report.failures[0].explanation, str(report)
