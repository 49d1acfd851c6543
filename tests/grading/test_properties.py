"""Properties: one base (`TraceProperty`) with fresh per-run state, and `Eventually` once or
until the end of the run."""

from __future__ import annotations

import pytest

from distlab.grading import Eventually, Run, TraceProperty
from distlab.grading.properties import PropertyViolated
from distlab.sim import Node, Simulation


class Lamp(Node):
    """Switches on at each time in ``on`` and off at each time in ``off`` (in ms)."""

    def __init__(self, on: tuple[float, ...] = (), off: tuple[float, ...] = ()):
        self.on, self.off, self.lit = on, off, False

    def on_start(self) -> None:
        for time in self.on:
            self.set_timer(time, f"on at {time}")  # one name per timer: a name is one timer
        for time in self.off:
            self.set_timer(time, f"off at {time}")

    def on_timer(self, name: str) -> None:
        self.lit = name.startswith("on")


def judged(prop: TraceProperty, run_for: float = 1_000, **lamp: tuple[float, ...]):
    """Run one lamp under ``prop`` and return the property's verdict (None: it held)."""
    sim = Simulation(seed=1)
    sim.add_node(Lamp, "lamp", **lamp)
    judge = prop.start(sim)
    sim.run(until=run_for)
    return judge()


def lit(sim: Simulation) -> bool:
    return sim.nodes["lamp"].lit


def test_eventually_once_is_satisfied_by_a_moment_before_the_deadline():
    once = Eventually("the lamp is lit", lit, within=500)
    assert judged(once, on=(100,), off=(200,)) is None
    late = judged(once, on=(700,))
    assert late.explanation == "it happened only at t=700.000 ms, later than 500 ms"
    assert late.time == 700
    never = judged(once)
    assert never.explanation == "it never happened in the whole run (1000 ms)"


def test_eventually_until_end_must_still_hold_at_the_end():
    for_good = Eventually("the lamp is lit", lit, within=500, until_end=True)
    assert for_good.description == "the lamp is lit within 500 ms, and still at the end"
    assert judged(for_good, on=(100,)) is None
    went_out = judged(for_good, on=(100,), off=(200,))
    assert went_out.explanation == ("it happened (first at t=100.000 ms) but no longer held "
                                    "at the end of the run (t=1000 ms)")
    relit_late = judged(for_good, on=(100, 700), off=(200,))
    assert relit_late.explanation == ("it has held without a break only since t=700.000 ms, "
                                      "later than 500 ms (it first happened at t=100.000 ms)")
    assert judged(Eventually("lit", lit, until_end=True), on=(100, 700), off=(200,)) is None


class LampSwitches(TraceProperty):
    """Counts the lamp's switches (its timers) in the trace, as they come; three are too many."""

    description = "the lamp switches at most twice"

    def begin(self, run: Run) -> None:
        run.state.switches = 0

    def observe(self, run: Run) -> str | None:
        run.state.switches += sum(e.kind == "timer" for e in run.new_events())
        if run.state.switches > 2:
            return f"it switched {run.state.switches} times"
        return None


def test_a_trace_property_stops_the_run_at_the_first_problem_and_starts_each_run_afresh():
    prop = LampSwitches()
    with pytest.raises(PropertyViolated) as stopped:
        judged(prop, on=(100, 300), off=(200,))
    assert stopped.value.violation.explanation == "it switched 3 times"
    assert stopped.value.violation.time == 300
    for _ in range(2):  # the same object again: nothing is left over from the earlier runs
        assert judged(prop, on=(100,), off=(200,)) is None


def test_a_property_that_only_judges_is_not_called_after_every_event():
    class Ends(TraceProperty):
        description = "the run ends"

    sim = Simulation(seed=1)
    Ends().start(sim)
    assert sim._monitors == []
    LampSwitches().start(sim)
    assert len(sim._monitors) == 1
