"""Lab 3b: dynamic membership -- the reference passes, the skeleton fails, and each classic
mistake of a handover is caught by the check written for it.

The reference solution is that of ``solutions/lab03b-membership.ipynb``, loaded from the
notebook itself (`notebook_code.solution`); the skeleton is the generated lab. Each broken
variant subclasses the reference node and changes one thing, a mistake students make.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from distlab.grading import check
from distlab.kv.leader_follower import ReplicatedKV
from distlab.labs.lab03b_membership import (CHURN, Admin, Membership, MembershipLab, Transfer,
                                            TransferAck, owner)
from distlab.sim import ConfigurationError, Network, Simulation, Uniform

from notebook_code import solution

MEMBERSHIP = solution("lab03b-membership")
SKELETON = solution("lab03b-membership", Path(__file__).resolve().parents[2] / "labs")
MemberNode = MEMBERSHIP.MemberNode

LINEARIZABLE = "violated: the clients' history is linearizable (model kv)"


class DropsKeysOnLeave(MemberNode):
    """A server that leaves forgets its keys instead of handing them over."""

    def change(self, epoch, previous, members):
        if self.id not in members:
            self.data.clear()
        super().change(epoch, previous, members)


class KeepsServingAfterHandover(MemberNode):
    """Hands its keys over but keeps a copy, and serves any key it holds."""

    def change(self, epoch, previous, members):
        kept = dict(self.data)
        super().change(epoch, previous, members)
        self.data = {**kept, **self.data}

    def route(self, request):
        if request.key in self.data and self.ready():
            self.serve(request)
        else:
            super().route(request)


class ServesBeforeDataArrives(MemberNode):
    """Counts itself ready once its own transfers are acknowledged, without waiting for the
    keys it receives."""

    def ready(self):
        return set(self.outgoing) <= self.acked


class AppliesEveryTransfer(MemberNode):
    """Applies a transfer each time it arrives, a duplicate too."""

    def on_message(self, src, msg):
        match msg:
            case Transfer(epoch, items, sessions) if epoch == self.epoch:
                self.data.update(items)
                for client, msg_id in sessions:
                    self.sessions[client] = max(msg_id, self.sessions.get(client, 0))
                self.received.add(src)
                self.save()
                self.send(src, TransferAck(epoch))
            case _:
                super().on_message(src, msg)


class AppliesPutsAgain(MemberNode):
    """Applies every put it receives, a resent one too (no at-most-once table)."""

    def serve(self, request):
        if isinstance(request, MEMBERSHIP.Put):
            self.data[request.key] = request.value
            self.save()
            self.send(request.client, request.ok())
        else:
            super().serve(request)


class AnswersReadyLate(MemberNode):
    """Moves to a new membership at once but tells the administrator it is ready only after
    1.5 s: every change completes, later than the lab's text allows."""

    def on_message(self, src, msg):
        if isinstance(msg, Membership) and self.now < 1_500:
            if msg.epoch > self.epoch:
                self.change(msg.epoch, msg.previous, msg.members)
            return
        super().on_message(src, msg)


class ForgetsOnCrash(MemberNode):
    """Keeps its state in memory only: a crash loses it."""

    def save(self):
        pass


def test_the_reference_solution_passes_every_check():
    # two seeds of each check, here in a plain process; every seed of every check runs in the
    # solution notebook, under strict nbval (tests/labs/test_lab_notebooks.py)
    report = check(MembershipLab(MemberNode), seeds=2, timing=False)
    assert report.passed, str(report)
    assert [r.check.seeds for r in report.results] == [20] * 5 + [5]


def test_the_untouched_skeleton_fails_every_check_as_not_implemented():
    report = check(MembershipLab(SKELETON.MemberNode), timing=False)
    assert len(report.failures) == 6
    assert {f.kind for f in report.failures} == {"not implemented"}


def test_keys_dropped_on_leave_are_caught():
    report = check(MembershipLab(DropsKeysOnLeave), name="test_leave_A", timing=False)
    assert report.failed == ["test_leave_A"]
    assert report.failures[0].summary == LINEARIZABLE


def test_an_old_owner_serving_after_the_handover_is_caught():
    report = check(MembershipLab(KeepsServingAfterHandover), name="test_join_A", timing=False)
    assert report.failed == ["test_join_A"]
    assert report.failures[0].summary == "violated: at the end: only a key's owner holds it"


