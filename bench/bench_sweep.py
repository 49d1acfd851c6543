"""Do more workers make a many-seed run faster? Lab 4A's randomized checks, serial versus swept.

The reference solution of lab 4 part A (loaded from its notebook) runs its randomized checks
over `SEEDS` seeds each: once one check after the other in this process's children (what
``check(lab, seeds=...)`` does), and once spread over `WORKERS` worker processes
(`distlab.grading.sweep`, what ``workers=`` does). Both must give the same results (asserted);
the wall times and their ratio are printed. On a machine with two cores the ratio cannot pass
2; the runs' child processes and the judging share the same cores.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from pathlib import Path

SEEDS = 60
WORKERS = min(4, os.cpu_count() or 1)


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
        serial = [run_check(c, seeds) for c in checks]
        serial_s = time.perf_counter() - began
        began = time.perf_counter()
        swept = sweep(checks, {c.name: seeds for c in checks}, WORKERS, None, MEMORY_LIMIT)
        swept_s = time.perf_counter() - began
    assert [(r.seeds_run, r.passed, r.messages) for r in serial] == \
        [(r.seeds_run, r.passed, r.messages) for r in swept]
    runs = len(checks) * SEEDS
    print(f"lab 4A, {len(checks)} checks x {SEEDS} seeds = {runs} runs: serial {serial_s:.1f} s, "
          f"{WORKERS} workers {swept_s:.1f} s")
    print(f"sweep_speedup={serial_s / swept_s:.2f} (workers={WORKERS}, cores={os.cpu_count()})")


if __name__ == "__main__":
    main()
