"""Tests of distlab.kv.register: the consistent (CP) and available (AP) replicated register.

What they prove, in CAP's terms: with no fault both registers give linearizable histories;
under a partition the CP register stays linearizable (also under random crashes and
partitions) but refuses the minority side's requests, while the AP register answers every
request, lets its replicas diverge, is not linearizable (seed `AP_VIOLATION_SEED`), and
converges after the partition heals. Plus the mechanisms: the read's write-back, the
unknown outcome of a half-stored write, last-writer-wins (and what a skewed clock does to it),
and the latency price of majorities (PACELC).
"""

from __future__ import annotations

from typing import Any

import pytest

from distlab.check import check_linearizability
from distlab.kv.register import INITIAL, LwwReplica, QuorumReplica, RegisterClient, Update
from distlab.kv.runs import (cap_run, cap_sim, converged, operation_latencies, outcome_counts,
                             replica_states)
from distlab.sim import Client, Constant, Nemesis, Network, Simulation, Uniform
from distlab.workloads.client import Error
from distlab.workloads.register import Read, ReadOk, Write, WriteOk

#: A seed whose AP run under the default partition is not linearizable (the notebook uses it).
AP_VIOLATION_SEED = 1
PARTITION = (1_000.0, 2_000.0)
SEEDS = range(20)


def linearizable(sim: Simulation) -> bool:
    return check_linearizability(sim.history, "register", timeout=30).ok


class ScriptedClient(Client):
    """Issues the operations of ``script`` ((time, f, value), ...) to ``replica``."""

    def __init__(self, replica: str, script: tuple = ()):
        self.replica = replica
        self.script = script
        self.ops: dict[int, Any] = {}

    def on_start(self) -> None:
        for req, (time, _, _) in enumerate(self.script):
            self.set_timer(time, f"op {req}")

    def on_timer(self, name: str) -> None:
        req = int(name.split()[1])
        _, f, value = self.script[req]
        self.ops[req] = self.invoke(f, value=value)
        self.send(self.replica,
                  Write(self.id, req, value) if f == "write" else Read(self.id, req))

    def on_message(self, src: str, msg: Any) -> None:
        op = self.ops[msg.in_reply_to]
        match msg:
            case WriteOk():
                self.ok(op)
            case ReadOk(value=value):
                self.ok(op, value)
            case Error(definite=definite):
                self.fail(op) if definite else self.info(op)


# -- no fault: both choices are linearizable ------------------------------------------------------
@pytest.mark.parametrize("mode", ["cp", "ap"])
def test_without_partition_both_modes_are_linearizable(mode):
    for seed in SEEDS:
        sim = cap_run(mode, seed)
        assert outcome_counts(sim.history)["ok"] == len(sim.history) > 50
        assert linearizable(sim), f"mode {mode}, seed {seed}"


def test_same_seed_same_history():
    first = cap_run("ap", 3, PARTITION).history.to_jepsen()
    assert first == cap_run("ap", 3, PARTITION).history.to_jepsen()
    assert first != cap_run("ap", 4, PARTITION).history.to_jepsen()


# -- CP: consistent, but the minority side is unavailable -----------------------------------------
def test_cp_stays_linearizable_under_partition():
    for seed in SEEDS:
        assert linearizable(cap_run("cp", seed, PARTITION)), f"seed {seed}"


def test_cp_refuses_the_minority_side_and_serves_the_majority():
    start, end = PARTITION
    for seed in SEEDS:
        sim = cap_run("cp", seed, PARTITION)
        during = [op for op in sim.history if start <= op.invoke_time
                  and op.complete_time is not None and op.complete_time < end]
        minority = [op for op in during if op.process == "c1"]
        majority = [op for op in during if op.process != "c1"]
        assert minority and all(op.status in ("fail", "info") for op in minority)
        assert majority and all(op.status == "ok" for op in majority)
        assert outcome_counts(sim.history, "c1")["fail"] > 0


def test_cp_stays_linearizable_under_random_crashes_and_partitions():
    for seed in range(40):
        sim = cap_sim("cp", seed, stop=2_000)
        Nemesis(interval=400, nodes=["a", "b", "c"], stop=2_000).install(sim)
        sim.run(until=2_500)
        assert linearizable(sim), f"seed {seed}"


