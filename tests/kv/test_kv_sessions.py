"""Tests of distlab.kv.sessions and the follower reads of distlab.kv.leader_follower.

Each scripted anomaly appears with the weak routing and is gone with the fix the page shows;
version tokens make random sessions keep read-your-writes and monotonic reads; reads from the
leader are linearizable; and the follower reads cost what the page says they save.
"""

from __future__ import annotations

import statistics

import pytest

from distlab.check import check_linearizability, check_sessions
from distlab.kv.leader_follower import At, SessionGet
from distlab.kv.runs import anomaly_run, operation_latencies, session_anomalies, session_sim
from distlab.sim import Simulation


def broken(sim: Simulation) -> set[str]:
    return {name for name, result in check_sessions(sim.history).items() if not result.ok}


@pytest.mark.parametrize("anomaly, weak, fixes", [
    ("read-your-writes", ("sticky", False), [("leader", False), ("sticky", True)]),
    ("monotonic-reads", ("any", False), [("sticky", False), ("any", True), ("leader", False)]),
    ("consistent-prefix", ("any", False), [("leader", False)]),
])
def test_each_anomaly_appears_with_weak_routing_and_goes_with_its_fix(anomaly, weak, fixes):
    assert anomaly in broken(anomaly_run(anomaly, *weak))
    for routing, tokens in fixes:
        assert broken(anomaly_run(anomaly, routing, tokens)) == set(), (routing, tokens)


def test_tokens_of_one_shard_say_nothing_about_another():
    """Per-store tokens keep a session's own guarantees, not the order across shards."""
    assert "consistent-prefix" in broken(anomaly_run("consistent-prefix", "any", True))


def test_a_follower_holds_a_read_until_it_reaches_the_token():
    sim = anomaly_run("read-your-writes", "sticky", tokens=True)
    (read,) = [op for op in sim.history if op.f == "get"]
    assert read.output == "alice.1"
    sent = [e.data for e in sim.trace.of_kind("send") if isinstance(e.data, SessionGet)]
    assert [m.after for m in sent] == [1]
    replies = [e.data for e in sim.trace.of_kind("send") if isinstance(e.data, At)]
    assert [r.index for r in replies] == [1, 1]       # the write's, then the held read's


def test_random_sessions_with_tokens_keep_their_guarantees_and_leader_reads_are_linearizable():
    for seed in range(5):
        sim = session_sim(seed, routing="any", tokens=True, clients=3)
        sim.run(until=3_000)
        assert all(count == 0 for count in session_anomalies(sim.history).values()), seed
        sim = session_sim(seed, routing="leader", clients=3)
        sim.run(until=3_000)
        assert check_linearizability(sim.history, "kv").ok, seed


def test_weak_routings_break_guarantees_and_are_faster_than_the_leader():
    latency, anomalies = {}, {}
    for routing in ("any", "leader"):
        reads, counts = [], {}
        for seed in range(5):
            sim = session_sim(seed, routing=routing, clients=3)
            sim.run(until=3_000)
            assert all(op.status == "ok" for op in sim.history)
            reads += operation_latencies(sim.history, "get")
            for name, n in session_anomalies(sim.history).items():
                counts[name] = counts.get(name, 0) + n
        latency[routing], anomalies[routing] = statistics.mean(reads), counts
    assert anomalies["any"]["read-your-writes"] > 0 and anomalies["any"]["monotonic-reads"] > 0
    assert sum(anomalies["leader"].values()) == 0
    assert latency["any"] * 5 < latency["leader"]      # near followers, far leader


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="unknown routing 'nearest'"):
        session_sim(routing="nearest").run(until=10)
    with pytest.raises(ValueError, match="shards must be 1"):
        session_sim(shards=3)
    with pytest.raises(ValueError, match="no scenario for 'causal'"):
        anomaly_run("causal", "any")
    with pytest.raises(ValueError, match="a script step is"):
        session_sim(sessions={"z": {"script": ((0, "append", "x", "v"),)}})
