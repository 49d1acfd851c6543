"""Running a lab's checks over many seeds, and replaying one run exactly.

`check` runs each chosen check over its seeds and returns a `Report`. A check stops at its
first failing seed, as a test suite stops at its first failing assertion; the others still
run. The runs happen in a child process per check and are judged here, from the records they
send back (`distlab.grading.verdicts`): a student's code can neither change the verdict nor
end or hang the grading process. The next check's process starts while one check's runs
are judged (`run_checks`), so that two cores work; with ``workers=4``, four processes share
the seeds, with the same results (`distlab.grading.sweep`). Because every random choice comes
from the seed, `replay` re-runs a failing seed event for event -- in this process, to be
looked at and stepped through (`distlab.grading.runs` is one run).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from distlab.check.progress import Progress
from distlab.grading.determinism import FreshRuns, compare_first_seed
from distlab.grading.isolation import MEMORY_LIMIT, Child
from distlab.grading.lab import Check, Lab, Trial, as_lab
from distlab.grading.progress import lab_name, record_parts, should_record
from distlab.grading.report import Report
from distlab.grading.results import CheckResult
from distlab.grading.runs import TrialRun, prepare, run_once
from distlab.grading.sweep import sweep, workers_count
from distlab.grading.verdicts import graded_runs, start_runs
from distlab.sim import Simulation
from distlab.sim.helpers import ipython_shell

__all__ = ["check", "prepare", "replay", "run_check", "run_checks", "run_once", "select",
           "seed_list"]


def check(lab: Lab | type[Lab], part: str | None = None, name: str | None = None,
          seeds: int | Iterable[int] | None = None, *, timing: bool = True,
          wall_limit: float | None = None, memory_limit: int | None = MEMORY_LIMIT,
          workers: int | None = 1, engine: Any = None) -> Report:
    """Run the checks of ``lab`` and return the `Report` (a table; failures explained).

    ``part`` ("A") or ``name`` ("test_one_client_A") choose which checks run; ``seeds`` is a
    number of seeds (1, 2, ... n) for every check, or the list of seeds to run, instead of each
    check's own number. ``timing=False`` leaves out the wall-clock column, so that the report
    is the same on every run (committed notebooks use it: nbval compares their output).
    ``wall_limit`` (seconds of real time per run) overrides the scenarios' own; a run that
    does not stop when interrupted is killed a little later. ``memory_limit`` is how many
    bytes a check's process may allocate (2 GB; None for no cap). The first seed of each
    simulated check also runs in a fresh Python process, and must give the same trace there
    (`distlab.grading.determinism`).

    ``workers`` processes share the seeds (None: one per core), for the many seeds that catch
    rare bugs: ``check(lab, seeds=500, workers=None)``. The report is the one a serial run
    gives, the same seeds run and the same first failures (`distlab.grading.sweep`); a bar
    shows how many seeds have run. ``engine=`` a Dask distributed client runs them on its
    cluster instead, as many at once as it has worker threads (``workers`` is then not used):
    ``check(lab, seeds=500, engine=Client("tcp://scheduler:8786"))``.

    In Jupyter the report shows itself as the cell's result; elsewhere it is also printed.
    There, a run of whole parts with their own seeds also notes which parts passed, for the
    study plan's progress view (`distlab.grading.progress`).
    """
    lab = as_lab(lab)
    chosen = select(lab, part, name)
    workers = workers_count(workers)
    each = {c.name: seed_list(seeds, c.seeds) for c in chosen}
    progress = Progress(f"{lab.describe()}: {len(chosen)} check{'s' * (len(chosen) != 1)}")
    fresh = FreshRuns.start([(c, each[c.name][0]) for c in chosen], wall_limit, memory_limit)
    try:
        if workers > 1 or engine is not None:
            results = sweep(chosen, each, workers, wall_limit, memory_limit, progress, engine)
        else:
            results = run_checks(chosen, each, wall_limit, progress, memory_limit)
        if fresh is not None:  # it ran while the checks ran
            progress.update("comparing the first seeds with their runs in a fresh process")
            for result in results:
                compare_first_seed(result, fresh)
    finally:
        progress.close()
        if fresh is not None:
            fresh.close()
    report = Report(lab.describe(), results, timing)
    if name is None and seeds is None and should_record() and lab_name(lab):
        parts = {c.part for c in chosen}
        record_parts(lab_name(lab), {p: all(r.passed for r in results if r.check.part == p)
                                     for p in parts})
    if ipython_shell() is None:  # IPython shows the returned report by itself
        print(report)
    return report


def run_checks(checks: list[Check], seeds: dict[str, list[int]], wall_limit: float | None,
               progress: Progress | None, memory_limit: int | None) -> list[CheckResult]:
    """`run_check` of each check in turn, over ``seeds[c.name]``, each check's runs started
    ahead: while the grader judges the runs of one check, the child process of the next is
    already running its seeds (`distlab.grading.verdicts.start_runs`), on the other core.

    Within a check, the child runs the next seed while the grader judges one; between two
    checks nothing would overlap, and an exploration (a `Trial` that runs for seconds in its
    child, and that the grader only waits for) would leave the grader idle. The results are
    those of running the checks one after the other: each check's runs and verdicts depend on
    its seeds alone.
    """
    results: list[CheckResult] = []
    ahead: Child | None = None
    try:
        for i, c in enumerate(checks):
            child = ahead or start_runs(c, seeds[c.name], wall_limit, memory_limit)
            ahead = None
            if i + 1 < len(checks):
                following = checks[i + 1]
                ahead = start_runs(following, seeds[following.name], wall_limit, memory_limit)
            results.append(run_check(c, seeds[c.name], wall_limit, progress,
                                     memory_limit=memory_limit, child=child))
    finally:
        if ahead is not None:  # (the grading was interrupted)
            ahead.stop()
    return results


def run_check(c: Check, seeds: int | Iterable[int] | None = None,
              wall_limit: float | None = None, progress: Progress | None = None, *,
              memory_limit: int | None = MEMORY_LIMIT, child: Child | None = None
              ) -> CheckResult:
    """Run one check over its seeds in a child process, stopping at the first failure
    (``child``: one that `distlab.grading.verdicts.start_runs` started for these seeds)."""
    chosen = seed_list(seeds, c.seeds)
    result = CheckResult(c, 0, len(chosen), 0.0, 0, 0.0)
    began = time.perf_counter()
    if progress is not None:
        progress.update(f"running {c.name}, seed {chosen[0]} (1 of {len(chosen)})")
    runs = graded_runs(c, chosen, wall_limit, memory_limit, child=child)
    for n, (seed, sim, failure) in enumerate(runs, start=1):
        result.real = result.real or isinstance(sim, TrialRun)
        result.seeds_run += 1
        result.simulated_ms += sim.now
        result.messages += sim.trace.counts().get("send", 0)
        if n == 1 and failure is None and not result.real:
            result.first_run = sim
        if failure is not None:
            result.failure = failure
        elif progress is not None and n < len(chosen):
            progress.update(f"running {c.name}, seed {chosen[n]} ({n + 1} of {len(chosen)})")
    result.wall_seconds = time.perf_counter() - began
    return result


def replay(check_method: object, seed: int, *, run: bool = True,
           wall_limit: float | None = None) -> Simulation:
    """Re-run exactly the run of ``lab.test_x`` with ``seed``, and return its `Simulation`.

    The run stops where the check stopped it (at a violated invariant, say), so its
    ``trace`` ends with what went wrong: draw it (``spacetime(sim.trace)``) or read it
    (``sim.trace.format(last=20)``). A line says how the run ended. With ``run=False`` the
    nodes are created but nothing has run, and no property is watched: step it yourself, or
    explore it, ``Explorer(lambda seed: replay(lab.test_x, seed, run=False), seed=3)``.
    """
    c = Check.of(check_method)
    if not run:
        scenario = c.scenario(seed)
        if isinstance(scenario, Trial):
            raise TypeError(f"{c.name} runs real code (sockets), not a simulation: there is "
                            f"nothing to step; replay(lab.{c.name}, seed={seed}) runs it again")
        return prepare(scenario, seed, judged=False)[0]
    sim, failure = run_once(c, seed, wall_limit)
    print(f"{c.name}, seed {seed}: " + ("every property held" if failure is None
                                        else failure.summary))
    return sim


def select(lab: Lab, part: str | None = None, name: str | None = None) -> list[Check]:
    """The checks of ``lab`` in ``part`` and/or called ``name`` (all of them by default)."""
    checks = lab.checks()
    if not checks:
        raise ValueError(f"{lab.describe()} has no checks: mark its check methods with "
                         f"@graded(part=..., description=...)")
    if part is not None:
        parts = sorted({c.part for c in checks})
        if part not in parts:
            raise ValueError(f"{lab.describe()} has no part {part!r}; its parts are "
                             f"{', '.join(parts)}")
        checks = [c for c in checks if c.part == part]
    if name is not None:
        named = [c for c in checks if c.name == name]
        if not named:
            raise ValueError(f"no check named {name!r}" + (f" in part {part}" if part else "")
                             + f"; the checks are: {', '.join(c.name for c in checks)}")
        checks = named
    return checks


def seed_list(seeds: int | Iterable[int] | None, default: int) -> list[int]:
    """The seeds to run: 1..``default``, 1..``seeds`` for a number, or the seeds given."""
    if seeds is None:
        return list(range(1, default + 1))
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"seeds must be at least 1, got {seeds}")
        return list(range(1, seeds + 1))
    chosen = list(seeds)
    if not chosen or not all(isinstance(s, int) and not isinstance(s, bool) for s in chosen):
        raise ValueError(f"seeds is a number of seeds or a list of int seeds; got {seeds!r}")
    return chosen

