"""Running a lab's checks over many seeds, and replaying one run exactly.

For every seed a check gets a fresh `Simulation(seed=seed)`: the scenario's ``setup`` runs as
its first event (so even a node's ``__init__`` is bounded), the properties start watching,
and the run goes on for ``run_for`` simulated milliseconds under an event budget and a
wall-clock limit. A check stops at its first failing seed, as a test suite stops at its
first failing assertion; the others still run. Because every random choice comes from the
seed, `replay` re-runs a failing seed event for event.

A check that returns a `Trial` runs real code instead (sockets on loopback): its body runs
in a worker thread under a real-time limit, and it is judged by what the body returns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from distlab.grading.explain import Failure, _not_implemented, explain, your_code
from distlab.grading.lab import Check, Lab, Scenario, Trial, as_lab
from distlab.grading.properties import Judge, PropertyViolated, Violation, start
from distlab.grading.report import Progress, Report
from distlab.grading.results import CheckResult
from distlab.sim import Simulation
from distlab.sim.helpers import ipython_shell


def check(lab: Lab | type[Lab], part: str | None = None, name: str | None = None,
          seeds: int | Iterable[int] | None = None, *, timing: bool = True,
          wall_limit: float | None = None) -> Report:
    """Run the checks of ``lab`` and return the `Report` (a table; failures explained).

    ``part`` ("A") or ``name`` ("test_one_client_A") choose which checks run; ``seeds`` is a
    number of seeds (1, 2, ... n) for every check, or the list of seeds to run, instead of each
    check's own number. ``timing=False`` leaves out the wall-clock column, so that the report
    is the same on every run (committed notebooks use it: nbval compares their output).
    ``wall_limit`` (seconds of real time per run) overrides the scenarios' own.

    In Jupyter the report shows itself as the cell's result; elsewhere it is also printed.
    """
    lab = as_lab(lab)
    chosen = select(lab, part, name)
    progress = Progress(f"{lab.describe()}: {len(chosen)} check{'s' * (len(chosen) != 1)}")
    results = []
    try:
        for c in chosen:
            results.append(run_check(c, seeds, wall_limit, progress))
    finally:
        progress.close()
    report = Report(lab.describe(), results, timing)
    if ipython_shell() is None:  # IPython shows the returned report by itself
        print(report)
    return report


def run_check(c: Check, seeds: int | Iterable[int] | None = None,
              wall_limit: float | None = None, progress: Progress | None = None) -> CheckResult:
    """Run one check over its seeds, stopping at the first failure."""
    chosen = seed_list(seeds, c.seeds)
    result = CheckResult(c, 0, len(chosen), 0.0, 0, 0.0)
    for n, seed in enumerate(chosen, start=1):
        if progress is not None:
            progress.update(f"running {c.name}, seed {seed} ({n} of {len(chosen)})")
        began = time.perf_counter()
        sim, failure = run_once(c, seed, wall_limit)
        result.wall_seconds += time.perf_counter() - began
        result.real = result.real or isinstance(sim, _TrialRun)
        result.seeds_run += 1
        result.simulated_ms += sim.now
        result.messages += sim.trace.counts().get("send", 0)
        if failure is not None:
            result.failure = failure
            break
    return result


def run_once(c: Check, seed: int, wall_limit: float | None = None
             ) -> tuple[Simulation, Failure | None]:
    """One run of check ``c`` with ``seed``: the simulation, and its failure or None."""
    sim = Simulation(seed=seed)
    try:
        scenario = c.scenario(seed)
        if isinstance(scenario, Trial):
            sim = _TrialRun(seed=seed)
            return sim, run_trial(scenario, c, seed, sim, wall_limit)
        sim, judges = prepare(scenario, seed, judged=True)
        sim.run(until=scenario.run_for, wall_limit=wall_limit or scenario.wall_limit)
        for judge in judges:
            violation = judge()
            if violation is not None:
                raise PropertyViolated(violation)
    except Exception as exc:  # every way student code can fail becomes a report line
        return sim, explain(exc, c, seed, sim)
    return sim, None


class _TrialRun(Simulation):
    """The (empty) simulation that stands for a real run in a report: it has no events."""


def run_trial(trial: Trial, c: Check, seed: int, sim: Simulation,
              wall_limit: float | None = None) -> Failure | None:
    """Run a `Trial`'s body in a worker thread under its time limit; its failure or None."""
    limit = wall_limit or trial.time_limit
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            outcome["violation"] = trial.body()
        except BaseException as exc:  # reported below, in the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=work, daemon=True, name=f"distlab-trial:{c.name}")
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        return Failure(c.name, c.description, seed, "time limit",
                       f"stopped: the check did not finish within {limit:g} s of real time",
                       "A call that never returns? Give every socket a timeout "
                       "(sock.settimeout(...)), and every retry loop an end.", 0.0, sim)
    error = outcome.get("error")
    violation = outcome.get("violation")
    if isinstance(error, PropertyViolated):
        error, violation = None, error.violation
    if isinstance(error, BaseException):
        where = your_code(error)
        if _not_implemented(error):
            name = where.function if where is not None else "(unknown)"
            return Failure(c.name, c.description, seed, "not implemented",
                           f"not implemented yet: {name}", "", 0.0, sim, where=where)
        return Failure(c.name, c.description, seed, "exception",
                       f"raised {type(error).__name__}: {error}",
                       f"{type(error).__name__} while the check ran your code for real",
                       0.0, sim, where=where)
    if violation is None:
        return None
    if not isinstance(violation, Violation):
        return Failure(c.name, c.description, seed, "exception",
                       f"the check's body returned {violation!r}",
                       "a Trial's body returns None (passed) or a Violation", 0.0, sim)
    return explain(PropertyViolated(violation), c, seed, sim)


def prepare(scenario: Scenario, seed: int, judged: bool) -> tuple[Simulation, list[Judge]]:
    """A simulation of ``scenario`` with ``seed``, ready to run, and the judges of its properties.

    When ``judged``, the setup and the start of every property are the run's first event, so
    that the wall-clock limit bounds the students' ``__init__`` too. Otherwise (for stepping
    by hand) the setup is done at once, and there are no judges. Either way the run that
    follows is the same, event for event.
    """
    sim = Simulation(seed=seed, network=scenario.network, max_events=scenario.max_events)
    judges: list[Judge] = []
    if not judged:
        scenario.setup(sim)
        return sim, judges

    def set_up(sim: Simulation) -> None:
        scenario.setup(sim)
        judges.extend(start(prop, sim) for prop in scenario.properties)

    sim.at(0, set_up, sim)
    return sim, judges


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

