"""Lab 3c: quorum replication -- the reference passes, the skeleton fails, and each classic
mistake is caught by the check written for it; the sloppy quorum's anomaly shows.

The reference solution is that of ``solutions/lab03c-quorum.ipynb``, loaded from the notebook
itself (`notebook_code.solution`); the skeleton is the generated lab. Each broken variant
subclasses the reference node and changes one thing, a mistake students make.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from distlab.grading import check
from distlab.kv.leaderless import DynamoNode
from distlab.labs.lab03c_quorum import (FALLBACK_AFTER, HandoffAck, QuorumLab, Read, Version,
                                        Write, ring_order, sloppy_quorum_story)
from distlab.sim import ConfigurationError, Node

from notebook_code import failures, solution

QUORUM = solution("lab03c-quorum")
SKELETON = solution("lab03c-quorum", Path(__file__).resolve().parents[2] / "labs")
QuorumNode = QUORUM.QuorumNode


ON_TOO_FEW = ("violated: a put is acknowledged, and a get answered, only once 2 replicas "
              "of its preference list hold its version")


class NoReadRepair(QuorumNode):
    """Answers a get with the newest of the first R replies, and writes nothing back."""

    def on_read_reply(self, src, op, version):
        c = self.requests.get(op)
        if c is None or c.answered or src not in c.replicas:
            return
        c.replies[src] = version
        if len(c.replies) >= self.r:
            known = [v for v in c.replies.values() if v is not None]
            self.answer(c, max(known, key=lambda v: v.stamp).value if known else None)


class CountsAcknowledgements(QuorumNode):
    """Counts acknowledgements, not replicas: one delivered twice counts twice."""

    def on_write_ack(self, src, op):
        c = self.requests.get(op)
        if c is None or c.answered:
            return
        c.count = getattr(c, "count", 0) + 1
        c.acks.add(src)
        if c.count >= self.w:
            self.answer(c, c.version.value)


class WritesToTheFirstServers(QuorumNode):
    """Sends every key to the first N servers by name, not to the key's preference list."""

    def coordinate(self, client, request):
        op = self.storage.get("next op", 0)
        self.storage["next op"] = op + 1
        replicas = sorted(self.servers)[:self.n]
        c = self.requests[op] = QUORUM.Request(client, request, replicas, list(replicas))
        self.set_timer(QUORUM.TIMEOUT, f"timeout {op}")
        if isinstance(request, QUORUM.Put):
            c.version = Version(request.value, QUORUM.NO_CLOCK, (self.now, self.id))
            for replica in replicas:
                self.send(replica, Write(op, request.key, c.version))
        else:
            for replica in replicas:
                self.send(replica, Read(op, request.key))


class AcceptsWeakQuorums(QuorumNode):
    """Takes any R and W, R + W <= N included."""

    def __init__(self, servers, n=3, r=2, w=2, sloppy=False):
        super().__init__(servers, n, max(r, n), max(w, n), sloppy)
        self.r, self.w = r, w


class WaitsForAllReplicas(QuorumNode):
    """Answers a put only once all N replicas acknowledged it."""

    def answer_if_done(self, c):
        needed = self.n if isinstance(c.request, QUORUM.Put) else self.w
        if not c.answered and len(c.acks) >= needed:
            self.answer(c, c.version.value)


class NeverHandsOff(QuorumNode):
    """Keeps its hints forever: the handoff timer only sets itself again."""

    def on_timer(self, name):
        if name == "handoff":
            self.set_timer(QUORUM.HANDOFF_EVERY, "handoff")
        else:
            super().on_timer(name)


class FallsBackOnlyUnanswered(QuorumNode):
    """Sends hints only for writes not answered yet: once W replicas have a write, a replica
    cut off never gets it."""

    def fall_back(self, op):
        c = self.requests.get(op)
        if c is not None and not c.answered:
            super().fall_back(op)


class OneStandInPerReplica(QuorumNode):
    """Falls back once: a stand-in that is unreachable too is never replaced."""

    def fall_back(self, op):
        c = self.requests.get(op)
        if c is not None and not c.hinted:
            super().fall_back(op)
            self.cancel_timer(f"fallback {op}")


