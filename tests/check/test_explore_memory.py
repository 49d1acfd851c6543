"""What the stateful search keeps is freed when it returns, by reference counting alone.

`distlab.check.explore` runs the stateful search with Python's cyclic garbage collector off
(snapshots never form cycles, and scanning them again and again doubled the search's time).
So nothing the search keeps may sit in a reference cycle: the memo of steps
(`distlab.check.transitions.StepMemo`) and the cells' versions (`distlab.check.snapshots.Cells`)
used to be held by such cycles -- the hooks the memo puts on the working simulation held the
memo, and the cells' functions held the cells -- and waited, with all they hold, for a
collection that first scanned everything the search had made. These tests check that they are
freed at once, and that the hooks, which no longer hold the memo, still notice what node code
does (a handler that reads its clock is remembered per reading of the clock).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from distlab.check import transitions
from distlab.check.examples import ForgetfulElection
from distlab.check.explore import _collector_paused, explore
from distlab.check.fork import ForkEngine
from distlab.check.invariants import invariant
from distlab.check.keys import KeyParts
from distlab.check.snapshots import Cells
from distlab.consensus.raft.invariants import at_most_one_leader_per_term
from distlab.sim import Node, Simulation

#: The objects of a stateful search that hold what it remembered.
KEPT = (ForkEngine, transitions.StepMemo, Cells, KeyParts)


@pytest.fixture
def collector_off() -> Iterator[None]:
    """The cyclic collector off (as during a search), after a collection of what came before."""
    gc.collect()
    with _collector_paused():
        yield


def alive(kinds: tuple[type, ...]) -> dict[str, int]:
    """How many objects of each of ``kinds`` the collector still tracks (garbage in cycles
    included: it is tracked until a collection frees it)."""
    counts = {kind.__name__: 0 for kind in kinds}
    for obj in gc.get_objects():
        for kind in kinds:
            if isinstance(obj, kind):
                counts[kind.__name__] += 1
    return counts


def three(cls: type[Node]) -> Any:
    def setup(sim: Simulation) -> None:
        sim.add_nodes(cls, ["a", "b", "c"])
    return setup


def test_the_search_s_memory_is_freed_when_it_returns(collector_off):
    result = explore(three(ForgetfulElection), [at_most_one_leader_per_term()],
                     time_budget=None)
    assert result.found and result.method == "fork"
    assert alive(KEPT) == {kind.__name__: 0 for kind in KEPT}


class Remembered(transitions.StepMemo):
    """The mistake this file guards against: a memo whose hooks on the simulation hold it."""

    def watch_runtime(self) -> None:
        super().watch_runtime()
        hook = self.sim._clock
        self.sim._clock = lambda node, memo=self: hook(node)  # (holds the memo)


def test_a_memo_held_by_its_hooks_is_caught(collector_off, monkeypatch):
    monkeypatch.setattr("distlab.check.fork.StepMemo", Remembered)
    explore(three(ForgetfulElection), [at_most_one_leader_per_term()], time_budget=None)
    left = alive(KEPT)
    assert left["StepMemo"] == 1 and left["Cells"] == 1 and left["KeyParts"] == 1
    gc.collect()  # (the cycle is freed by a collection only)
    assert alive(KEPT) == {kind.__name__: 0 for kind in KEPT}


class Stamps(Node):
    """Keeps the clock's reading, rounded to ticks of 10 ms, at every message: its steps from
    the same version differ only by when they run."""

    def on_start(self) -> None:
        self.stamps: tuple[int, ...] = ()
        self.set_timer(3, "ping")

    def on_timer(self, name: str) -> None:
        if len(self.stamps) < 2:
            self.broadcast("ping")
            self.set_timer(7, "ping")

    def on_message(self, src: str, msg: Any) -> None:
        self.stamps = (*self.stamps, int(self.now // 10))[-2:]


@invariant("always holds: the search visits every state")
def quiet(sim: Simulation) -> None:
    return None


def outcome(method: str) -> tuple:
    result = explore(three(Stamps), [quiet], time_budget=None, max_depth=5, method=method)
    return result.status, result.states, result.transitions, result.depth


def test_a_handler_that_reads_its_clock_is_remembered_per_reading():
    assert outcome("fork") == outcome("replay")


class Unnoticed(transitions.StepMemo):
    """The mistake: hooks that miss a handler's readings of its clock."""

    def watch_runtime(self) -> None:
        super().watch_runtime()
        self.sim._clock = lambda node: node._runtime.now  # (notes nothing)


def test_a_memo_that_misses_the_clock_s_readings_is_caught(monkeypatch):
    monkeypatch.setattr("distlab.check.fork.StepMemo", Unnoticed)
    assert outcome("fork") != outcome("replay")
