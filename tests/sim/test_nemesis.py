"""Tests of the nemesis's faults of the network and of clocks (`distlab.sim.Nemesis`).

Crashes and partitions are tested with the kernel (tests/sim/test_sim.py). The network's
faults (lossy, duplicating, reordering spells) and the clock faults are optional: off, the
nemesis must draw exactly what it drew before they existed, because committed notebooks
show its runs.
"""

from __future__ import annotations

import pytest
from test_sim import Pinger, pingers

from distlab.sim import ConfigurationError, Nemesis, Network, Simulation

FAULTS = ("crash", "restart", "partition", "heal")


def fault_events(sim: Simulation) -> list[tuple]:
    return [(round(e.time, 3), e.kind, e.node or e.data) for e in sim.trace if e.kind in FAULTS]


def test_without_the_new_faults_the_draws_are_those_of_before():
    # recorded with the nemesis of crashes and partitions only, before the other faults came
    sim = pingers(seed=5)
    Nemesis(interval=100, max_crashed=1).install(sim)
    sim.run(until=1_000)
    assert fault_events(sim) == [
        (24.016, "crash", "a"), (97.144, "restart", "a"), (463.329, "crash", "c"),
        (539.595, "partition", (("a",), ("b", "c"))), (888.406, "heal", None),
        (912.34, "partition", (("a", "c"), ("b",))), (981.531, "heal", None),
        (990.26, "partition", (("a",), ("b", "c")))]


def test_network_spells_drop_and_duplicate_then_calm_down():
    net = Network()
    sim = Simulation(seed=3, network=net)
    sim.add_nodes(Pinger, ["a", "b", "c"])
    nemesis = Nemesis(interval=100, crashes=False, partitions=False, loss=0.5, duplicate=0.5,
                      reorder=0.5, stop=2_000).install(sim)
    sim.run(until=3_000)
    counts = sim.trace.counts()
    assert counts["drop"] > 10 and counts["duplicate"] > 10
    assert [e.data for e in sim.trace.of_kind("drop")] == ["loss"] * counts["drop"]
    assert sim.trace.of_kind("drop")[-1].time < 2_100  # calm after the stop
    assert nemesis.degraded == set() and sim.network.loss == 0 and sim.network.duplicate == 0
    assert sim.network is not net and (net.loss, net.duplicate, net.reorder) == (0, 0, 0)


def test_clock_faults_skew_clocks_and_put_them_back():
    sim = pingers(seed=2)
    sim.set_clock("a", skew=7.0)  # the scenario's own clock: restored as it was
    nemesis = Nemesis(interval=50, crashes=False, partitions=False, skew=100, drift=0.01)
    nemesis.install(sim)
    seen: set[tuple[str, tuple[float, float]]] = set()
    sim.add_monitor(lambda s: seen.update((n, s.clock_of(n)) for n in "abc"))
    sim.run(until=1_000)
    changed = {(n, clock) for n, clock in seen if clock not in ((0.0, 0.0), (7.0, 0.0))}
    assert len(changed) > 3
    assert all(abs(skew) <= 100 and abs(drift) <= 0.01 for _, (skew, drift) in changed)
    nemesis.repair_all()
    assert [sim.clock_of(n) for n in "abc"] == [(7.0, 0.0), (0.0, 0.0), (0.0, 0.0)]


def test_only_crashable_nodes_crash_but_all_are_partitioned():
    sim = pingers(seed=4)
    sim.at(10, sim.crash, "c")  # crashed by the scenario, for good: not the nemesis's to restart
    nemesis = Nemesis(interval=50, nodes=["a", "b", "c"], crashable=["b"]).install(sim)
    sim.run(until=3_000)
    assert {e.node for e in sim.trace.of_kind("crash")} == {"b", "c"}
    assert {e.node for e in sim.trace.of_kind("restart")} == {"b"}
    assert len(sim.trace.of_kind("partition")) > 3
    nemesis.repair_all()
    assert sim.crashed == {"c"}


def test_every_fault_at_once_replays_exactly():
    def run() -> str:
        sim = pingers(seed=9)
        Nemesis(interval=80, loss=0.3, duplicate=0.3, reorder=0.3, skew=50, drift=0.01,
                stop=1_500).install(sim)
        sim.run(until=2_000)
        return sim.trace.dumps()

    assert run() == run()


@pytest.mark.parametrize("options, message", [
    ({"loss": 1.5}, r"the nemesis loss is a probability"),
    ({"duplicate": -0.1}, r"the nemesis duplicate is a probability"),
    ({"skew": -5}, r"skew .* must not be negative"),
    ({"drift": 1.0}, r"drift is a fraction below 1"),
    ({"crashes": False, "partitions": False}, r"this nemesis does nothing"),
])
def test_bad_options_are_refused_clearly(options, message):
    with pytest.raises(ConfigurationError, match=message):
        Nemesis(**options)
