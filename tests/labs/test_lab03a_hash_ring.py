"""Lab 3a: a hash-partitioned store -- the reference passes, the skeleton fails, and each
classic mistake is caught by the check written for it.

The reference solution is that of ``solutions/lab03a-hash-ring.ipynb``, loaded from the
notebook itself (`notebook_code.solution`); the skeleton is the generated lab. Each broken
variant subclasses a reference class and changes one thing, a mistake students make.
"""

from __future__ import annotations

import bisect
from pathlib import Path

import pytest

from distlab.grading import check, replay
from distlab.labs.lab03a_hash_ring import Forward, HashRingLab, awkward_keys, ring_picture, truth
from distlab.partitioning import ConsistentHashRing
from distlab.partitioning.hashing import stable_hash
from distlab.sim import ConfigurationError, Node
from distlab.workloads import kv

from notebook_code import failures, solution

RING = solution("lab03a-hash-ring")
SKELETON = solution("lab03a-hash-ring", Path(__file__).resolve().parents[2] / "labs")
Ring, StoreNode = RING.Ring, RING.StoreNode


class NoWrapAround(Ring):
    """A key past the last virtual node goes to the last one instead of the first."""

    def owner(self, key):
        i = bisect.bisect_left(self.positions, stable_hash(key))
        return self.owners[min(i, len(self.owners) - 1)]


class BisectRight(Ring):
    """A key exactly on a virtual node's position goes to the next virtual node."""

    def owner(self, key):
        i = bisect.bisect_right(self.positions, stable_hash(key))
        return self.owners[i % len(self.owners)]


class SaltedHash(Ring):
    """Hashes with Python's hash(), salted afresh in every process."""

    def add(self, node):
        for i in range(self.vnodes):
            position = hash(f"{node}#{i}") % 2**64
            at = bisect.bisect_left(self.positions, position)
            self.positions.insert(at, position)
            self.owners.insert(at, node)

    def owner(self, key):
        i = bisect.bisect_left(self.positions, hash(key) % 2**64)
        return self.owners[i % len(self.owners)]


class OnePointPerNode(Ring):
    """Puts all of a node's virtual nodes on one point: stable_hash(node), whatever i."""

    def add(self, node):
        for _ in range(self.vnodes):
            position = stable_hash(node)
            at = bisect.bisect_left(self.positions, position)
            self.positions.insert(at, position)
            self.owners.insert(at, node)


class AppendsOnJoin(Ring):
    """Sorts the virtual nodes once, when built; a node added later is appended unsorted."""

    def __init__(self, nodes, vnodes=RING.VNODES):
        points = sorted((stable_hash(f"{n}#{i}"), n) for n in nodes for i in range(vnodes))
        self.vnodes = vnodes
        self.positions = [p for p, _ in points]
        self.owners = [n for _, n in points]

    def add(self, node):
        for i in range(self.vnodes):
            self.positions.append(stable_hash(f"{node}#{i}"))
            self.owners.append(node)


class RemovesOneVirtualNode(Ring):
    """Takes only the first virtual node of a leaving node off the ring."""

    def remove(self, node):
        i = self.owners.index(node)
        del self.positions[i]
        del self.owners[i]


class RemovesTheLastNode(Ring):
    """Lets the last node leave: an empty ring, with no owner for any key."""

    def remove(self, node):
        if node not in self.owners:
            raise ValueError(f"cannot remove {node!r}: it is not on the ring")
        self.positions = [p for p, o in zip(self.positions, self.owners) if o != node]
        self.owners = [o for o in self.owners if o != node]


class StoresWhereAsked(StoreNode):
    """Does every request at the server the client asked: never forwards."""

    def on_message(self, src, msg):
        match msg:
            case kv.Get() | kv.Put():
                self.serve(msg)


class AddsBeforeChecking(Ring):
    """Puts the node's virtual nodes on the ring, then notices it was there already: the
    refused add leaves duplicate points behind (no owner changes, but the ring does)."""

    def add(self, node):
        there = node in self.owners
        for i in range(self.vnodes):
            position = stable_hash(f"{node}#{i}")
            at = bisect.bisect_left(self.positions, position)
            self.positions.insert(at, position)
            self.owners.insert(at, node)
        if there:
            raise ValueError(f"node {node!r} is already on the ring")


