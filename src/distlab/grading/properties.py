"""What must hold of a run: the properties a lab check judges.

Four kinds, from the strongest guarantee to the weakest moment of checking:

* an `Invariant` (from `distlab.check.invariants`) must hold in *every* state: it is checked
  after every event, and the run stops at the first state that breaks it (safety);
* `Eventually` -- something must happen, by a deadline in simulated time (liveness, such as
  "a leader is elected within 5 s"), once or, with ``until_end=True``, for good ("the
  replicas agree, from some moment to the end of the run");
* `AtEnd` -- an invariant checked once, when the run is over ("the backup holds the same
  data as the primary");
* `Linearizable` and `EveryOperationCompletes` -- judgements of the clients' history.

Each property says what it means in words (``description``): that sentence is what a failure
report names as "the first violated property". A lab's own properties subclass
`TraceProperty`, the base of all but invariants: it gives every run a fresh `Run` -- a cursor
over the new trace events and a namespace for what the property remembers -- so one property
object judges any number of runs without carrying anything from one to the next. A
property that must call the student's own code subclasses `AsksStudentCode`: it asks in the
run's process and judges the answers, as data, in the grader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from distlab.check import check_linearizability
from distlab.check.invariants import Invariant, watch
from distlab.grading.records import MalformedRecord
from distlab.sim import Simulation, TraceEvent

#: a judge, called once after the run: None if the property held, else the `Violation`
Judge = Callable[[], "Violation | None"]


@dataclass(frozen=True)
class Violation:
    """A property that did not hold: which (in words), what went wrong, and when.

    ``picture``, when given, draws the problem (a linearizability violation draws the
    clients' operations with the one that cannot be placed in red). ``window``, when given,
    is the stretch of simulated time ``(start, end)`` where the problem lies, when that is not
    the run's end: the report shows the events and messages of that stretch.
    """

    description: str
    explanation: str
    time: float
    picture: Callable[[], Any] | None = None
    window: tuple[float, float] | None = None


class PropertyViolated(Exception):
    """Raised inside a run to stop it at the first violation (the harness catches it)."""

    def __init__(self, violation: Violation):
        super().__init__(f"{violation.description}: {violation.explanation}")
        self.violation = violation


class Run:
    """One run as a `TraceProperty` sees it: the simulation, a cursor over its trace, and
    ``state``, a blank namespace where the property keeps what it learns during this run.

    `TraceProperty.start` makes a new `Run` for every run, so nothing one run taught a
    property can leak into the next (a check runs the same property objects over 20 seeds).
    """

    def __init__(self, sim: Simulation):
        self.sim = sim
        self.state = SimpleNamespace()
        self.read = 0  # how many trace events `new_events` has returned so far

    def new_events(self) -> list[TraceEvent]:
        """The trace events recorded since the last call (all of them, the first time)."""
        trace = self.sim.trace
        if len(trace) == self.read:
            return []  # (often: a timer that was cancelled ran no code)
        events = trace[self.read:]
        self.read += len(events)
        return events


class TraceProperty:
    """Base class of every property that is not an `Invariant`: one way to write them all.

    A subclass says what it demands in ``description`` and overrides up to three methods,
    each given the `Run`:

    * ``begin(run)`` -- once the scenario is set up: put the run's memory in ``run.state``;
    * ``observe(run)`` -- after every event (only if the subclass defines it): read what
      changed (``run.new_events()``, the nodes in ``run.sim``) and return None, or what is
      wrong, which stops the run at once;
    * ``judge(run)`` -- once the run is over: None, or what is wrong.

    "What is wrong" is a sentence (the time of the violation is then the end of the run, or
    the event just observed) or a `Violation` (to give another time, or a picture).
    """

    description: str = ""

    def begin(self, run: Run) -> None:
        """Prepare ``run.state`` for a new run (nothing, unless overridden)."""

    def observe(self, run: Run) -> str | Violation | None:
        """After every event: None, or what is wrong (overridden by properties that watch)."""
        return None

    def judge(self, run: Run) -> str | Violation | None:
        """When the run is over: None, or what is wrong."""
        return None

    def violation(self, problem: str | Violation | None, sim: Simulation) -> Violation | None:
        """``problem`` as a `Violation` of this property (None stays None)."""
        if problem is None or isinstance(problem, Violation):
            return problem
        return Violation(self.description, problem, sim.now)

    def start(self, sim: Simulation) -> Judge:
        """Begin watching ``sim`` with fresh per-run state; return the judge of the run."""
        run = Run(sim)
        self.begin(run)
        # only a property that defines observe pays for a call after every event
        if type(self).observe is not TraceProperty.observe:
            def monitor(sim: Simulation) -> None:
                violation = self.violation(self.observe(run), sim)
                if violation is not None:
                    raise PropertyViolated(violation)

            monitor(sim)
            sim.add_monitor(monitor)
        return lambda: self.violation(self.judge(run), sim)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.description}>"


class AsksStudentCode(TraceProperty):
    """A property whose verdict needs answers from the student's own code, judged in two
    halves so that the student's code never decides it.

    Lab 2b's clock checks, for one, must call the student's ``VectorClock``: no record of
    the run holds what ``merge`` returns. So a subclass writes

    * ``ask(sim)`` -- once the run is over, in the run's process: put the questions to the
      student's code and return its answers as plain data (strings, numbers, tuples, lists,
      dicts; an object of another class crosses as a `distlab.sim.trace.Recorded` stand-in);
    * ``judge_answers(run, answers)`` -- in the grader, on those answers and the recorded run:
      None, or what is wrong. The answers come from the student's process: check their shape
      (`expect`), and compare them with what the run's trace says is true.

    Run in one process (`distlab.grading.replay`), ``judge`` is simply both halves in turn.
    """

    def ask(self, sim: Simulation) -> Any:
        """In the run's process, after the run: the student's answers, as plain data."""
        raise NotImplementedError(f"{type(self).__name__}.ask(sim) puts the questions to the "
                                  f"student's code")

    def judge_answers(self, run: Run, answers: Any) -> str | Violation | None:
        """In the grader: None if ``answers`` are right for ``run``, else what is wrong."""
        raise NotImplementedError(f"{type(self).__name__}.judge_answers(run, answers) judges "
                                  f"the student's answers")

    def judge(self, run: Run) -> str | Violation | None:
        return self.judge_answers(run, self.ask(run.sim))

    def start_with(self, sim: Any, answers: Any) -> Judge:
        """Begin judging the recorded run ``sim`` on the ``answers`` its process sent."""
        run = Run(sim)
        self.begin(run)
        return lambda: self.violation(self.judge_answers(run, answers), sim)

    @staticmethod
    def expect(answers: Any, kind: type, length: int | None = None) -> Any:
        """``answers`` if it is of ``kind`` (and ``length``), else `MalformedRecord`: answers
        of another shape did not come from the questions this property asks."""
        if type(answers) is not kind or (length is not None and len(answers) != length):
            size = "" if length is None else f" of {length}"
            raise MalformedRecord(f"its answers are not the {kind.__name__}{size} that the "
                                  f"questions ask for")
        return answers


def start(prop: Invariant | TraceProperty, sim: Simulation) -> Judge:
    """Begin judging ``prop`` on ``sim``; return its judge."""
    match prop:
        case Invariant():
            watch(sim, prop)  # raises InvariantViolation at the first bad state
            return lambda: None
        case TraceProperty():
            return prop.start(sim)
    raise TypeError(f"{prop!r} is not a property: use an Invariant (checked after every "
                    f"event), AtEnd(invariant), Eventually(...), Linearizable(model), "
                    f"EveryOperationCompletes() or a TraceProperty subclass")


class AtEnd(TraceProperty):
    """``invariant`` must hold when the run is over (it is checked only then)."""

    def __init__(self, invariant: Invariant):
        if not isinstance(invariant, Invariant):
            raise TypeError(f"AtEnd takes an Invariant (@invariant('...') or Invariant(name, "
                            f"fn)); got {invariant!r}")
        self.invariant = invariant
        self.description = f"at the end: {invariant.name}"

    def judge(self, run: Run) -> str | None:
        return self.invariant.check(run.sim)


class Eventually(TraceProperty):
    """``happened(sim)`` must become True at some point, by ``within`` ms if given.

    It is checked after every event; ``within`` is measured from the start of the run
    (time 0). With ``until_end=False`` (liveness: "a leader is elected") it is enough that it
    happened once. With ``until_end=True`` ("the replicas converge") it must also still hold
    at the end of the run, without a break since some moment no later than ``within``.
    """

    def __init__(self, description: str, happened: Callable[[Simulation], bool],
                 within: float | None = None, *, until_end: bool = False):
        if not callable(happened):
            raise TypeError(f"Eventually({description!r}, happened): happened must be a "
                            f"function of the simulation returning True once it happened")
        self.happened = happened
        self.within = within
        self.until_end = until_end
        self.description = (description + ("" if within is None else f" within {within:g} ms")
                            + (", and still at the end" if until_end else ""))

    def begin(self, run: Run) -> None:
        run.state.first = None   # when it first held
        run.state.since = None   # since when it has held without a break (None: not now)

    def observe(self, run: Run) -> None:
        state = run.state
        if state.first is not None and not self.until_end:
            return None  # it happened: nothing more to watch
        if self.happened(run.sim) is True:
            if state.since is None:
                state.since = run.sim.now
            if state.first is None:
                state.first = run.sim.now
        else:
            state.since = None
        return None

    def judge(self, run: Run) -> str | Violation | None:
        first, since, now = run.state.first, run.state.since, run.sim.now
        if first is None:
            return f"it never happened in the whole run ({now:g} ms)"
        if not self.until_end:
            if self.within is not None and first > self.within:
                return Violation(self.description, f"it happened only at t={first:.3f} ms, "
                                 f"later than {self.within:g} ms", first)
            return None
        if since is None:
            return (f"it happened (first at t={first:.3f} ms) but no longer held at the end "
                    f"of the run (t={now:g} ms)")
        if self.within is not None and since > self.within:
            return Violation(self.description, f"it has held without a break only since "
                             f"t={since:.3f} ms, later than {self.within:g} ms (it first "
                             f"happened at t={first:.3f} ms)", since)
        return None


class EveryOperationCompletes(TraceProperty):
    """Every client operation that was started completes successfully (status ``ok``)."""

    description = "every client operation completes"

    def judge(self, run: Run) -> str | None:
        ops = run.sim.history.operations
        unfinished = [op for op in ops if op.status != "ok"]
        if not unfinished:
            return None
        shown = "; ".join(str(op) for op in unfinished[:4])
        more = f"; and {len(unfinished) - 4} more" if len(unfinished) > 4 else ""
        return (f"{len(unfinished)} of {len(ops)} operations did not complete by "
                f"t={run.sim.now:g} ms: {shown}{more}")


class Linearizable(TraceProperty):
    """The clients' history is linearizable with respect to ``model`` ("kv", "register"...).

    After ``timeout`` seconds of searching without an answer the check counts as failed
    (the histories of a lab are small: this only happens to runaway histories).
    """

    def __init__(self, model: str = "kv", timeout: float = 10.0):
        self.model = model
        self.timeout = timeout
        self.description = f"the clients' history is linearizable (model {model})"

    def judge(self, run: Run) -> Violation | None:
        result = check_linearizability(run.sim.history, self.model, timeout=self.timeout)
        if result.ok:
            return None
        return Violation(self.description, str(result), run.sim.now, picture=result.draw,
                         window=result.window)
