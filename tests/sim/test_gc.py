"""Cyclic garbage that node code drops is collected during a long run, not only after it.

The kernel keeps Python's garbage collector from scanning the trace again and again; it
must not keep it from freeing the cycles that node code drops on every event.
"""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from distlab.sim import Node, Simulation

EVENTS = 100_000


class Cycle:
    """An object that refers to itself (so only the cyclic collector frees it), with a
    kilobyte of payload, counting how many of its kind are alive."""

    alive = 0
    most_alive = 0

    def __init__(self) -> None:
        self.me = self
        self.payload = bytearray(1024)
        Cycle.alive += 1
        Cycle.most_alive = max(Cycle.most_alive, Cycle.alive)

    def __del__(self) -> None:
        Cycle.alive -= 1


class Litterer(Node):
    """Drops a reference cycle on every event: a timer every millisecond, forever."""

    def on_start(self) -> None:
        self.set_timer(1, "tick")

    def on_timer(self, name: str) -> None:
        self.scratch = Cycle()      # the previous one becomes cyclic garbage
        self.set_timer(1, "tick")


@pytest.fixture
def collector_on():
    """The test needs the collector on (as it is by default), and leaves it as it was."""
    was_enabled = gc.isenabled()
    gc.enable()
    gc.collect()
    Cycle.alive = Cycle.most_alive = 0
    try:
        yield
    finally:
        gc.collect()
        if not was_enabled:
            gc.disable()


def run_untraced(events: int) -> Simulation:
    sim = Simulation(seed=1, trace=False, max_events=events + 1)
    sim.add_node(Litterer, "a")
    sim.run(until=events - 1)    # one event per ms, and the start
    return sim


def test_cycles_dropped_by_node_code_do_not_pile_up_during_a_run(collector_on) -> None:
    run_untraced(EVENTS)
    assert Cycle.most_alive < EVENTS // 4, (
        f"{Cycle.most_alive:,} of {EVENTS:,} garbage cycles were alive at once")


def test_peak_memory_of_a_long_untraced_run_stays_bounded(collector_on) -> None:
    tracemalloc.start()
    try:
        run_untraced(EVENTS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    garbage_made = EVENTS * 1024
    assert peak < garbage_made / 4, f"peak {peak / 1e6:.0f} MB for a run that keeps nothing"


def test_a_run_with_the_collector_off_leaves_it_off(collector_on) -> None:
    gc.disable()
    try:
        run_untraced(1_000)
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert gc.isenabled()
