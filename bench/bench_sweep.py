"""Do more workers make a many-seed run faster? Lab 4A's randomized checks, serial versus swept.

The reference solution of lab 4 part A (loaded from its notebook) runs its randomized checks
over `SEEDS` seeds each: once one check after the other in this process's children (what
``check(lab, seeds=...)`` does), and once spread over `WORKERS` worker processes
(`distlab.grading.sweep`, what ``workers=`` does), and once as the tasks of a local Dask
cluster of as many worker processes (what ``engine=`` does, when Dask is installed). All must
give the same results (asserted); the wall times and ratios are printed, with the speed-up
projected to larger machines from the parallel efficiency measured here (the serial time over
``cores x efficiency``: the chunks are independent, so the efficiency stays about the same
while there are several chunks per core). On a machine with two cores the ratio cannot pass
2; the runs' child processes and the judging share the same cores.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import sys
import time
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
        began = time.perf_counter()
        serial = [run_check(c, seeds, WALL_LIMIT) for c in checks]
        serial_s = time.perf_counter() - began
        began = time.perf_counter()
        swept = sweep(checks, {c.name: seeds for c in checks}, WORKERS, WALL_LIMIT, MEMORY_LIMIT)
        swept_s = time.perf_counter() - began
        on_dask, dask_s = dask_sweep(checks, seeds)
    same = [(r.seeds_run, r.passed, r.messages) for r in serial]
    assert same == [(r.seeds_run, r.passed, r.messages) for r in swept]
    runs = len(checks) * SEEDS
    print(f"lab 4A, {len(checks)} checks x {SEEDS} seeds = {runs} runs: serial {serial_s:.1f} s, "
          f"{WORKERS} workers {swept_s:.1f} s")
    print(f"sweep_speedup={serial_s / swept_s:.2f} (workers={WORKERS}, cores={os.cpu_count()})")
    if on_dask is not None:
        assert same == [(r.seeds_run, r.passed, r.messages) for r in on_dask]
        print(f"dask_speedup={serial_s / dask_s:.2f} (a local Dask cluster of {WORKERS} "
              f"workers: {dask_s:.1f} s, its start included)")
    efficiency = serial_s / swept_s / WORKERS
    print("projected: " + ", ".join(f"{cores} cores {serial_s / (cores * efficiency):.1f} s"
                                    for cores in (8, 32, 128)))


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
