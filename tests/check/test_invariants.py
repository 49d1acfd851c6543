"""Tests of distlab.check.invariants: each catches a broken toy and passes a correct one.

Raft's invariants are tested beside Raft, in tests/consensus/test_raft_invariants.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from distlab.check.examples import RicartAgrawala, mutual_exclusion
from distlab.check.invariants import (Invariant, InvariantViolation, check_now, durable_storage,
                                      invariant, live_nodes, no_acknowledged_write_lost, watch)
from distlab.sim import Client, Node, Operation, Simulation

from scripted import Scripted, violation_or_none

SEEDS = range(30)


def test_crashed_nodes_are_skipped():
    def run(crash: bool) -> InvariantViolation | None:
        sim = Simulation(seed=1)
        sim.add_node(Scripted, "a", in_cs=False, script=[(5, {"in_cs": True})])
        sim.add_node(Scripted, "b", in_cs=False, script=[(20, {"in_cs": True})])
        if crash:
            sim.at(10, sim.crash, "a")
        watch(sim, mutual_exclusion)
        return violation_or_none(sim, 50)

    assert run(crash=False) is not None
    assert run(crash=True) is None


# -- no acknowledged write lost ------------------------------------------------------------------

@dataclass(frozen=True)
class Put:
    key: str
    value: int


@dataclass(frozen=True)
class PutOk:
    key: str
    value: int


class Store(Node):
    """Saves every write durably, then acknowledges it."""

    def __init__(self) -> None:
        self.data = dict(self.storage.get("data", {}))

    def on_message(self, src: str, msg: Put) -> None:
        self.data[msg.key] = msg.value
        self.save()
        self.send(src, PutOk(msg.key, msg.value))

    def save(self) -> None:
        self.storage["data"] = dict(self.data)


class LazyStore(Store):
    """The bug: acknowledges at once, and saves only every 50 ms."""

    def on_start(self) -> None:
        self.set_timer(50, "flush")

    def save(self) -> None:
        pass

    def on_timer(self, name: str) -> None:
        self.storage["data"] = dict(self.data)
        self.set_timer(50, "flush")


class Writer(Client):
    """Writes 1, 2, 3... to keys x, y, z in turn; gives up on a write after 30 ms."""

    def __init__(self, writes: int = 40, gap: float = 20.0):
        self.writes = writes
        self.gap = gap
        self.count = 0
        self.op: Operation | None = None

    def on_start(self) -> None:
        self.set_timer(self.rng.uniform(0, self.gap), "next")

    def on_timer(self, name: str) -> None:
        match name:
            case "next" if self.count < self.writes:
                self.count += 1
                key = "xyz"[self.count % 3]
                self.op = self.invoke("put", value=self.count, key=key)
                self.send("s", Put(key, self.count))
                self.set_timer(30, "timeout")
            case "timeout":
                self.info(self.op)
                self.op = None
                self.set_timer(self.gap, "next")

    def on_message(self, src: str, msg: PutOk) -> None:
        if self.op is not None and msg.value == self.op.value:
            self.ok(self.op)
            self.op = None
            self.cancel_timer("timeout")
            self.set_timer(self.rng.uniform(0, self.gap), "next")


def read_store(sim: Simulation, key: str) -> int | None:
    """What the store would answer: from memory while up, from its disk when down."""
    if sim.is_up("s"):
        return sim.nodes["s"].data.get(key)
    return durable_storage(sim, "s").get("data", {}).get(key)


def stores(cls: type[Node], seed: int) -> Simulation:
    sim = Simulation(seed=seed)
    sim.add_node(cls, "s")
    sim.add_node(Writer, "w", writes=10)
    crash_at = 100 + 5 * seed
    sim.at(crash_at, sim.crash, "s")
    sim.at(crash_at + 100, sim.restart, "s")
    return sim


def test_lost_writes_are_caught_after_the_run():
    lost = 0
    for seed in SEEDS:
        sim = stores(LazyStore, seed)
        sim.run(until=2_000)
        try:
            check_now(sim, no_acknowledged_write_lost(read_store))
        except InvariantViolation as exc:
            lost += 1
            assert "was lost" in exc.explanation
    assert lost >= len(SEEDS) // 4   # the writes acknowledged in the 50 ms before a crash


def test_lost_writes_are_caught_at_the_crash_when_watched():
    sim = stores(LazyStore, 0)
    watch(sim, no_acknowledged_write_lost(read_store))
    exc = violation_or_none(sim, 2_000)
    assert exc is not None
    assert exc.events[-1].kind == "crash"


def test_a_store_that_saves_before_acknowledging_loses_nothing():
    for seed in SEEDS:
        sim = stores(Store, seed)
        watch(sim, no_acknowledged_write_lost(read_store))
        sim.run(until=2_000)
        check_now(sim, no_acknowledged_write_lost(read_store))
        assert sum(op.status == "ok" for op in sim.history) >= 5


def history_sim(ops: list[tuple[str, object, float, float | None, str]]) -> Simulation:
    """A simulation whose history holds ``(f, value, invoke, complete, status)`` operations
    on x."""
    sim = Simulation(seed=0)
    events = []
    for i, (f, value, start, end, status) in enumerate(ops):
        events.append((start, 0, i))
        if end is not None:
            events.append((end, 1, i))
    recorded: dict[int, Operation] = {}
    for time, kind, i in sorted(events):
        sim.run(until=time)
        f, value, _, _, status = ops[i]
        if kind == 0:
            recorded[i] = sim.history.invoke(f"p{i}", f, value=value, key="x")
        else:
            getattr(sim.history, status)(recorded[i])
    return sim


def lost(sim: Simulation, final: object) -> str | None:
    return no_acknowledged_write_lost(lambda sim, key: final).check(sim)


def test_the_value_read_may_come_from_the_last_or_a_concurrent_write():
    sequential = history_sim([("put", 1, 0, 10, "ok"), ("put", 2, 20, 30, "ok")])
    assert lost(sequential, 2) is None
    assert "before the acknowledged p1: put['x'](2) ok began" in lost(sequential, 1)
    assert "holds nothing" in lost(sequential, None)
    concurrent = history_sim([("put", 1, 0, 25, "ok"), ("put", 2, 20, 30, "ok")])
    assert lost(concurrent, 1) is None and lost(concurrent, 2) is None


def test_writes_of_unknown_outcome_may_win_and_failed_writes_may_not():
    sim = history_sim([("put", 1, 0, 10, "ok"), ("put", 2, 5, 12, "info"),
                       ("put", 3, 20, 30, "fail"), ("put", 4, 40, None, "ok")])
    assert lost(sim, 2) is None          # unknown: it may still take effect
    assert lost(sim, 4) is None          # still pending: may have taken effect
    assert "which no write wrote" in lost(sim, 3)


def test_every_acknowledged_append_must_be_in_the_value_read():
    sim = history_sim([("append", "a", 0, 10, "ok"), ("append", "b", 5, 15, "ok"),
                       ("append", "c", 20, 30, "info")])
    assert lost(sim, ["b", "a"]) is None
    assert lost(sim, "ab") is None       # string-append stores
    assert "append['x']('b')" in lost(sim, ["a", "c"])


# -- writing new invariants -----------------------------------------------------------------------

def test_a_custom_invariant_written_with_the_decorator():
    @invariant("no node counts past 3")
    def small_counts(sim: Simulation) -> str | None:
        for node_id, node in live_nodes(sim).items():
            if node.count > 3:
                return f"{node_id} counted to {node.count}"
        return None

    sim = Simulation(seed=4)
    sim.add_node(Scripted, "a", count=0,
                 script=[(t, {"count": t // 10}) for t in (10, 20, 30, 40)])
    watch(sim, small_counts)
    exc = violation_or_none(sim, 100)
    assert (exc.invariant, exc.explanation, exc.time, exc.seed) == (
        "no node counts past 3", "a counted to 4", 40, 4)
    assert "timer 'step3'" in str(exc)


def test_a_custom_invariant_as_an_object_may_return_true_or_false():
    fine = Invariant("always fine", lambda sim: True)
    broken = Invariant("never fine", lambda sim: False)
    sim = Simulation(seed=0)
    check_now(sim, fine)
    with pytest.raises(InvariantViolation, match="returned False"):
        check_now(sim, fine, broken)


def test_mistakes_in_writing_invariants_get_clear_errors():
    sim = Simulation(seed=0)
    with pytest.raises(TypeError, match="returned 42"):
        check_now(sim, Invariant("odd", lambda sim: 42))
    with pytest.raises(TypeError, match=r"@invariant\('what must hold'\)"):
        invariant(lambda sim: None)
    with pytest.raises(TypeError, match="is not an Invariant"):
        watch(sim, lambda sim: None)
    with pytest.raises(TypeError, match="needs a name"):
        Invariant("", lambda sim: None)


def test_mutual_exclusion_example_holds_for_ricart_agrawala_over_many_seeds():
    for seed in range(100):
        sim = Simulation(seed=seed)
        sim.add_nodes(RicartAgrawala, ["a", "b", "c"])
        watch(sim, mutual_exclusion)
        sim.run(until=1_200)
        assert all(node.done for node in sim.nodes.values())