class AnswersTheForwarder(StoreNode):
    """The owner of a forwarded request answers the server that forwarded it, not the
    client: the client never hears back unless it happened to ask the owner."""

    def on_message(self, src, msg):
        match msg:
            case Forward(request):
                self.serve(request, reply_to=src)
            case _:
                super().on_message(src, msg)

    def serve(self, request, reply_to=None):
        match request:
            case kv.Get(key=key):
                self.send(reply_to or request.client, request.ok(self.data.get(key)))
            case kv.Put(key=key, value=value):
                self.data[key] = value
                self.send(reply_to or request.client, request.ok())


class RedoesResentPuts(StoreNode):
    """Does every request it is sent, a resent one again: the owner of a put whose answer was
    lost applies it a second time, after another client's put."""

    def serve(self, request):
        match request:
            case kv.Get(key=key):
                self.send(request.client, request.ok(self.data.get(key)))
            case kv.Put(key=key, value=value):
                self.data[key] = value
                self.send(request.client, request.ok())


class LibraryRing(ConsistentHashRing):
    """The library's ring, handed in as the student's."""


class BorrowsTheLibrary(Node):
    """A store whose ring is the library's."""

    def __init__(self, servers):
        self.ring = ConsistentHashRing(servers, 100)
        self.data = {}


def test_the_reference_solution_passes_every_check():
    # two seeds of each check, here in a plain process; every seed of every check runs in the
    # solution notebook, under strict nbval (tests/labs/test_lab_notebooks.py)
    report = check(HashRingLab(Ring, StoreNode), seeds=2, timing=False)
    assert report.passed, str(report)
    assert [r.check.seeds for r in report.results] == [20, 20, 20, 20, 1, 20, 20, 5]


def test_the_untouched_skeleton_fails_every_check_as_not_implemented():
    report = check(HashRingLab(SKELETON.Ring, SKELETON.StoreNode), timing=False)
    assert len(report.failures) == 8
    assert {f.kind for f in report.failures} == {"not implemented"}


def test_no_wrap_around_is_caught_with_the_key_past_the_last_point():
    report = check(HashRingLab(NoWrapAround, StoreNode), name="test_owner_of_every_key_A",
                   timing=False)
    failure = report.failures[0]
    assert failure.summary == ("violated: every key's owner is the first virtual node at or "
                               "after its hash")
    assert "is past the last virtual node" in failure.explanation
    assert "the ring wraps round" in failure.explanation


def test_bisect_right_is_caught_with_the_key_on_a_virtual_node():
    report = check(HashRingLab(BisectRight, StoreNode), name="test_owner_of_every_key_A",
                   timing=False)
    assert "is exactly the position of a virtual node" in report.failures[0].explanation
    assert "bisect_left, not bisect_right" in report.failures[0].explanation


def test_pythons_salted_hash_is_caught_and_named():
    report = check(HashRingLab(SaltedHash, StoreNode), name="test_owner_of_every_key_A",
                   timing=False)
    assert failures(report) == {"test_owner_of_every_key_A": (
        "violated: every key's owner is the first virtual node at or after its hash")}
    assert "Python's hash() of a string changes" in report.failures[0].explanation


def test_all_virtual_nodes_on_one_point_breaks_the_load_bound():
    report = check(HashRingLab(OnePointPerNode, StoreNode), name="test_balanced_load_A",
                   timing=False)
    failure = report.failures[0]
    assert failure.summary == ("violated: the busiest node holds at most 1.5 times the mean "
                               "number of keys")
    assert "times the mean 625" in failure.explanation
    assert "at distinct positions" in failure.explanation


def test_appending_a_joining_node_unsorted_is_caught_by_the_join_check():
    lab = HashRingLab(AppendsOnJoin, StoreNode)
    assert check(lab, name="test_owner_of_every_key_A", timing=False).passed
    report = check(lab, name="test_join_moves_keys_to_the_new_node_only_A", timing=False)
    assert report.failed == ["test_join_moves_keys_to_the_new_node_only_A"]
    assert report.failures[0].explanation.startswith("after add(")