class BorrowsDynamo(Node):
    """Hands the work to the library's DynamoNode."""

    def on_start(self):
        self.inner = DynamoNode(["s1"])


def test_the_reference_solution_passes_every_check():
    # two seeds of each check, here in a plain process; every seed of every check runs in the
    # solution notebook, under strict nbval (tests/labs/test_lab_notebooks.py)
    report = check(QuorumLab(QuorumNode), seeds=2, timing=False)
    assert report.passed, str(report)
    assert [r.check.seeds for r in report.results] == [20, 20, 20, 20, 1, 20, 20, 4, 4, 5]


def test_the_untouched_skeleton_fails_every_check_as_not_implemented():
    report = check(QuorumLab(SKELETON.QuorumNode), timing=False)
    assert len(report.failures) == 10
    assert {f.kind for f in report.failures} == {"not implemented"}


def test_a_read_without_read_repair_is_caught_answering_before_w_replicas_hold_it():
    report = check(QuorumLab(NoReadRepair), name="test_partial_write_is_repaired_A",
                   timing=False)
    assert failures(report) == {"test_partial_write_is_repaired_A": ON_TOO_FEW}
    assert "(read repair)" in report.failures[0].explanation


class AnswersBeforeRepairIsDone(QuorumNode):
    """Sends the read repair, but answers the get at once, without waiting for the repaired
    replicas to acknowledge: two reads may then see a write and then not see it."""

    def answer_if_done(self, c):
        if not c.answered and isinstance(c.request, QUORUM.Get) and c.chosen:
            self.answer(c, c.version.value)
        else:
            super().answer_if_done(c)


def test_answering_a_read_before_its_repair_is_acknowledged_is_caught():
    report = check(QuorumLab(AnswersBeforeRepairIsDone),
                   name="test_reads_see_the_latest_write_A", timing=False)
    failure = report.failures[0]
    assert failure.summary == ON_TOO_FEW
    assert "'s get of" in failure.explanation
    assert "count when their WriteAck comes back" in failure.explanation


class CountsReplies(QuorumNode):
    """Counts the replies to a read, not the replicas: one reply delivered twice makes R."""

    def on_read_reply(self, src, op, version):
        c = self.requests.get(op)
        if c is None or c.chosen or src not in c.replicas:
            super().on_read_reply(src, op, version)      # late replies: as the reference
            return
        c.replies[src] = version
        c.heard = getattr(c, "heard", 0) + 1             # the mistake: a counter of replies
        if c.heard < self.r:
            return
        c.chosen = True
        known = [v for v in c.replies.values() if v is not None]
        if not known:
            self.answer(c, None)
            return
        c.version = max(known, key=lambda v: v.stamp)
        for replica in c.replicas:
            held = c.replies.get(replica)
            if held is not None and held.stamp == c.version.stamp:
                c.acks.add(replica)
            else:
                self.send(replica, Write(op, c.request.key, c.version))
        self.answer_if_done(c)


def test_counting_a_duplicated_read_reply_twice_is_caught():
    lab = QuorumLab(CountsReplies)
    report = check(lab, name="test_duplicated_messages_A", timing=False)
    failure = report.failures[0]
    assert failure.summary == "violated: a get is answered only after 2 distinct replicas replied"
    assert "not the replies: a reply may be delivered twice" in failure.explanation


class NeverTimesOut(QuorumNode):
    """Forgets the timeout: a request short of W acknowledgements is never answered Error."""

    def on_timer(self, name):
        if not name.startswith("timeout"):
            super().on_timer(name)


def test_a_coordinator_that_never_answers_error_is_caught_by_the_partial_write():
    report = check(QuorumLab(NeverTimesOut), name="test_partial_write_is_repaired_A",
                   timing=False)
    failure = report.failures[0]
    assert failure.summary == ("violated: a coordinator short of W acknowledgements answers "
                               "Error after TIMEOUT")
    assert "Error(msg_id, definite=False" in failure.explanation


