"""How long does lab 4's whole suite take for the reference solution? One line per part.

The reference solution of lab 4 (loaded from its notebook) is checked part by part, as a
student's check cells do (`check(RaftLab(RaftNode), part=...)`), and each part's wall time and
CPU time (this process and its children: the graded runs happen in child processes) are
printed, then the total. On a busy machine wall time also counts waiting for a core; the CPU
time is what the suite costs. ``--workers 2`` shares each part's seeds between two processes
(`check(..., workers=2)`, the "run it 500 times" mode): the same runs, over both cores.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
from pathlib import Path


def _cpu() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1,
                        help="processes that share each part's seeds (default 1)")
    workers = parser.parse_args().workers
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "labs"))
    from distlab.grading import check
    from distlab.labs.lab04_raft import RaftLab

    from notebook_code import solution

    lab = RaftLab(solution("lab04-raft").RaftNode)
    parts = sorted({c.part for c in lab.checks()})
    total_wall = total_cpu = 0.0
    for part in parts:
        wall, cpu = time.perf_counter(), _cpu()
        with contextlib.redirect_stdout(io.StringIO()):
            report = check(lab, part=part, timing=False, workers=workers)
        wall, cpu = time.perf_counter() - wall, _cpu() - cpu
        total_wall, total_cpu = total_wall + wall, total_cpu + cpu
        runs = sum(r.seeds_run for r in report.results)
        print(f"lab 4 part {part}: {len(report.results):2d} checks, {runs:3d} runs, "
              f"{'passed' if report.passed else 'FAILED'}  wall {wall:6.2f} s  cpu {cpu:6.2f} s")
    print(f"lab 4 parts {'+'.join(parts)}: wall {total_wall:.2f} s  cpu {total_cpu:.2f} s"
          + (f"  ({workers} workers)" if workers > 1 else ""))


if __name__ == "__main__":
    main()
