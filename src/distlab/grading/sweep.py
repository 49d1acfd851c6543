"""Many seeds on every core: ``check(lab, seeds=500, workers=4)``.

A rare bug (a vote counted twice in one timing out of two hundred) needs hundreds of seeds to
show. Run one after the other, 500 seeds of a lab take minutes; `sweep` spreads them over
``workers`` processes, and gives exactly the results of the serial run: for each check the
same seeds run, the same first failing seed, the same totals.

How the verdicts stay exact. A check's seeds are cut into chunks, in order; each chunk is run
by a worker process as the serial runner runs a check (`distlab.grading.verdicts.graded_runs`:
a child process for the student's code, the verdict reached outside it), up to its own first
failure. The check's first failure is the failing seed that comes first in the check's list;
every chunk that starts before it has run (a chunk is skipped only when it starts after a
failure already found), so the seeds before it all ran and passed, as in a serial run. The
worker sends back plain numbers per seed; the grader then runs the failing seed once more
itself, to have the failure with its run for the report (the run is determined by its seed;
if it now passes, the code is not deterministic, and the failure says so).

The workers are forks of the grader, made before any chunk runs; like the grader, they never
run the student's code themselves, only judge it.

With ``engine=`` a Dask distributed client (`distlab.compute.dask_cluster` starts one on this
machine; a department's cluster is reached by its scheduler's address), the chunks run as Dask
tasks instead, on as many at once as the cluster has worker threads: the checks are pickled
(in a child, as for the determinism check) and sent with each chunk, and a Dask worker runs a
chunk as a local worker does, the student's code in a child process of its own. The results
are the same, chunk for chunk; the cluster's workers need distlab installed, in the same
version.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import pickle
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from distlab.check.progress import Progress
from distlab.grading.explain import Failure
from distlab.grading.isolation import pickled_in_child
from distlab.grading.lab import Check
from distlab.grading.results import CheckResult
from distlab.grading.runs import TrialRun
from distlab.grading.verdicts import graded_runs
from distlab.sim import Simulation

#: how many chunks each worker gets of a check's seeds, about (more: faster to stop after a
#: failure and smoother progress; fewer: fewer processes started)
CHUNKS_PER_WORKER = 4

#: the checks of the sweep under way, set before the workers are forked (they inherit it)
_CHECKS: list[Check] = []


@dataclass(frozen=True)
class SeedOutcome:
    """What a worker sends back about one seed: plain numbers, no run."""

    seed: int
    failed: bool
    simulated_ms: float
    messages: int
    real: bool


@dataclass
class _Progress:
    """One check's state in the sweep: its chunks, what came back, its first failure."""

    seeds: list[int]
    chunks: list[list[int]]
    outcomes: dict[int, SeedOutcome] = field(default_factory=dict)
    first_failure: int | None = None  # an index into seeds
    work_seconds: float = 0.0

    def record(self, outcomes: list[SeedOutcome]) -> None:
        position = {seed: i for i, seed in enumerate(self.seeds)}
        for outcome in outcomes:
            self.outcomes[outcome.seed] = outcome
            if outcome.failed:
                index = position[outcome.seed]
                if self.first_failure is None or index < self.first_failure:
                    self.first_failure = index

    def wanted(self, chunk: list[int]) -> bool:
        """Whether ``chunk`` can still change the result: it starts before the first failure."""
        return self.first_failure is None or self.seeds.index(chunk[0]) < self.first_failure


def workers_count(workers: int | None) -> int:
    """``workers`` checked: a number of processes, at least 1 (None: one per core)."""
    if workers is None:
        return os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers is a number of processes, at least 1 (or None for one per "
                         f"core); got {workers!r}")
    return workers


def engine_workers(engine: Any) -> int:
    """How many tasks a Dask client's cluster runs at once (its workers' threads); a clear
    error for anything that is not a Dask client."""
    if not (callable(getattr(engine, "get_executor", None))
            and callable(getattr(engine, "scheduler_info", None))):
        raise TypeError(f"engine= takes a Dask distributed Client (distlab.compute.dask_cluster"
                        f"() starts one on this machine; Client('tcp://host:8786') reaches a "
                        f"cluster); got {engine!r}")
    threads = sum(w.get("nthreads", 1)
                  for w in engine.scheduler_info(n_workers=-1)["workers"].values())
    if threads < 1:
        raise ValueError("the Dask cluster of engine= has no worker: start some, or wait for "
                         "them to join (client.wait_for_workers(n))")
    return threads


def sweep(checks: list[Check], seeds: dict[str, list[int]], workers: int,
          wall_limit: float | None, memory_limit: int | None,
          progress: Progress | None = None, engine: Any = None) -> list[CheckResult]:
    """Run ``seeds[c.name]`` of each check over ``workers`` processes, or over the Dask
    cluster of ``engine`` (see the module)."""
    if engine is not None:
        workers = engine_workers(engine)
    states = {c.name: _Progress(seeds[c.name], _chunks(seeds[c.name], workers))
              for c in checks}
    queue = [(i, chunk) for i, c in enumerate(checks) for chunk in states[c.name].chunks]
    total = sum(len(s) for s in seeds.values())
    running: dict[Future, tuple[int, list[int]]] = {}
    with _submitter(checks, workers, engine) as submit:
        while queue or running:
            while queue and len(running) < workers:
                index, chunk = queue.pop(0)
                if states[checks[index].name].wanted(chunk):
                    running[submit(index, chunk, wall_limit, memory_limit)] = (index, chunk)
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                index, _chunk = running.pop(future)
                outcomes, seconds = future.result()
                state = states[checks[index].name]
                state.record(outcomes)
                state.work_seconds += seconds
            if progress is not None:
                progress.update(_progress_line(checks, states, total, workers))
    return [_result(c, states[c.name], wall_limit, memory_limit) for c in checks]