class OverwritesWithOlder(QuorumNode):
    """Keeps whatever version it is sent, an older one too (no last_writer_wins)."""

    def keep(self, key, version, hint):
        if hint is None or hint == self.id:
            self.data[key] = version
        else:
            self.hints[(hint, key)] = version


def test_a_replica_that_goes_back_to_an_older_version_is_named():
    report = check(QuorumLab(OverwritesWithOlder), name="test_reads_see_the_latest_write_A",
                   timing=False)
    explanation = report.failures[0].explanation
    assert "had acknowledged a newer version" in explanation
    assert "last_writer_wins" in explanation


class HintsKeptAsData(QuorumNode):
    """A stand-in keeps a hinted write in ``data``, as if it were a replica of the key."""

    def keep(self, key, version, hint):
        super().keep(key, version, None)


def test_a_hint_kept_in_data_is_named():
    report = check(QuorumLab(HintsKeptAsData), name="test_replicas_converge_after_a_partition_B",
                   timing=False)
    explanation = report.failures[0].explanation
    assert "not a replica of" in explanation
    assert "self.hints[(replica, key)]" in explanation


def test_counting_a_duplicated_acknowledgement_twice_is_caught():
    lab = QuorumLab(CountsAcknowledgements)
    assert check(lab, name="test_reads_see_the_latest_write_A", timing=False).passed
    report = check(lab, name="test_duplicated_messages_A", timing=False)
    failure = report.failures[0]
    assert failure.summary == ON_TOO_FEW
    assert "a set, not a counter" in failure.explanation


def test_writing_to_the_wrong_servers_is_caught_though_reads_agree():
    report = check(QuorumLab(WritesToTheFirstServers), name="test_reads_see_the_latest_write_A",
                   timing=False)
    failure = report.failures[0]
    assert failure.summary == ON_TOO_FEW
    assert "when only" in failure.explanation


def test_accepting_r_plus_w_not_above_n_is_caught():
    report = check(QuorumLab(AcceptsWeakQuorums), name="test_weak_quorums_are_refused_A",
                   timing=False)
    assert report.failures[0].explanation == (
        "QuorumNode(n=3, r=1, w=1): expected a ValueError (a read quorum of R could miss "
        "every replica of the last write quorum of W); it was accepted")


def test_waiting_for_all_n_replicas_fails_with_one_server_down():
    lab = QuorumLab(WaitsForAllReplicas)
    assert check(lab, name="test_reads_see_the_latest_write_A", timing=False).passed
    report = check(lab, name="test_one_server_down_A", timing=False)
    assert failures(report) == {"test_one_server_down_A":
                                "violated: every client operation completes"}


def test_hints_never_handed_off_are_caught_by_convergence():
    report = check(QuorumLab(NeverHandsOff), name="test_replicas_converge_after_a_partition_B",
                   timing=False)
    failure = report.failures[0]
    assert failure.summary.startswith("violated: every key's N replicas hold its newest "
                                      "version, and no hint is left within 2500 ms")
    assert "still holds a hint for" in failure.explanation


def test_hints_only_for_unanswered_writes_leave_a_replica_behind():
    report = check(QuorumLab(FallsBackOnlyUnanswered),
                   name="test_replicas_converge_after_a_partition_B", timing=False)
    assert report.failed == ["test_replicas_converge_after_a_partition_B"]
    assert "a replica of" in report.failures[0].explanation


def test_one_stand_in_per_replica_is_caught_by_the_two_partitions():
    lab = QuorumLab(OneStandInPerReplica)
    report = check(lab, part="B", timing=False)
    assert "test_replicas_converge_after_two_partitions_B" in report.failed


@pytest.mark.parametrize("node", [DynamoNode, BorrowsDynamo])
def test_the_librarys_quorum_store_is_refused(node):
    with pytest.raises(ConfigurationError, match="this lab is about writing it yourself"):
        QuorumLab(node)


