"""Tests of distlab.kv.leaderless: Dynamo-style quorums, sloppy quorums, hinted handoff, read
repair.

What they prove: preference lists are the ring's next distinct nodes; with R + W <= N reads
can be stale and histories not linearizable, while with R + W > N (strict quorums, no fault)
no read is stale in these runs; a sloppy quorum keeps writes available when the key's
replicas are cut off, but breaks the overlap (a stale read with R + W > N), and hinted
handoff then brings the write to its replicas; a write that reached fewer than W replicas
is unknown to its client and can surface later through read repair; under crashes,
partitions, loss and duplication every hint is handed off in the end. Under the "siblings"
rule, concurrent writes are all kept (last-writer-wins drops one), a put with a get's context
supersedes what the get saw, and two blind puts through one coordinator stay siblings.
"""

from __future__ import annotations

import pytest

from distlab.check import check_linearizability
from distlab.clocks.logical import VectorClock
from distlab.kv.leaderless import DynamoNode, StoreVersion, TreeLevel, preference_list
from distlab.kv.runs import (DYNAMO_NODES, ScriptedKVClient, leaderless_cart_run, leaderless_sim,
                             lost_items, outcome_counts, shoppers_run, sloppy_quorum_run,
                             stale_reads)
from distlab.kv.versions import Version, dotted_context, keep_dotted
from distlab.partitioning import ConsistentHashRing
from distlab.sim import Exponential, Nemesis, Network, Simulation
from distlab.workloads.kv import MODEL

SPIKY = {"latency": Exponential(10), "think": 0}


def value_at(sim: Simulation, node: str, key: str) -> str | None:
    """The value ``node`` holds for ``key`` (siblings joined), None if none."""
    return sim.nodes[node].show()["data"].get(key)


def test_preference_list_takes_the_next_distinct_nodes_clockwise():
    ring = ConsistentHashRing(DYNAMO_NODES, vnodes=8)
    for key in (f"k{i}" for i in range(200)):
        nodes = preference_list(ring, key, 3)
        assert nodes[0] == ring.owner(key) and len(set(nodes)) == 3
        assert preference_list(ring, key, 5)[:3] == nodes


def test_r_plus_w_at_most_n_gives_stale_reads():
    stale = non_linearizable = 0
    for seed in range(10):
        sim = leaderless_sim(seed, r=1, w=1, read_repair=False, **SPIKY)
        sim.run(until=5_000)
        stale += stale_reads(sim.history)
        non_linearizable += not check_linearizability(sim.history, MODEL, timeout=30).ok
    assert stale > 0 and non_linearizable > 0


@pytest.mark.parametrize("r, w", [(2, 2), (1, 3), (3, 1)])
def test_r_plus_w_above_n_reads_no_stale_value_without_faults(r, w):
    for seed in range(10):
        sim = leaderless_sim(seed, r=r, w=w, read_repair=False, **SPIKY)
        sim.run(until=5_000)
        assert outcome_counts(sim.history)["ok"] == len(sim.history) == 150
        assert stale_reads(sim.history) == 0, f"seed {seed}"


def test_a_sloppy_quorum_stays_available_but_a_read_misses_the_write():
    sim = sloppy_quorum_run(sloppy=True)
    statuses = [(op.process, op.f, op.status, op.output) for op in sim.history]
    assert statuses == [("writer", "put", "ok", None), ("writer", "put", "ok", None),
                        ("reader", "get", "ok", "old"), ("reader", "get", "ok", "new")]
    assert stale_reads(sim.history) == 1                # R + W > N, and yet
    replicas = preference_list(sim.nodes["n0"].ring, "x", 3)
    assert all(value_at(sim, node, "x") == "new" for node in replicas)  # handed off
    assert all(not sim.nodes[node].hints for node in DYNAMO_NODES)


def test_a_strict_quorum_refuses_the_write_which_then_surfaces_by_read_repair():
    sim = sloppy_quorum_run(sloppy=False)
    write, read_after = sim.history.operations[1], sim.history.operations[3]
    assert write.status == "info"                       # stored on 1 replica of 3
    assert read_after.output == "new"
    replicas = preference_list(sim.nodes["n0"].ring, "x", 3)
    assert all(value_at(sim, node, "x") == "new" for node in replicas)  # repaired
    assert check_linearizability(sim.history, MODEL).ok


def test_read_repair_brings_a_stale_replica_up_to_date():
    def after_read(read_repair: bool) -> str | None:
        """x's value on a replica that was down when x was written, after one read."""
        sim = Simulation(seed=1, network=Network(latency=5.0))
        sim.add_nodes(DynamoNode, DYNAMO_NODES, servers=DYNAMO_NODES, sloppy=False,
                      read_repair=read_repair)
        replicas = preference_list(sim.nodes["n0"].ring, "x", 3)
        behind = replicas[0]
        coordinator = next(node for node in DYNAMO_NODES if node not in replicas)
        sim.add_node(ScriptedKVClient, "client", server=coordinator,
                     script=((0, "put", "x", "old"), (200, "put", "x", "new"),
                             (600, "get", "x", None)))
        sim.at(100, sim.crash, behind)
        sim.at(400, sim.restart, behind)    # back, but it missed "new"
        sim.run(until=1_000)
        assert [op.output for op in sim.history][-1] == "new"
        return value_at(sim, behind, "x")
    assert after_read(read_repair=False) == "old"
    assert after_read(read_repair=True) == "new"


