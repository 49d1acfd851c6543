"""Every time that enters the simulator refuses NaN, and says what to write for infinity.

(A NaN time compares false with every other, so in the event heap it silently breaks the
order of events; an infinite one usually means "never", which each place spells its way.)
"""

from __future__ import annotations

import math

import pytest

from distlab.sim import (ConfigurationError, Constant, Exponential, Fault, FaultPlan, LogNormal,
                         Nemesis, Network, Node, NodeError, Normal, Simulation, Uniform)

NAN, INF = math.nan, math.inf


class Sleeper(Node):
    """Sets the timer it is told to when it starts."""

    def __init__(self, delay: float = 1.0) -> None:
        self.delay = delay

    def on_start(self) -> None:
        self.set_timer(self.delay, "wake")


def sim_with(node_delay: float = 1.0) -> Simulation:
    sim = Simulation(seed=1)
    sim.add_node(Sleeper, "a", delay=node_delay)
    return sim


@pytest.mark.parametrize("call", [
    lambda sim: sim.at(NAN, print),
    lambda sim: sim.run(until=NAN),
    lambda sim: sim.run_until(lambda: False, timeout=NAN),
    lambda sim: sim.set_clock("a", skew=NAN),
    lambda sim: sim.set_clock("a", drift=NAN),
    lambda sim: sim.run(until=10, wall_limit=NAN),
    lambda sim: sim.nodes["a"].set_timer(NAN, "wake"),
    lambda sim: FaultPlan().crash(NAN, "a"),
    lambda sim: FaultPlan([Fault(NAN, "heal")]),
    lambda sim: Nemesis(interval=NAN),
    lambda sim: Nemesis(start=NAN),
    lambda sim: Nemesis(stop=NAN),
], ids=["at", "run-until", "run_until-timeout", "skew", "drift", "wall_limit", "set_timer",
        "fault-plan", "fault", "nemesis-interval", "nemesis-start", "nemesis-stop"])
def test_nan_is_refused_with_a_clear_message(call) -> None:
    with pytest.raises(ConfigurationError, match="NaN.*order of events"):
        call(sim_with())


@pytest.mark.parametrize("make", [
    lambda: Constant(NAN), lambda: Uniform(NAN, 3), lambda: Uniform(1, NAN),
    lambda: Exponential(NAN), lambda: Exponential(5, base=NAN), lambda: Normal(NAN, 1),
    lambda: Normal(5, NAN), lambda: LogNormal(NAN), lambda: LogNormal(5, sigma=NAN),
    lambda: Network(latency=NAN), lambda: Network(reorder=0.1, reorder_delay=NAN),
    lambda: Network(bandwidth=NAN), lambda: Network().set_link("a", "b", latency=NAN),
])
def test_nan_latency_parameters_are_refused(make) -> None:
    with pytest.raises(ConfigurationError, match="NaN"):
        make()


@pytest.mark.parametrize("call, advice", [
    (lambda sim: sim.run(until=INF), r"call run\(\) with no until="),
    (lambda sim: sim.run_until(lambda: False, timeout=INF), r"timeout=None"),
    (lambda sim: sim.at(INF, print), "never runs"),
    (lambda sim: sim.nodes["a"].set_timer(INF, "wake"),
     r"cancel it instead \(self.cancel_timer\('wake'\)\)"),
    (lambda sim: sim.set_clock("a", skew=-INF), "finite number"),
    (lambda sim: FaultPlan().crash(INF, "a"), "leave it out of the plan"),
    (lambda sim: Nemesis(stop=INF), r"leave stop out"),
    (lambda sim: sim.run(until=10, wall_limit=INF), "leave wall_limit out"),
    (lambda sim: Network(latency=Constant(INF)), "use loss="),
    (lambda sim: Network(bandwidth=INF), "bandwidth=None"),
])
def test_infinity_is_refused_with_what_to_do_instead(call, advice: str) -> None:
    with pytest.raises(ConfigurationError, match=advice):
        call(sim_with())


def test_a_handler_that_sets_a_nan_timer_is_named_with_the_seed() -> None:
    with pytest.raises(NodeError, match=r"node 'a' raised ConfigurationError in on_start\(\).*"
                                        r"seed=1.*set_timer\(nan, 'wake'\): the delay is NaN"):
        sim_with(node_delay=NAN).run()


def test_finite_times_still_work_and_come_out_as_floats() -> None:
    sim = sim_with(node_delay=5)
    sim.at(3, sim.crash, "a")
    sim.set_clock("a", skew=2, drift=0)
    assert sim.clock_of("a") == (2.0, 0.0)
    assert FaultPlan().crash(7, "a").faults[0].time == 7.0
    sim.run(until=10)
    assert sim.now == 10.0 and sim.crashed == {"a"}