def test_the_sloppy_quorum_story_shows_a_stale_read_after_an_acknowledged_write():
    story = sloppy_quorum_story(QuorumNode)
    assert story.replicas == tuple(ring_order(["s1", "s2", "s3", "s4", "s5"], "x")[:3])
    assert not story.verdict.ok
    ops = story.sim.history.operations
    second_put = [op for op in ops if op.f == "put"][1]
    stale = [op for op in ops if op.f == "get" and op.invoke_time > second_put.complete_time
             and op.output != second_put.value]
    assert stale and all(op.invoke_time < 1_500 for op in stale)
    assert [op for op in ops if op.f == "get"][-1].output == second_put.value


class NeverFallsBack(QuorumNode):
    """Sloppy or not, waits for the key's own replicas: no stand-in is ever sent a write."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sloppy = False


def test_a_coordinator_that_never_falls_back_is_caught_by_the_story():
    report = check(QuorumLab(NeverFallsBack), name="test_the_sloppy_quorum_anomaly_B",
                   timing=False)
    failure = report.failures[0]
    assert "was not acknowledged before the heal" in failure.explanation
    assert "stand-ins" in failure.explanation



class CountsStandInAndReplica(QuorumNode):
    """Counts acknowledging servers, a stand-in as one more: a slow replica that acknowledges
    after its stand-in did counts twice."""

    def on_write_ack(self, src, op):
        c = self.requests.get(op)
        if c is None or c.answered:
            return
        if src in c.replicas or src in c.asked:
            c.acks.add(src)
        self.answer_if_done(c)


def test_a_replica_and_its_stand_in_counted_twice_are_caught():
    lab = QuorumLab(CountsStandInAndReplica)
    assert check(lab, name="test_replicas_converge_after_a_partition_B", seeds=2,
                 timing=False).passed
    report = check(lab, name="test_slow_replica_and_unreachable_stand_in_B", timing=False)
    failure = report.failures[0]
    assert failure.summary == ("violated: a coordinator short of W acknowledgements answers "
                               "Error after TIMEOUT")
    assert "itself and through a stand-in's hint, which count once" in failure.explanation


class ForgetsUnplacedWrites(QuorumNode):
    """Stops falling back once every stand-in was asked: a replica whose stand-in was
    unreachable, while another took the stand-in left, never gets the write."""

    def fall_back(self, op):
        c = self.requests.get(op)
        if c is None or not isinstance(c.request, QUORUM.Put):
            return
        silent = [r for r in c.replicas if r not in c.acks]
        stand_ins = [s for s in ring_order(self.servers, c.request.key) if s not in c.asked]
        for replica, stand_in in zip(silent, stand_ins):
            self.send(stand_in, Write(op, c.request.key, c.version, hint=replica))
            c.asked.append(stand_in)
            c.hinted[stand_in] = replica
        if silent and stand_ins:
            self.set_timer(FALLBACK_AFTER, f"fallback {op}")


def test_a_write_left_without_stand_in_or_hint_is_caught_by_convergence():
    report = check(QuorumLab(ForgetsUnplacedWrites),
                   name="test_slow_replica_and_unreachable_stand_in_B", timing=False)
    failure = report.failures[0]
    assert failure.summary.startswith("violated: every key's N replicas hold its newest version")
    assert "holds 'nothing' while the newest version is" in failure.explanation


class DropsHintOnAnyAck(QuorumNode):
    """Drops a hint on any HandoffAck for its key, even one for an older version."""

    def on_message(self, src, msg):
        if isinstance(msg, HandoffAck):
            self.hints.pop((src, msg.key), None)
        else:
            super().on_message(src, msg)


def test_a_hint_dropped_on_the_ack_of_an_older_version_is_caught():
    lab = QuorumLab(DropsHintOnAnyAck)
    assert check(lab, name="test_replicas_converge_after_a_partition_B", seeds=2,
                 timing=False).passed
    report = check(lab, name="test_hint_replaced_during_its_handoff_B", timing=False)
    failure = report.failures[0]
    assert failure.summary == ("violated: a stand-in drops a hint only once its replica holds "
                               "that version")
    assert "replaced by a newer version since its Handoff left" in failure.explanation