def test_a_new_owner_serving_before_its_data_arrives_is_caught():
    report = check(MembershipLab(ServesBeforeDataArrives), name="test_join_A", timing=False)
    assert report.failed == ["test_join_A"]
    assert report.failures[0].summary == LINEARIZABLE


def test_a_change_that_completes_late_is_caught():
    report = check(MembershipLab(AnswersReadyLate), part="A", timing=False)
    assert report.failed == ["test_join_A", "test_leave_A"]
    assert {failure.summary for failure in report.failures} == {
        "violated: every change of membership completes within 1200 ms"}


def test_a_duplicated_transfer_applied_twice_is_caught():
    lab = MembershipLab(AppliesEveryTransfer)
    assert check(lab, part="A", timing=False).passed
    report = check(lab, name="test_lost_and_duplicated_messages_B", timing=False)
    assert report.failed == ["test_lost_and_duplicated_messages_B"]


def test_a_put_applied_again_after_a_lost_reply_is_caught():
    lab = MembershipLab(AppliesPutsAgain)
    assert check(lab, part="A", timing=False).passed
    report = check(lab, name="test_lost_and_duplicated_messages_B", timing=False)
    assert report.failed == ["test_lost_and_duplicated_messages_B"]
    assert report.failures[0].summary == LINEARIZABLE


def test_state_kept_in_memory_only_is_caught_by_crashes():
    lab = MembershipLab(ForgetsOnCrash)
    assert check(lab, part="A", timing=False).passed
    report = check(lab, name="test_crashes_B", timing=False)
    assert report.failed == ["test_crashes_B"]


class IgnoresHandedSessions(MemberNode):
    """Applies the keys of a transfer but not its table of the last put per client."""

    def on_message(self, src, msg):
        if isinstance(msg, Transfer):
            msg = Transfer(msg.epoch, msg.items, ())
        super().on_message(src, msg)


def test_sessions_not_taken_over_in_a_handover_are_caught_by_the_late_copy():
    lab = MembershipLab(IgnoresHandedSessions)
    report = check(lab, name="test_late_copy_of_a_moved_put_B", timing=False)
    assert report.failed == ["test_late_copy_of_a_moved_put_B"]
    assert report.failures[0].summary == ("violated: at the end: a put delivered again after "
                                          "its key moved is not applied again")
    assert "sessions must travel with the keys" in report.failures[0].explanation


class KeepsHandedOverKeys(MemberNode):
    """Sends the keys it no longer owns in its transfers, but keeps a copy in ``data``."""

    def change(self, epoch, previous, members):
        kept = dict(self.data)
        super().change(epoch, previous, members)
        self.data = kept
        self.save()


def test_keys_kept_after_their_handover_are_caught():
    report = check(MembershipLab(KeepsHandedOverKeys), name="test_join_A", timing=False)
    assert report.failed == ["test_join_A"]
    assert report.failures[0].summary == "violated: at the end: only a key's owner holds it"
    assert "removes from data every key it no longer owns" in report.failures[0].explanation


def test_the_librarys_store_is_refused():
    with pytest.raises(ConfigurationError, match="this lab is about writing it yourself"):
        MembershipLab(ReplicatedKV)


def test_keys_do_move_in_the_checks_changes():
    keys = [f"k{i}" for i in range(1, 7)]
    members = [("s1", "s2", "s3"), *(new for _, new in CHURN)]
    moved = [sum(owner(a, k) != owner(b, k) for k in keys) for a, b in zip(members, members[1:])]
    assert all(m > 0 for m in moved), moved


def test_a_handover_moves_the_keys_to_their_new_owner():
    sim = Simulation(seed=3, network=Network(latency=Uniform(1, 10)))
    sim.add_nodes(MemberNode, ["s1", "s2", "s3", "s4"], members=["s1", "s2", "s3"])
    sim.nodes["s1"].data.update({f"k{i}": f"v{i}" for i in range(1, 40)
                                 if owner(["s1", "s2", "s3"], f"k{i}") == "s1"})
    sim.add_node(Admin, "admin", members=["s1", "s2", "s3"],
                 plan=[(10.0, ["s2", "s3", "s4"])])
    sim.run(until=1_000)
    assert sim.nodes["admin"].done
    assert sim.nodes["s1"].data == {}
    for server in ("s2", "s3", "s4"):
        assert all(owner(["s2", "s3", "s4"], k) == server for k in sim.nodes[server].data)
