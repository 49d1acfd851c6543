"""`check(..., workers=N)`: seeds spread over processes, with exactly the serial results.

The lab here fails on some seeds only (a sleeper that wakes at a random time, judged by a
deadline), as a rare bug does; the sweep must find the same first failing seed as the serial
run, with the same totals, whichever worker ran it.
"""

from __future__ import annotations

import os

import pytest

from distlab.grading import Eventually, Lab, Scenario, check, graded
from distlab.sim import Node

GRADER = os.getpid()


class RandomSleeper(Node):
    """Wakes once, at a time drawn from the run's seed, and pings itself on the way."""

    def __init__(self) -> None:
        self.awake = False

    def on_start(self) -> None:
        self.set_timer(self.rng.uniform(0, 1_000), "wake")

    def on_timer(self, name: str) -> None:
        self.awake = True
        self.send(self.id, "ping")

    def on_message(self, src: str, msg: object) -> None:
        pass


class WorkerOnly(RandomSleeper):
    """Sleeps for ever when its run's parent is not the grader: nondeterministic code."""

    def on_start(self) -> None:
        if os.getppid() == GRADER:
            self.set_timer(10, "wake")


class SweepLab(Lab):
    title = "Random sleepers"

    def __init__(self, node: type[Node] = RandomSleeper):
        self.node = node

    def scenario(self, within: float) -> Scenario:
        awake = Eventually("the sleeper wakes", lambda sim: sim.nodes["s"].awake,
                           within=within)
        return Scenario(lambda sim: sim.add_node(self.node, "s"), run_for=1_500,
                        properties=[awake], node_attributes=["awake"])

    @graded(part="A", seeds=40, description="wakes within 850 ms (fails on some seeds)")
    def test_rarely_late_A(self, seed: int) -> Scenario:
        return self.scenario(850)

    @graded(part="A", seeds=40, description="wakes within 500 ms (fails on many seeds)")
    def test_often_late_A(self, seed: int) -> Scenario:
        return self.scenario(500)

    @graded(part="A", seeds=40, description="wakes within 1,000 ms (never fails)")
    def test_never_late_A(self, seed: int) -> Scenario:
        return self.scenario(1_000)


def outcome(report) -> list[tuple]:
    """What must not depend on the number of workers: per check, its seeds and failure."""
    return [(r.check.name, r.seeds_run, r.seeds_total, r.simulated_ms, r.messages,
             None if r.failure is None else (r.failure.seed, r.failure.summary,
                                             r.failure.explanation))
            for r in report.results]


def test_workers_give_exactly_the_serial_results() -> None:
    serial = check(SweepLab(), seeds=60, timing=False)
    spread = check(SweepLab(), seeds=60, timing=False, workers=3)
    assert outcome(spread) == outcome(serial)
    rarely, often, never = outcome(serial)
    assert 1 < rarely[1] < 60 and rarely[5] is not None  # a failing seed past the first
    assert often[5] is not None and never[5] is None and never[1] == 60
    assert str(spread) == str(serial)


def test_a_failure_that_does_not_come_back_is_called_nondeterministic() -> None:
    report = check(SweepLab(WorkerOnly), name="test_never_late_A", seeds=4, workers=2)
    failure = report.failures[0]
    assert failure.kind == "nondeterministic"
    assert failure.summary == "seed 1 failed in a worker process but passed when run again"


@pytest.mark.parametrize("workers", [0, -2, 1.5, True, "4"])
def test_a_bad_number_of_workers_is_refused(workers: object) -> None:
    with pytest.raises(ValueError, match="workers is a number of processes, at least 1"):
        check(SweepLab(), seeds=2, workers=workers)


def test_a_dask_cluster_gives_exactly_the_serial_results() -> None:
    """The same sweep as tasks of a local Dask cluster (two worker processes): the same
    seeds run, the same first failures, whichever Dask worker ran them."""
    distributed = pytest.importorskip("distributed")
    from distlab.compute.dask_engine import dask_cluster

    serial = check(SweepLab(), seeds=30, timing=False)
    with dask_cluster(workers=2) as client, distributed.get_task_stream(client) as tasks:
        spread = check(SweepLab(), seeds=30, timing=False, engine=client)
    assert outcome(spread) == outcome(serial)
    chunks = [task for task in tasks.data if "_run_shipped_chunk" in str(task["key"])]
    assert len(chunks) >= 3 and len({task["worker"] for task in chunks}) == 2


def test_an_engine_that_is_not_a_dask_client_is_refused() -> None:
    with pytest.raises(TypeError, match="engine= takes a Dask distributed Client"):
        check(SweepLab(), seeds=2, engine="tcp://127.0.0.1:8786")
