"""Do more workers make a many-seed run faster? Lab 4A's randomized checks, serial versus swept.

The reference solution of lab 4 part A (loaded from its notebook) runs its randomized checks
over `SEEDS` seeds each: once one check after the other (what ``check(lab, seeds=...)`` does),
once spread over `WORKERS` worker processes (`distlab.grading.sweep`, what ``workers=`` does),
and once as the tasks of a local Dask cluster of as many worker processes (what ``engine=``
does, when Dask is installed). All must give the same results (asserted).

Wall times alone mislead on a small machine: a serial run is already two processes at work,
the student's code in a child and the judging in the grader, so on two cores it keeps both
busy and a sweep cannot beat it there. So each mode's CPU seconds (its own and its children's)
are measured too: CPU over wall says how many cores a mode keeps busy, and the CPU a sweep
spends against the serial run's says what splitting costs. A machine with more cores than a
serial run can use gives a sweep of W workers up to 2W busy processes; the projection divides
the sweep's CPU by the cores, at the utilisation measured here.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

SEEDS = 60
WORKERS = min(4, os.cpu_count() or 1)
#: seconds of real time a run may take: generous, so that a busy machine does not fail a run
#: in one mode and not in the other (the results are compared)
WALL_LIMIT = 60.0


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "labs"))
    from distlab.grading.isolation import MEMORY_LIMIT
    from distlab.grading.runner import run_check
    from distlab.grading.sweep import sweep
    from distlab.labs.lab04_raft import RaftLab

    from notebook_code import solution

    lab = RaftLab(solution("lab04-raft").RaftNode)
    checks = [c for c in lab.checks() if c.part == "A" and c.seeds > 1]
    seeds = list(range(1, SEEDS + 1))
    with contextlib.redirect_stdout(io.StringIO()):
        serial, serial_s, serial_cpu = timed(lambda: [run_check(c, seeds, WALL_LIMIT)
                                                      for c in checks])
        swept, swept_s, swept_cpu = timed(lambda: sweep(
            checks, {c.name: seeds for c in checks}, WORKERS, WALL_LIMIT, MEMORY_LIMIT))
        on_dask, dask_s = dask_sweep(checks, seeds)
    same = [(r.seeds_run, r.passed, r.messages) for r in serial]
    assert same == [(r.seeds_run, r.passed, r.messages) for r in swept]
    runs = len(checks) * SEEDS
    cores = os.cpu_count() or 1
    print(f"lab 4A, {len(checks)} checks x {SEEDS} seeds = {runs} runs: serial {serial_s:.1f} s "
          f"({serial_cpu:.1f} s CPU, {serial_cpu / serial_s:.1f} cores busy), {WORKERS} workers "
          f"{swept_s:.1f} s ({swept_cpu:.1f} s CPU, {swept_cpu / swept_s:.1f} cores busy)")
    print(f"sweep_speedup={serial_s / swept_s:.2f} (workers={WORKERS}, cores={os.cpu_count()})")
    if on_dask is not None:
        assert same == [(r.seeds_run, r.passed, r.messages) for r in on_dask]
        print(f"dask_speedup={serial_s / dask_s:.2f} (a local Dask cluster of {WORKERS} "
              f"workers: {dask_s:.1f} s, its start included)")
    # on a machine of n cores a sweep keeps min(n, 2 x workers) processes busy, at the
    # utilisation measured here; a serial run keeps at most the cores it kept busy here
    utilisation = swept_cpu / swept_s / min(cores, 2 * WORKERS)
    print(f"sweep_cpu_overhead={swept_cpu / serial_cpu:.2f} (CPU of the sweep over the serial "
          f"run's), utilisation={utilisation:.2f}")
    print("projected speed-up over the serial run: " + ", ".join(
        f"{n} cores {serial_s / (swept_cpu / (n * utilisation)):.1f}x" for n in (8, 32, 128)))


def timed(run: Callable[[], list]) -> tuple[list, float, float]:
    """``run()``'s result, its wall seconds and the CPU seconds of this process and its children
    (every child process of a mode has been waited for when it returns)."""
    before = _cpu()
    began = time.perf_counter()
    result = run()
    return result, time.perf_counter() - began, _cpu() - before


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def dask_sweep(checks: list, seeds: list[int]) -> tuple[list | None, float]:
    """The same sweep on a local Dask cluster: its results and wall time (None: no Dask)."""
    if importlib.util.find_spec("distributed") is None:
        return None, 0.0
    from distlab.compute.dask_engine import dask_cluster
    from distlab.grading.isolation import MEMORY_LIMIT
    from distlab.grading.sweep import sweep

    began = time.perf_counter()
    with dask_cluster(workers=WORKERS) as client:
        results = sweep(checks, {c.name: seeds for c in checks}, WORKERS, WALL_LIMIT, MEMORY_LIMIT,
                        engine=client)
    return results, time.perf_counter() - began


if __name__ == "__main__":
    main()
