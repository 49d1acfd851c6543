"""What do isolated graded runs cost? Lab 2a's full check, graded versus judged in-process.

The reference solution of lab 2a (loaded from its notebook) is checked by `check` -- each
check's seeds in a child process, judged in this one from the records they send -- and, as
the peer, by the same runs judged in this process (`run_once`, what `check` did before runs
were isolated). The rounds take turns; the best of each is printed, in wall time and in CPU
time (this process and its children: on a busy machine wall time also counts waiting for a
core, and the child and the grader can use two cores at once). The fresh interpreter of the
determinism check is kept between checks: its start (a quarter of a second of CPU) falls in
the first round, and what it spends later is not counted (it is not a finished child).
Then the determinism check's comparison of each check's first seed with its fresh run, against
its peer, the same fresh runs judged again (as the grader did before).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from pathlib import Path

ROUNDS = 3


def _cpu() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _measure(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), _cpu()
    with contextlib.redirect_stdout(io.StringIO()):
        fn()
    return time.perf_counter() - wall, _cpu() - cpu


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "labs"))
    from distlab.grading import check
    from distlab.grading.runner import run_once, seed_list
    from distlab.labs.lab02a_ordered_chat import OrderedChatLab

    from notebook_code import solution

    chat = solution("lab02a-ordered-chat")
    lab = OrderedChatLab(chat.ChatMember, chat.OrderedChatMember)

    def in_process() -> None:
        for c in lab.checks():
            for seed in seed_list(None, c.seeds):
                assert run_once(c, seed)[1] is None

    def graded() -> None:
        assert check(lab, timing=False).passed

    best: dict[str, tuple[float, float]] = {}
    for _ in range(ROUNDS):
        for name, fn in (("in_process", in_process), ("graded", graded)):
            wall, cpu = _measure(fn)
            old = best.get(name, (float("inf"), float("inf")))
            best[name] = (min(old[0], wall), min(old[1], cpu))
    for name, (wall, cpu) in best.items():
        print(f"lab 2a full check, {name:10}  wall {wall:.2f} s  cpu {cpu:.2f} s")
    print(f"grading_ratio_wall={best['graded'][0] / best['in_process'][0]:.2f} "
          f"grading_ratio_cpu={best['graded'][1] / best['in_process'][1]:.2f}")
    _determinism_comparison(lab)


def _determinism_comparison(lab) -> None:
    """The grader's comparison of each check's first seed with its fresh run: `compare`
    (traces compared as data, the fresh run judged only if they differ) against its peer,
    judging the fresh run's record and comparing the traces as text, as it was done before.
    A frame made here stands for the fresh interpreter's (the same run)."""
    from distlab.grading.determinism import _lines, compare
    from distlab.grading.verdicts import judge_seed, report_seed

    runs = []
    for c in lab.checks():
        frame = report_seed(c, 1, None, None, io.StringIO())[0]
        here, failure = judge_seed(c, 1, c.scenario(1), frame)
        assert failure is None
        runs.append((c, here, frame))

    def new() -> None:
        for c, here, frame in runs:
            assert compare(c, 1, here, frame) is None

    def old() -> None:
        for c, here, frame in runs:
            there, _ = judge_seed(c, 1, c.scenario(1), frame)
            assert _lines(here) == _lines(there)

    def cpu(fn) -> float:  # this process only, finer than os.times
        began = time.process_time()
        fn()
        return time.process_time() - began

    best = {name: min(cpu(fn) for _ in range(ROUNDS))
            for name, fn in (("compare", new), ("judge_again", old))}
    print(f"determinism comparison of lab 2a's first seeds: compare {best['compare'] * 1e3:.1f} "
          f"ms cpu, judging the fresh runs again {best['judge_again'] * 1e3:.1f} ms cpu; "
          f"determinism_ratio_cpu={best['compare'] / best['judge_again']:.2f}")


if __name__ == "__main__":
    main()