def test_a_write_stored_on_a_minority_is_unknown_and_may_appear_later():
    # c1's write reaches a's store phase at 30 ms; the partition at 35 ms drops the Stores,
    # so a gives up at 110 ms with maybe_applied. After the heal, a read through a finds it.
    sim = Simulation(seed=1, network=Network(latency=Constant(10)))
    sim.add_nodes(QuorumReplica, ["a", "b", "c"])
    sim.add_node(ScriptedClient, "c1", replica="a", script=((0, "write", 7),))
    sim.add_node(ScriptedClient, "c2", replica="b", script=((300, "read", None),))
    sim.add_node(ScriptedClient, "c3", replica="a", script=((400, "read", None),))
    sim.at(35, sim.partition, {"a", "c1"}, {"b", "c", "c2", "c3"})
    sim.at(200, sim.heal)
    sim.run(until=600)
    write, first_read, second_read = sorted(sim.history, key=lambda op: op.invoke_time)
    assert write.status == "info"
    assert first_read.status == second_read.status == "ok"
    assert second_read.output == 7
    assert linearizable(sim)
    assert converged(sim)           # that read wrote the value back to b and c
    assert replica_states(sim)["a"][0] == 7


def test_a_write_refused_before_storing_anything_fails():
    sim = Simulation(seed=1, network=Network(latency=Constant(10)))
    sim.add_nodes(QuorumReplica, ["a", "b", "c"])
    sim.add_node(ScriptedClient, "c1", replica="a", script=((0, "write", 7),))
    sim.partition({"a", "c1"}, {"b", "c"})
    sim.run(until=300)
    (write,) = sim.history
    assert write.status == "fail"
    assert replica_states(sim)["a"] == (None, INITIAL)


class NoWriteBack(QuorumReplica):
    """A broken CP replica: a read answers the newest value it saw without writing it back."""

    def query_answered(self, op, c):
        if len(c.replies) < self.majority:
            return
        version, value = max(c.replies.values(), key=lambda reply: reply[0])
        if c.f == "write":
            self.store(op, c, (version[0] + 1, self.id), c.value)
        else:
            c.result = value
            self.finish(op, c)


def test_reads_need_their_write_back():
    def run(replica_class):
        sim = cap_sim("cp", 137, stop=2_000, latency=Uniform(1, 30), think=Uniform(0, 20),
                      clients={"c1": "a", "c2": "b", "c3": "c", "c4": "a", "c5": "b"},
                      replica_class=replica_class)
        Nemesis(interval=200, nodes=["a", "b", "c"], stop=2_000, crashes=False).install(sim)
        sim.run(until=2_500)
        return sim

    assert not linearizable(run(NoWriteBack))
    assert linearizable(run(None))


# -- AP: available, divergent, not linearizable, convergent ---------------------------------------
def test_ap_answers_every_request_even_under_partition():
    for seed in SEEDS:
        sim = cap_run("ap", seed, PARTITION)
        counts = outcome_counts(sim.history)
        assert counts["ok"] == len(sim.history) and counts["fail"] == counts["info"] == 0


def test_ap_under_partition_is_not_linearizable():
    result = check_linearizability(cap_run("ap", AP_VIOLATION_SEED, PARTITION).history,
                                   "register")
    assert result.verdict == "not linearizable"
    (culprit,) = result.unplaceable
    assert culprit.f == "read"
    assert PARTITION[0] <= culprit.invoke_time <= PARTITION[1]


def test_ap_is_not_linearizable_for_most_seeds_under_partition():
    violations = [seed for seed in SEEDS if not linearizable(cap_run("ap", seed, PARTITION))]
    assert AP_VIOLATION_SEED in violations and len(violations) >= len(SEEDS) // 2


def test_ap_replicas_diverge_during_the_partition_and_converge_after():
    for seed in SEEDS:
        sim = cap_sim("ap", seed, stop=2_500)
        sim.at(PARTITION[0], sim.partition, {"a", "c1"}, {"b", "c", "c2", "c3"})
        sim.at(PARTITION[1], sim.heal)
        sim.run(until=PARTITION[1] - 1)
        states = replica_states(sim)
        assert states["a"] != states["b"], f"seed {seed}: no divergence"
        sim.run(until=3_000)
        assert converged(sim), f"seed {seed}: {replica_states(sim)}"
        # the value kept is the write with the highest (timestamp, replica)
        latest = max(replica_states(sim).values(), key=lambda state: state[1])
        assert all(state == latest for state in replica_states(sim).values())


