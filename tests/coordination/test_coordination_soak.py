"""The coordination service's soak target: lock workers keep taking turns, and a service whose
compare-and-set does not compare is caught."""

from __future__ import annotations

from distlab.coordination.bugs import BlindCreateNode
from distlab.coordination.invariants import exclusive_grants
from distlab.coordination.service import CoordinationNode
from distlab.coordination.toy import OutsideStore
from distlab.coordination.workers import LockWorker
from distlab.sim import Simulation
from distlab.soak import library
from distlab.soak.runner import soak

SERVERS = ["n1", "n2", "n3"]


def workers_run(node: type[CoordinationNode], seed: int = 1) -> Simulation:
    sim = Simulation(seed=seed)
    sim.add_nodes(node, SERVERS)
    sim.add_node(OutsideStore, "store")
    sim.add_nodes(LockWorker, ["w1", "w2", "w3"], servers=SERVERS)
    sim.run(until=3_000)
    return sim


def test_the_workers_take_turns_and_the_store_sees_growing_tokens():
    sim = workers_run(CoordinationNode)
    grants = {w: sim.nodes[w].grants for w in ["w1", "w2", "w3"]}
    assert all(len(tokens) >= 3 for tokens in grants.values()), grants
    tokens = sorted(t for ts in grants.values() for t in ts)
    assert len(tokens) == len(set(tokens))            # no token granted twice
    assert exclusive_grants.check(sim) is None
    assert sim.nodes["store"].storage["highest"] == tokens[-1]


def test_a_compare_and_set_that_does_not_compare_breaks_the_lock_property():
    problem = exclusive_grants.check(workers_run(BlindCreateNode))
    assert problem is not None and "was granted the lock with token" in problem


def test_the_soak_catches_the_blind_create():
    # (tests/soak/test_soak.py runs the correct service over a few seeds, as every target)
    caught = soak(library.coordination_lock(BlindCreateNode), 2).violations
    assert len(caught) == 2
    assert caught[0].violation.startswith("at the end: each lock grant creates the free "
                                          "lock's key")
