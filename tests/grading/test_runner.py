"""The harness on small labs of its own: liveness by a deadline, the final state, event budgets,
and checks that run real code (`Trial`); the book's renderer of a report's summary.

(The harness's reports -- a student's own line, infinite loops, replays, choosing checks and
seeds -- are tested on the echo lab, in ``tests/grading/test_reports.py``.)
"""

from __future__ import annotations

import inspect
import threading

import pytest

from distlab.grading import (AtEnd, Eventually, Lab, Scenario, Trial, Violation, check, graded,
                             invariant, replay)
from distlab.grading.properties import PropertyViolated
from distlab.sim import Node, Simulation

# -- properties of a small custom lab ------------------------------------------------------------

class Sleeper(Node):
    """Wakes up after ``delay`` ms (or, with ``storm``, sets a timer of 0 ms forever)."""

    def __init__(self, delay: float = 100.0, storm: bool = False):
        self.delay, self.storm, self.awake = delay, storm, False

    def on_start(self) -> None:
        self.set_timer(0 if self.storm else self.delay, "wake")

    def on_timer(self, name: str) -> None:
        self.awake = True
        if self.storm:
            self.set_timer(0, "wake")


@invariant("the sleeper never wakes")
def never_wakes(sim: Simulation) -> str | None:
    return "it woke up" if sim.nodes["s"].awake else None


class SleeperLab(Lab):
    title = "Sleepers"

    def __init__(self, delay: float = 100.0):
        self.delay = delay

    def sleeper(self, sim: Simulation, storm: bool = False) -> None:
        sim.add_node(Sleeper, "s", delay=self.delay, storm=storm)

    @graded(part="A", seeds=3, description="wakes within 500 ms")
    def test_wakes_A(self, seed: int) -> Scenario:
        awake = Eventually("the sleeper wakes", lambda sim: sim.nodes["s"].awake, within=500)
        return Scenario(self.sleeper, run_for=1_000, properties=[awake],
                        node_attributes=["awake"])

    @graded(part="A", seeds=3, description="asleep at the end")
    def test_asleep_at_end_A(self, seed: int) -> Scenario:
        return Scenario(self.sleeper, run_for=1_000, properties=[AtEnd(never_wakes)],
                        node_attributes=["awake"])

    @graded(part="B", seeds=2, description="a storm of timers")
    def test_storm_B(self, seed: int) -> Scenario:
        return Scenario(lambda sim: self.sleeper(sim, storm=True), run_for=1_000,
                        max_events=5_000)


def test_eventually_judges_liveness_by_its_deadline():
    assert check(SleeperLab(delay=300), name="test_wakes_A").passed
    late = check(SleeperLab(delay=800), name="test_wakes_A").failures[0]
    assert late.summary == "violated: the sleeper wakes within 500 ms"
    assert late.explanation == "it happened only at t=800.000 ms, later than 500 ms"
    never = check(SleeperLab(delay=5_000), name="test_wakes_A").failures[0]
    assert never.explanation == "it never happened in the whole run (1000 ms)"


def test_at_end_judges_the_final_state_only():
    failure = check(SleeperLab(delay=300), name="test_asleep_at_end_A").failures[0]
    assert failure.summary == "violated: at the end: the sleeper never wakes"
    assert failure.explanation == "it woke up"


def test_a_storm_of_events_hits_the_event_budget():
    failure = check(SleeperLab(), part="B").failures[0]
    assert failure.kind == "event budget"
    assert "5,000 events" in failure.explanation


# -- checks that run real code: Trial -------------------------------------------------------------

def _student_function_that_raises() -> None:
    raise ValueError("bad reply 'OKK'")  # TRIAL-RAISES


class RealLab(Lab):
    """Checks whose bodies run plain code (as real-socket checks do), one per outcome."""

    title = "Real runs"

    def __init__(self, release: threading.Event | None = None):
        self.release = release or threading.Event()

    @graded(part="A", seeds=2, description="the body returns None")
    def test_passes_A(self, seed: int) -> Trial:
        return Trial(lambda: None)

    @graded(part="A", seeds=1, description="the body returns a Violation")
    def test_returns_a_violation_A(self, seed: int) -> Trial:
        return Trial(lambda: Violation("the reply is correct", f"got 'OKK' (seed {seed})", 0.0))

    @graded(part="A", seeds=1, description="the body raises PropertyViolated")
    def test_raises_a_violation_A(self, seed: int) -> Trial:
        def body() -> None:
            raise PropertyViolated(Violation("the client gives up", "it never returned", 0.0))
        return Trial(body)

    @graded(part="B", seeds=1, description="student code is a stub")
    def test_stub_B(self, seed: int) -> Trial:
        def stub() -> None:
            raise NotImplementedError()
        return Trial(stub)

    @graded(part="B", seeds=1, description="student code raises")
    def test_raises_B(self, seed: int) -> Trial:
        return Trial(_student_function_that_raises)

    @graded(part="C", seeds=1, description="student code never returns")
    def test_hangs_C(self, seed: int) -> Trial:
        return Trial(lambda: self.release.wait(5), time_limit=0.2)


def test_a_trial_runs_real_code_and_is_judged_by_what_its_body_returns():
    report = check(RealLab(), part="A", timing=False)
    assert report.failed == ["test_returns_a_violation_A", "test_raises_a_violation_A"]
    first, second = report.failures
    assert (first.kind, first.summary) == ("violated", "violated: the reply is correct")
    assert first.explanation == "got 'OKK' (seed 1)"
    assert second.summary == "violated: the client gives up"
    passed = report.results[0]
    assert passed.real and (passed.seeds_run, passed.simulated_ms, passed.messages) == (2, 0, 0)
    assert report.rows()[0] == ["test_passes_A", "A", "passed", "2 of 2", "real run", "-"]
    assert "test_returns_a_violation_A failed on seed 1: violated: the reply is correct" in str(
        report)

    stub, raised = check(RealLab(), part="B", timing=False).failures
    assert stub.kind == "not implemented"
    assert stub.summary == "not implemented yet: RealLab.test_stub_B.<locals>.stub"
    assert (raised.kind, raised.summary) == ("exception", "raised ValueError: bad reply 'OKK'")
    assert raised.where is not None
    assert raised.where.line == _line_of_function(_student_function_that_raises, "TRIAL-RAISES")

    release = threading.Event()
    try:
        hung = check(RealLab(release), part="C").failures[0]
    finally:
        release.set()  # the abandoned body ends in the background
    assert hung.kind == "time limit"
    assert "did not finish within 0.2 s" in hung.summary and "timeout" in hung.explanation

    with pytest.raises(TypeError, match="runs real code"):
        replay(RealLab().test_passes_A, seed=1, run=False)
    assert replay(RealLab().test_passes_A, seed=1).trace.dumps() == ""

    with pytest.raises(TypeError, match="body must be a function"):
        Trial("not a function")


def _line_of_function(fn, marker: str) -> int:
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, line in enumerate(lines) if marker in line)


def test_the_book_renders_a_reports_summary_as_nothing_and_leaves_other_types_alone():
    from importlib.metadata import entry_points
    from types import SimpleNamespace

    from distlab.grading.report import REPORT_MIME, ReportSummaryInBook

    plugins = [ep.load() for ep in entry_points(group="myst_nb.mime_renderers")]
    assert ReportSummaryInBook in plugins          # registered in pyproject.toml
    summary, page = SimpleNamespace(mime_type=REPORT_MIME), SimpleNamespace(mime_type="text/html")
    assert ReportSummaryInBook.handle_mime(None, summary, False) == []
    assert ReportSummaryInBook.handle_mime(None, page, False) is None
