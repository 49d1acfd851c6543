"""One run of a check, in this process: set up, run under its limits, judged as it goes.

For a seed, a check gets a fresh `Simulation(seed=seed)`: the scenario's ``setup`` runs as
its first event (so even a node's ``__init__`` is bounded), the properties start watching,
and the run goes on for ``run_for`` simulated milliseconds under an event budget and a
wall-clock limit. Because every random choice comes from the seed, the same seed gives the
same run: `distlab.grading.runner.replay` is this, in the notebook's process; a graded run is
this too, in a child process (`distlab.grading.verdicts`), with a `RunRecorder` attached.

A check that returns a `Trial` runs real code instead (sockets on loopback): its body runs
in a worker thread under a real-time limit, and it is judged by what the body observed.
"""

from __future__ import annotations

import threading

from distlab.grading.explain import Failure, _not_implemented, explain, your_code
from distlab.grading.lab import Check, Scenario, Trial
from distlab.grading.properties import AsksStudentCode, Judge, PropertyViolated, Violation, start
from distlab.grading.records import RunRecorder
from distlab.sim import Simulation


def run_once(c: Check, seed: int, wall_limit: float | None = None, *,
             recorder: RunRecorder | None = None) -> tuple[Simulation, Failure | None]:
    """One run of check ``c`` with ``seed``: the simulation, and its failure or None.

    ``recorder``, if given, records the run for a grader in another process, which judges
    it: then no property is judged here, and what the student's code answered (the
    observations of a `Trial`, the answers of each property that `AsksStudentCode`) goes into
    ``recorder.answers``. A ``sys.exit()`` in the run's code ends the run, not the process,
    and is its failure.
    """
    sim = Simulation(seed=seed)
    try:
        scenario = c.scenario(seed)
        if isinstance(scenario, Trial):
            sim = TrialRun(seed=seed)
            return sim, run_trial(scenario, c, seed, sim, wall_limit, recorder)
        if recorder is not None:
            recorder.attributes = c.node_attributes(scenario)
        sim, judges = prepare(scenario, seed, judged=True, recorder=recorder)
        sim.run(until=scenario.run_for, wall_limit=wall_limit or scenario.wall_limit)
        if recorder is not None:
            recorder.answers = [prop.ask(sim) for prop in scenario.properties
                                if isinstance(prop, AsksStudentCode)]
        for judge in judges:
            violation = judge()
            if violation is not None:
                raise PropertyViolated(violation)
    except (Exception, SystemExit) as exc:  # every way student code can fail: a report line
        return sim, explain(exc, c, seed, sim)
    return sim, None


class TrialRun(Simulation):
    """The (empty) simulation that stands for a real run in a report: it has no events."""

    #: a real run: the report says how to run it again, not how to replay it
    real = True


def run_trial(trial: Trial, c: Check, seed: int, sim: Simulation,
              wall_limit: float | None = None, recorder: RunRecorder | None = None
              ) -> Failure | None:
    """Run a `Trial`'s body in a worker thread under its time limit; its failure or None.

    With a ``recorder`` (a graded run) a trial that has a judge is not judged here: its
    observations go into ``recorder.answers``, for the grader's judge.
    """
    limit = wall_limit or trial.time_limit
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            outcome["observed"] = trial.body()
        except BaseException as exc:  # reported below, in the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=work, daemon=True, name=f"distlab-trial:{c.name}")
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        return Failure(c.name, c.description, seed, "time limit",
                       f"stopped: the check did not finish within {limit:g} s of real time",
                       trial.stuck_hint or "A call that never returns? Give every socket a "
                       "timeout (sock.settimeout(...)), and every retry loop an end.", 0.0, sim)
    error = outcome.get("error")
    if isinstance(error, PropertyViolated):
        return trial_verdict(c, seed, sim, error.violation)
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
    observed = outcome.get("observed")
    if trial.judge is None:
        return trial_verdict(c, seed, sim, observed)
    if recorder is not None:
        recorder.answers = observed
        return None
    return trial_verdict(c, seed, sim, trial.judge(observed))


def trial_verdict(c: Check, seed: int, sim: Simulation, verdict: object) -> Failure | None:
    """The failure that a `Trial`'s verdict (None, a `Violation` or a sentence) means."""
    if verdict is None:
        return None
    if isinstance(verdict, str):
        verdict = Violation(c.description, verdict, 0.0)
    if not isinstance(verdict, Violation):
        return Failure(c.name, c.description, seed, "exception",
                       f"the check's verdict was {verdict!r}",
                       "a Trial's judge (or, without one, its body) returns None (passed) or a "
                       "Violation", 0.0, sim)
    return explain(PropertyViolated(verdict), c, seed, sim)


def prepare(scenario: Scenario, seed: int, judged: bool, recorder: RunRecorder | None = None
            ) -> tuple[Simulation, list[Judge]]:
    """A simulation of ``scenario`` with ``seed``, ready to run, and the judges of its properties.

    When ``judged``, the setup and the start of every property are the run's first event, so
    that the wall-clock limit bounds the students' ``__init__`` too. Otherwise (for stepping
    by hand) the setup is done at once, and there are no judges. Either way the run that
    follows is the same, event for event.

    With a ``recorder`` (a graded run, judged by the grader from its record), the recorder is
    the simulation's first monitor, and no property is judged here: the grader judges them all.
    """
    sim = Simulation(seed=seed, network=scenario.network, max_events=scenario.max_events)
    judges: list[Judge] = []
    properties = scenario.properties
    if recorder is not None:
        recorder.attach(sim)
        properties = []
    if not judged:
        scenario.setup(sim)
        return sim, judges

    def set_up(sim: Simulation) -> None:
        scenario.setup(sim)
        judges.extend(start(prop, sim) for prop in properties)

    sim.at(0, set_up, sim)
    return sim, judges