@contextmanager
def _submitter(checks: list[Check], workers: int,
               engine: Any) -> Iterator[Callable[..., Future]]:
    """A function that starts one chunk, ``submit(index, chunk, wall_limit, memory_limit)``,
    on ``workers`` forked processes, or as a task of the Dask client ``engine``."""
    if engine is None:
        _CHECKS[:] = checks
        try:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                yield lambda *args: pool.submit(_run_chunk, *args)
        finally:
            _CHECKS.clear()
        return
    shipped, why = pickled_in_child(checks)
    if shipped is None:
        raise ValueError(f"the lab could not be sent to the Dask cluster ({why}): its classes "
                         f"must be picklable by cloudpickle")
    pool = engine.get_executor(pure=False)
    try:
        yield lambda *args: pool.submit(_run_shipped_chunk, shipped, *args)
    finally:
        pool.shutdown(wait=False)


def _chunks(seeds: list[int], workers: int) -> list[list[int]]:
    """``seeds`` cut in order into about `CHUNKS_PER_WORKER` chunks per worker."""
    size = max(1, math.ceil(len(seeds) / (workers * CHUNKS_PER_WORKER)))
    return [seeds[i:i + size] for i in range(0, len(seeds), size)]


def _run_chunk(index: int, seeds: list[int], wall_limit: float | None,
               memory_limit: int | None) -> tuple[list[SeedOutcome], float]:
    """In a forked worker: run ``seeds`` of check ``index`` as the serial runner does."""
    return _run_seeds(_CHECKS[index], seeds, wall_limit, memory_limit)


def _run_shipped_chunk(shipped: bytes, index: int, seeds: list[int],
                       wall_limit: float | None,
                       memory_limit: int | None) -> tuple[list[SeedOutcome], float]:
    """In a Dask worker: the same, the checks arriving pickled (cloudpickle's output loads
    with plain pickle once cloudpickle is installed, as it is wherever Dask is)."""
    return _run_seeds(pickle.loads(shipped)[index], seeds, wall_limit, memory_limit)


def _run_seeds(c: Check, seeds: list[int], wall_limit: float | None,
               memory_limit: int | None) -> tuple[list[SeedOutcome], float]:
    """Run ``seeds`` of ``c`` in a child process; plain numbers per seed, and the time."""
    began = time.perf_counter()
    outcomes = [SeedOutcome(seed, failure is not None, sim.now,
                            sim.trace.counts().get("send", 0), isinstance(sim, TrialRun))
                for seed, sim, failure in graded_runs(c, seeds, wall_limit, memory_limit)]
    return outcomes, time.perf_counter() - began


def _result(c: Check, state: _Progress, wall_limit: float | None,
            memory_limit: int | None) -> CheckResult:
    """The check's result as the serial runner would give it (see the module)."""
    last = len(state.seeds) if state.first_failure is None else state.first_failure + 1
    ran = [state.outcomes[seed] for seed in state.seeds[:last]]
    result = CheckResult(c, len(ran), len(state.seeds), sum(o.simulated_ms for o in ran),
                         sum(o.messages for o in ran), state.work_seconds,
                         real=any(o.real for o in ran))
    if state.first_failure is not None:
        result.failure = _failure_again(c, state.seeds[state.first_failure], wall_limit,
                                        memory_limit)
    elif not result.real:  # the first run, for the determinism check (as the serial runner)
        for _seed, sim, failure in graded_runs(c, state.seeds[:1], wall_limit, memory_limit):
            if failure is None:
                result.first_run = sim
    return result


def _failure_again(c: Check, seed: int, wall_limit: float | None,
                   memory_limit: int | None) -> Failure:
    """The failure of ``seed``, run again here to have its run (see the module)."""
    sim: Simulation | None = None
    for _seed, sim, failure in graded_runs(c, [seed], wall_limit, memory_limit):
        if failure is not None:
            return failure
    return Failure(c.name, c.description, seed, "nondeterministic",
                   f"seed {seed} failed in a worker process but passed when run again",
                   "The same seed must give the same run. Does your code read the clock "
                   "(time.time), use an unseeded random number generator, or iterate over a "
                   "set of strings (whose order changes from process to process)? Use "
                   "self.now and self.random instead.", 0.0,
                   sim if sim is not None else Simulation(seed=seed))


def _progress_line(checks: list[Check], states: dict[str, _Progress], total: int,
                   workers: int) -> str:
    done = sum(len(s.outcomes) for s in states.values())
    failing = [c.name for c in checks if states[c.name].first_failure is not None]
    bar = "#" * (20 * done // max(total, 1))
    line = f"[{bar:<20}] {done:,} of {total:,} seeds on {workers} workers"
    return line + (f"; failing: {', '.join(failing)}" if failing else "")