def test_merkle_anti_entropy_repairs_keys_nobody_reads():
    def behind_after(anti_entropy_every: float) -> tuple[int, int]:
        """(replica-keys not at their newest version, tree messages sent) after the run."""
        sim = Simulation(seed=1, network=Network(latency=5.0))
        sim.add_nodes(DynamoNode, DYNAMO_NODES, servers=DYNAMO_NODES, sloppy=False,
                      read_repair=False, anti_entropy_every=anti_entropy_every)
        keys = [f"k{i}" for i in range(40)]
        sim.add_node(ScriptedKVClient, "client", server="n0",
                     script=tuple((10 + 30 * i, "put", key, f"v{i}")
                                  for i, key in enumerate(keys)))
        sim.at(5, sim.crash, "n2")          # misses every write
        sim.at(1_300, sim.restart, "n2")
        sim.run(until=4_000)
        ring = sim.nodes["n0"].ring
        behind = sum(value_at(sim, node, key) != f"v{i}"
                     for i, key in enumerate(keys)
                     for node in preference_list(ring, key, 3))
        trees = sum(isinstance(e.data, TreeLevel) for e in sim.trace.of_kind("send"))
        return behind, trees
    behind, trees = behind_after(anti_entropy_every=0)
    assert behind > 0 and trees == 0
    behind, trees = behind_after(anti_entropy_every=100)
    assert behind == 0 and trees > 0


def test_hints_are_handed_off_after_crashes_partitions_loss_and_duplication():
    hinted = 0
    for seed in range(6):
        sim = leaderless_sim(seed, ops=20)
        Nemesis(interval=300, nodes=list(DYNAMO_NODES), stop=2_000, loss=0.2,
                duplicate=0.2).install(sim)
        sim.run(until=4_000)
        assert outcome_counts(sim.history)["ok"] > 50
        hinted += sum(isinstance(e.data, StoreVersion) and e.data.hint is not None
                      for e in sim.trace.of_kind("send"))
        assert all(not sim.nodes[node].hints for node in DYNAMO_NODES), f"seed {seed}"
    assert hinted > 0, "the faults should have sent some writes to stand-ins"


def test_bad_quorums_are_refused():
    sim = Simulation()
    with pytest.raises(Exception, match="need 1 <= r, w <= n <= 5"):
        sim.add_node(DynamoNode, "n0", servers=DYNAMO_NODES, n=3, r=4)


# -- siblings -----------------------------------------------------------------------------------
def test_last_writer_wins_loses_a_concurrent_update_that_siblings_keep():
    def looks(resolve: str) -> list[str]:
        sim = leaderless_cart_run(resolve)
        return [op.output for op in sim.history if op.process == "alice" and op.f == "get"]
    # Alice's eggs and Bob's flour are added at once; Alice looks, adds tea, looks again
    assert looks("lww") == [None, "flour;", "flour;", "flour;tea;"]
    assert looks("siblings") == [None, "eggs; | flour;", "eggs; | flour;", "eggs;flour;tea;"]


def test_a_put_with_the_context_supersedes_every_sibling_it_saw():
    sim = leaderless_cart_run("siblings")
    ring = sim.nodes["n0"].ring
    for node in preference_list(ring, "cart", 3):
        (version,) = sim.nodes[node].data["cart"]
        assert version.value == "eggs;flour;tea;"
        assert {"n0", "n1"} <= set(version.clock.as_dict())   # it had seen both writes


def test_blind_puts_through_one_coordinator_stay_siblings():
    """Plain version vectors would order them (same coordinator); dots do not."""
    sim = Simulation(seed=1, network=Network(latency=5.0))
    sim.add_nodes(DynamoNode, DYNAMO_NODES, servers=DYNAMO_NODES, resolve="siblings")
    sim.add_node(ScriptedKVClient, "client", server="n0",
                 script=((0, "put", "x", "a"), (50, "put", "x", "b"), (100, "get", "x", None)))
    sim.run(until=300)
    assert [op.output for op in sim.history][-1] == "a | b"


def test_dotted_versions_keep_what_no_context_covers():
    a = Version("a", VectorClock(), (1.0, "n0"), dot=("n0", 1))
    b = Version("b", VectorClock(), (2.0, "n0"), dot=("n0", 2))
    assert keep_dotted((a,), b) == (a, b)                       # concurrent: both
    assert keep_dotted((a, b), a) == (a, b)                     # known already
    c = Version("c", dotted_context((a, b)), (3.0, "n1"), dot=("n1", 1))
    assert keep_dotted((a, b), c) == (c,)                       # it saw both
    assert keep_dotted((c,), a) == (c,)                         # older than c


def test_siblings_survive_faults_and_every_hint_is_handed_off():
    for seed in range(3):
        sim = leaderless_sim(seed, ops=20, resolve="siblings")
        Nemesis(interval=300, nodes=list(DYNAMO_NODES), stop=2_000, loss=0.2,
                duplicate=0.2).install(sim)
        sim.run(until=4_000)
        assert outcome_counts(sim.history)["ok"] > 50
        assert all(not sim.nodes[node].hints for node in DYNAMO_NODES), f"seed {seed}"


def test_an_unknown_resolve_rule_is_refused():
    with pytest.raises(Exception, match="unknown resolve rule 'newest'"):
        Simulation().add_node(DynamoNode, "n0", servers=DYNAMO_NODES, resolve="newest")


def test_concurrent_shoppers_lose_items_under_lww_and_none_with_siblings():
    lost = {rule: sum(len(lost_items(shoppers_run(rule, seed, gap=50))) for seed in range(3))
            for rule in ("lww", "siblings")}
    assert lost["lww"] > 0 and lost["siblings"] == 0
    sim = shoppers_run("siblings", 1, gap=50)
    assert any(" | " in (op.output or "") for op in sim.history if op.f == "get")
