"""`Simulation.step`: one event per call, trace on or off, within ``max_events``."""

from __future__ import annotations

import pytest

from distlab.sim import EventBudgetExceeded, Node, Simulation


class Ticker(Node):
    """A periodic timer, forever: the case where step() used to never return untraced."""

    def on_start(self) -> None:
        self.ticks = 0
        self.set_timer(10, "tick")

    def on_timer(self, name: str) -> None:
        self.ticks += 1
        self.send(self.id, "tock")
        self.set_timer(10, "tick")


class Resetter(Node):
    """Resets a timer many times in on_start: every reset leaves a cancelled entry behind."""

    def __init__(self, resets: int = 10) -> None:
        self.resets = resets

    def on_start(self) -> None:
        for i in range(self.resets):
            self.set_timer(1 + i, "flaky")
        self.cancel_timer("flaky")
        self.set_timer(100, "real")

    def on_timer(self, name: str) -> None:
        self.note("fired", name=name)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("trace", [True, False])
def test_step_runs_one_event_and_returns_what_it_recorded(trace: bool) -> None:
    sim = Simulation(seed=1, trace=trace, max_events=50)
    sim.add_node(Ticker, "a")
    assert sim.step() == []                       # on_start: it sets a timer, records nothing
    events = sim.step()
    assert [(e.time, e.kind, e.node, e.data) for e in events] == [
        (10.0, "timer", "a", "tick"), (10.0, "send", "a", "tock")]
    assert sim.nodes["a"].ticks == 1 and sim.now == 10
    assert len(sim.trace) == (2 if trace else 0)  # untraced: returned, not kept
    assert [e.kind for e in sim.step()] == ["deliver"]


@pytest.mark.timeout(10)
def test_step_with_the_trace_off_and_a_periodic_timer_keeps_stepping() -> None:
    sim = Simulation(seed=1, trace=False, max_events=5)
    sim.add_node(Ticker, "a")
    for _ in range(100):                          # far more steps than max_events: each is one
        assert sim.step() is not None
    assert sim.nodes["a"].ticks == 50


def test_step_passes_over_cancelled_timers_in_one_call() -> None:
    sim = Simulation(seed=1)
    sim.add_node(Resetter, "a")
    sim.step()                                    # on_start
    events = sim.step()
    assert [(e.kind, e.data) for e in events] == [("timer", "real"), ("note", events[1].data)]
    assert sim.now == 100 and sim.step() is None  # nothing left


def test_step_stops_at_max_events_with_the_same_error_as_run() -> None:
    sim = Simulation(seed=3, max_events=5)
    sim.add_node(Resetter, "a", resets=20)
    sim.step()
    with pytest.raises(EventBudgetExceeded, match=r"step\(\) stopped after 5 events.*seed=3.*"
                                                  r"cancelled timer.*max_events="):
        sim.step()
    assert [e.data["name"] for e in sim.trace.of_kind("note")] == []
    assert sim.step(max_events=100)[0].data == "real"   # a larger budget steps past them


def test_step_skips_the_start_of_a_node_crashed_before_it_started() -> None:
    sim = Simulation(seed=1)
    sim.add_node(Ticker, "a")
    sim.add_node(Ticker, "b")
    sim.crash("b")
    assert sim.step() == []                       # a's start; b's does nothing, passed over
    assert [e.kind for e in sim.step()] == ["timer", "send"]
    assert sim.nodes["b"].__dict__.get("ticks") is None