def test_last_writer_wins_whatever_order_updates_arrive_in():
    finals = set()
    for first, second in [((10.0, "a"), (20.0, "b")), ((20.0, "b"), (10.0, "a"))]:
        sim = Simulation(seed=1, network=Network(latency=Constant(1)))
        sim.add_nodes(LwwReplica, ["a", "b", "c"])
        replica = sim.nodes["c"]
        replica.adopt(*(first, f"value {first[1]}"))
        replica.on_message("a", Update(second, f"value {second[1]}"))
        finals.add((replica.value, replica.version))
    assert finals == {("value b", (20.0, "b"))}


def test_a_skewed_clock_makes_last_writer_wins_lose_a_later_write():
    sim = Simulation(seed=1, network=Network(latency=Constant(5)))
    sim.add_nodes(LwwReplica, ["a", "b", "c"])
    sim.set_clock("a", skew=-1_000)      # a's clock is a second behind
    sim.add_node(ScriptedClient, "c1", replica="b", script=((0, "write", 1),))
    sim.add_node(ScriptedClient, "c2", replica="a", script=((100, "write", 2),))
    sim.run(until=500)
    assert [op.status for op in sim.history] == ["ok", "ok"]
    assert converged(sim)
    assert {value for value, _ in replica_states(sim).values()} == {1}   # 2 was lost


# -- PACELC: without a partition, consistency costs latency ---------------------------------------
def test_majorities_cost_round_trips_and_local_answers_do_not():
    options = dict(latency=Constant(20), client_latency=1, duration=2_000)
    ap = cap_run("ap", 1, **options).history
    cp = cap_run("cp", 1, **options).history
    assert set(operation_latencies(ap)) == {2.0}                  # client round trip only
    assert min(operation_latencies(cp, "read")) == pytest.approx(2 + 40)   # one round trip
    assert min(operation_latencies(cp, "write")) == pytest.approx(2 + 80)  # two round trips


def test_ap_with_far_replicas_is_not_linearizable_even_without_partition():
    sim = cap_run("ap", 1, latency=Uniform(20, 50), client_latency=1)
    assert not linearizable(sim)
    assert linearizable(cap_run("cp", 1, latency=Uniform(20, 50), client_latency=1))


# -- the client -----------------------------------------------------------------------------------
def test_a_client_that_crashes_reports_its_operation_unknown_and_goes_on():
    sim = cap_sim("cp", 2, latency=Constant(10))
    sim.run(until=50)
    assert sim.nodes["c1"].show()["doing"] != "-"   # an operation is in flight...
    sim.crash("c1")                                   # ...when the client crashes
    sim.run(until=400)
    sim.restart("c1")
    sim.run(until=1_500)
    ops = [op for op in sim.history if op.process == "c1"]
    assert ops[0].status == "info" and ops[0].complete_time == 400
    assert {op.status for op in ops[1:-1]} == {"ok"} and len(ops) > 5
    assert ops[-1].status in ("ok", "pending")      # the run ends while it waits
    assert linearizable(sim)


def test_a_client_times_out_when_its_replica_is_down():
    sim = cap_sim("ap", 1, timeout=100)
    sim.crash("a")
    sim.run(until=1_000)
    assert outcome_counts(sim.history, "c1")["info"] == len(
        [op for op in sim.history if op.process == "c1" and op.status != "pending"]) > 0


# -- mistakes are explained -----------------------------------------------------------------------
def test_unknown_mode_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="'cp'.*'ap'"):
        cap_sim("ca")


def test_client_of_an_unknown_replica_is_refused():
    with pytest.raises(ValueError, match="not a replica"):
        cap_sim("cp", clients={"c1": "z"})
    sim = Simulation()
    sim.add_nodes(LwwReplica, ["a", "b"])
    with pytest.raises(ValueError, match="no replica 'z'"):
        sim.add_node(RegisterClient, "c1", replica="z")


def test_bad_partition_times_are_refused():
    with pytest.raises(ValueError, match="start < end"):
        cap_run("cp", 1, (2_000, 1_000))


def test_the_replica_history_samples_the_run_that_cap_run_runs():
    from distlab.kv.runs import cap_scenario, replica_history, replica_states

    samples = replica_history("ap", seed=1, partition=(1_000, 2_000), every=50)
    assert [t for t, _ in samples] == [50.0 * k for k in range(60)]
    sim = cap_scenario("ap", seed=1, partition=(1_000, 2_000))
    sim.run(until=2_950)
    assert samples[-1][1] == replica_states(sim)
    versions = {t: {v for _, v in states.values()} for t, states in samples}
    assert any(len(v) > 1 for t, v in versions.items() if 1_000 <= t < 2_000)  # diverged
    with pytest.raises(ValueError, match="every must be a positive number of ms"):
        replica_history("ap", every=0)