def test_removing_one_virtual_node_only_is_caught_by_the_leave_check():
    lab = HashRingLab(RemovesOneVirtualNode, StoreNode)
    report = check(lab, name="test_leave_moves_only_the_leaving_nodes_keys_A", timing=False)
    explanation = report.failures[0].explanation
    assert "after remove(" in explanation
    assert "is not one of the nodes" in explanation


def test_removing_the_last_node_is_caught_by_the_refusals_check():
    report = check(HashRingLab(RemovesTheLastNode, StoreNode),
                   name="test_bad_changes_are_refused_A", timing=False)
    assert report.failures[0].explanation == (
        "remove 'solo', the last node: expected a ValueError that says what is wrong; it "
        "raised nothing")


def test_a_store_that_never_forwards_is_caught_keeping_a_key_it_does_not_own():
    report = check(HashRingLab(Ring, StoresWhereAsked), name="test_requests_reach_the_owner_B",
                   timing=False)
    failure = report.failures[0]
    assert failure.summary == ("violated: always: every key is stored at its owner on the "
                               "ring, and nowhere else")
    assert "a server that does not own a key forwards the request" in failure.explanation


def test_a_refused_add_that_changed_the_ring_is_caught():
    report = check(HashRingLab(AddsBeforeChecking, StoreNode),
                   name="test_bad_changes_are_refused_A", timing=False)
    assert report.failures[0].explanation == (
        "add 'b' to a ring that has it: it raised, but changed positions and owners (12 "
        "virtual nodes before, 16 after): check everything before changing the ring")


def test_an_owner_answering_the_forwarding_server_is_named():
    report = check(HashRingLab(Ring, AnswersTheForwarder),
                   name="test_requests_reach_the_owner_B", timing=False)
    failure = report.failures[0]
    assert failure.summary == "violated: the owner of a key answers the client directly"
    assert "a server: the owner of a key answers the client itself" in failure.explanation


@pytest.mark.parametrize("ring, store", [(LibraryRing, StoreNode), (Ring, BorrowsTheLibrary)])
def test_the_librarys_ring_is_refused(ring, store):
    with pytest.raises(ConfigurationError, match="this lab is about writing it yourself"):
        HashRingLab(ring, store)


def test_awkward_keys_sit_on_a_point_and_past_the_last_one():
    import random

    ring = truth(["a", "b", "c"], 4)
    keys = awkward_keys(ring, random.Random(1))
    hashes = [stable_hash(key) for key in keys]
    assert sum(h in ring.positions for h in hashes) == 5
    assert ring.positions[-1] in hashes
    assert sum(h > ring.positions[-1] for h in hashes) == 4


def test_the_ring_picture_draws_a_students_ring_with_its_keys():
    fig = ring_picture(Ring(["a", "b"], 3), ["user:1", "user:2"], title="two keys")
    assert fig.axes[0].get_title() == "two keys"
    assert fig._repr_png_().startswith(b"\x89PNG")


def test_a_resent_put_done_again_is_caught_and_explained():
    lab = HashRingLab(Ring, RedoesResentPuts)
    assert check(lab, name="test_requests_reach_the_owner_B", timing=False).passed
    report = check(lab, name="test_resent_put_takes_effect_once_B", timing=False)
    failure = report.failures[0]
    assert failure.summary == ("violated: each put takes effect once: an overwritten value "
                               "never comes back")
    assert "took effect twice" in failure.explanation
    assert "same client, same msg_id" in failure.explanation


def test_the_store_scenario_never_names_a_server_like_a_client():
    # seeds 119, 820 and 825 drew a server called c2 or c3 (the soak's 1,000 seeds found them)
    lab = HashRingLab(Ring, StoreNode)
    for seed in (119, 820, 825):
        sim = replay(lab.test_requests_reach_the_owner_B, seed, run=False)
        sim.run(until=1)   # the setup: five servers and four clients, c1 to c4
        servers = [node_id for node_id, node in sim.nodes.items() if isinstance(node, StoreNode)]
        assert len(servers) == 5 and not {"c1", "c2", "c3", "c4"} & set(servers)
        assert len(sim.nodes) == 9
