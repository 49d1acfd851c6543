"""Nondeterminism, detected: the first seed of each check runs again in a fresh Python process
(another PYTHONHASHSEED) and must give the same trace; a node that iterates a set of strings,
calls the module random or reads the real clock is caught, with the likely causes named."""

from __future__ import annotations

import random
import threading
import time

from distlab.grading import Eventually, Lab, Scenario, check, graded
from distlab.grading.determinism import FreshInterpreter, check_determinism
from distlab.sim import Node

PEERS = [f"n{i}" for i in range(8)]


class Gossiper(Node):
    """Tells one peer (its choice: `pick`) every 10 ms; counts what it hears."""

    def __init__(self):
        self.heard = 0

    def on_start(self) -> None:
        self.set_timer(10, "tick")

    def on_timer(self, name: str) -> None:
        self.send(self.pick(), "hello")
        self.set_timer(10, "tick")

    def on_message(self, src: str, msg: str) -> None:
        self.heard += 1

    def pick(self) -> str:
        return self.rng.choice(self.peers)


class IteratesASet(Gossiper):
    """Picks the first of a set of strings: an order that the hash seed decides. The set is
    large (ten names per peer), so that another hash seed almost surely puts another name
    first: with the peers alone, two hash seeds sometimes order a handful of names alike."""

    def pick(self) -> str:
        names = {f"{peer}/{i}" for peer in self.peers for i in range(10)}
        return next(iter(names)).split("/")[0]


class CallsGlobalRandom(Gossiper):
    def pick(self) -> str:
        return random.choice(self.peers)


class ReadsTheClock(Gossiper):
    def pick(self) -> str:
        return self.peers[int(time.time() * 1e6) % len(self.peers)]


class GossipLab(Lab):
    def __init__(self, node: type[Node]):
        self.node = node

    @graded(part="A", seeds=3, description="someone hears something")
    def test_heard_A(self, seed: int) -> Scenario:
        heard = Eventually("someone hears", lambda sim: any(n.heard for n in sim.nodes.values()))
        return Scenario(lambda sim: sim.add_nodes(self.node, PEERS), run_for=100,
                        properties=[heard], node_attributes=["heard"])


def test_a_deterministic_node_passes_the_double_run():
    assert check(GossipLab(Gossiper), timing=False).passed


def test_each_source_of_nondeterminism_is_caught_with_its_likely_causes():
    for node in (IteratesASet, CallsGlobalRandom, ReadsTheClock):
        report = check(GossipLab(node), timing=False)
        assert report.failed == ["test_heard_A"], node
        failure = report.failures[0]
        assert (failure.kind, failure.seed) == ("nondeterministic", 1)
        assert failure.summary == "nondeterministic: seed 1 gives different runs in two processes"
        assert "The runs part at event" in failure.explanation
        for cause in ("iterating a set", "self.rng", "time.time()"):
            assert cause in failure.explanation
        assert "replay it: replay(lab.test_heard_A, seed=1)" in str(report)


def test_one_call_checks_any_seed():
    assert check_determinism(GossipLab(Gossiper).test_heard_A, seed=2).passed
    report = check_determinism(GossipLab(CallsGlobalRandom).test_heard_A, seed=2)
    assert report.failures[0].summary.startswith("nondeterministic: seed 2")


class LeavesAThread(Gossiper):
    def on_start(self) -> None:
        super().on_start()
        threading.Thread(target=threading.Event().wait, daemon=True).start()


def test_the_fresh_interpreter_is_kept_but_not_after_a_students_thread_ran_there():
    assert check(GossipLab(Gossiper), timing=False).passed
    kept = FreshInterpreter._current
    assert check(GossipLab(Gossiper), timing=False).passed
    assert FreshInterpreter._current is kept  # the same interpreter served both
    assert check(GossipLab(LeavesAThread), timing=False).failures[0].kind == "thread"
    assert check(GossipLab(Gossiper), timing=False).passed  # a new interpreter
    assert FreshInterpreter._current is not kept
