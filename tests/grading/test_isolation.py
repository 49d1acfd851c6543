"""Graded runs happen in a child process: student code can neither forge a verdict nor end,
hang or outlive the grading process, and every way it misbehaves is a failure with its seed.

Each misbehaving node below is a `Pinger` (a correct solution of a tiny lab) that does one
thing students' code must not do; the check must fail with a report that names the seed,
and this process -- the grader -- must go on as if nothing happened.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from dataclasses import dataclass

import pytest

import distlab.grading.properties as properties
import distlab.grading.report as report_module
import distlab.grading.runner as runner
import distlab.grading.runs as runs
import distlab.grading.verdicts as verdicts
from distlab.grading import Eventually, Lab, Scenario, Trial, check, graded, replay
from distlab.grading.results import CheckResult
from distlab.sim import Node

MB = 1024 ** 2


@dataclass(frozen=True)
class Ping:
    """A message class of the student's own (it is not distlab's)."""

    seq: int


class Pinger(Node):
    """Pings its peer every 10 ms; counts the pings it gets."""

    def __init__(self):
        self.got = 0

    def on_start(self) -> None:
        self.set_timer(10, "tick")

    def on_timer(self, name: str) -> None:
        self.send(self.peers[0], Ping(self.got))
        self.set_timer(10, "tick")

    def on_message(self, src: str, msg: Ping) -> None:
        self.got += 1
        self.misbehave()

    def misbehave(self) -> None:
        """What a broken subclass does when a ping arrives (nothing here)."""


class PingLab(Lab):
    title = "Pings"

    def __init__(self, node: type[Node]):
        self.node = node

    @graded(part="A", seeds=3, description="both nodes get a ping within 100 ms")
    def test_pings_A(self, seed: int) -> Scenario:
        got = Eventually("both nodes get a ping",
                         lambda sim: all(n.got > 0 for n in sim.nodes.values()), within=100)
        return Scenario(lambda sim: sim.add_nodes(self.node, ["a", "b"]), run_for=200,
                        properties=[got], node_attributes=["got"])


def failure_of(node: type[Node], **options) -> object:
    report = check(PingLab(node), timing=False, **options)
    assert not report.passed and len(report.failures) == 1
    failure = report.failures[0]
    assert failure.seed == 1
    text = str(report)
    assert f"test_pings_A failed on seed 1: {failure.summary}" in text
    assert "replay it: replay(lab.test_pings_A, seed=1)" in text
    return failure


def test_a_correct_solution_passes_and_the_report_shows_its_runs():
    report = check(PingLab(Pinger), timing=False)
    assert report.passed, str(report)
    # 2 nodes ping every 10 ms for 200 ms, over 3 seeds: 120 messages
    assert report.rows() == [["test_pings_A", "A", "passed", "3 of 3", "0.6 s", "120"]]


# -- forging the verdict ------------------------------------------------------------------------

class Forger(Pinger):
    """Never pings, and patches every piece of the harness it can reach to say "passed"."""

    def on_start(self) -> None:
        CheckResult.passed = property(lambda s: True)
        report_module.Report.passed = property(lambda s: True)
        properties.Eventually.judge = lambda self, run: None
        properties.TraceProperty.observe = lambda self, run: None
        runner.run_once = lambda c, seed, wall_limit=None, **kw: (None, None)


def test_patching_the_harness_inside_a_run_does_not_forge_a_pass():
    saved = (CheckResult.__dict__["passed"], report_module.Report.__dict__["passed"],
             properties.Eventually.__dict__["judge"], properties.TraceProperty.__dict__["observe"],
             runner.run_once)
    try:
        failure = failure_of(Forger)
        assert failure.kind == "violated"
        assert failure.summary == "violated: both nodes get a ping within 100 ms"
    finally:
        (CheckResult.passed, report_module.Report.passed, properties.Eventually.judge,
         properties.TraceProperty.observe, runner.run_once) = saved


class AnswerLab(Lab):
    """A real-run check in two halves: the body asks the student's function, the grader judges."""

    title = "Answers"

    def __init__(self, answer):
        self.answer = answer

    @graded(part="A", seeds=1, description="the answer is 42")
    def test_answer_A(self, seed: int) -> Trial:
        def judge(got: object) -> str | None:
            if type(got) is not int:
                raise ValueError(f"{got!r} is not an observed answer")
            return None if got == 42 else f"the answer was {got}"
        return Trial(lambda: self.answer(), judge=judge)


def forges_a_real_pass() -> int:
    """A wrong answer, given after patching every verdict of a Trial the run can reach."""
    CheckResult.passed = property(lambda s: True)
    runs.trial_verdict = lambda *args: None
    verdicts._failure_data = lambda failure: None
    return 41


def test_patching_a_trials_verdict_inside_the_run_does_not_forge_a_pass():
    saved = CheckResult.__dict__["passed"], runs.trial_verdict, verdicts._failure_data
    try:
        report = check(AnswerLab(forges_a_real_pass), timing=False)
    finally:
        CheckResult.passed, runs.trial_verdict, verdicts._failure_data = saved
    assert [(f.kind, f.summary, f.explanation) for f in report.failures] == [
        ("violated", "violated: the answer is 42", "the answer was 41")]
    assert check(AnswerLab(lambda: 42), timing=False).passed


def test_observations_the_judge_cannot_read_are_a_damaged_report():
    failure = check(AnswerLab(lambda: "42"), timing=False).failures[0]
    assert failure.kind == "malformed"
    assert failure.summary == ("the run's report is damaged: its observations cannot be judged "
                               "(ValueError: '42' is not an observed answer)")


# -- ending the process ---------------------------------------------------------------------------

class CallsSysExit(Pinger):
    def misbehave(self) -> None:
        sys.exit(0)  # SYS-EXIT


class CallsOsExit(Pinger):
    def misbehave(self) -> None:
        os._exit(3)


class Segfaults(Pinger):
    def misbehave(self) -> None:
        ctypes.string_at(0)


def test_sys_exit_fails_the_run_at_the_students_line():
    failure = failure_of(CallsSysExit)
    assert failure.kind == "exit"
    assert failure.summary == ("the run ended the process (exit code 0): your code called "
                               "sys.exit(0)")
    assert "SYS-EXIT" in failure.where.code and failure.node in ("a", "b")
    assert failure.sim.trace.of_kind("deliver")  # the report shows the run up to there


def test_os_exit_and_a_crash_in_c_code_end_only_the_runs_process():
    pid = os.getpid()
    exited = failure_of(CallsOsExit)
    assert (exited.kind, exited.summary) == ("exit", "the run ended the process (exit code 3)")
    crashed = failure_of(Segfaults)
    assert crashed.kind == "exit"
    assert crashed.summary.startswith("the run ended the process (killed by signal SIGSEGV")
    assert os.getpid() == pid


class Escape(BaseException):
    """What no handler should raise: it is not an Exception, so the simulator lets it out."""


class RaisesBaseException(Pinger):
    def misbehave(self) -> None:
        raise Escape("out of the simulation")


def test_a_base_exception_out_of_the_run_is_reported_with_the_run_up_to_there():
    failure = failure_of(RaisesBaseException)
    assert (failure.kind, failure.summary) == ("exception",
                                               "the check raised Escape: out of the simulation")
    assert failure.sim.trace.of_kind("deliver")


# -- memory, time, threads ------------------------------------------------------------------------

class HogsMemory(Pinger):
    def misbehave(self) -> None:
        self.hoard = []
        while True:
            self.hoard.append(bytearray(MB))


class LoopsUnstoppably(Pinger):
    def misbehave(self) -> None:
        while True:
            try:
                while True:
                    pass
            except BaseException:  # swallows the harness's interruption, again and again
                pass


class SpinsAThread(Pinger):
    def on_start(self) -> None:
        super().on_start()
        threading.Thread(target=lambda: [None for _ in iter(int, 1)], daemon=True,
                         name="spinner").start()


def test_a_memory_hog_hits_the_memory_cap():
    failure = failure_of(HogsMemory, memory_limit=200 * MB)
    assert failure.kind == "memory"
    assert failure.summary == "the run exceeded the memory cap of 200 MB"


@pytest.mark.timeout(60)
def test_a_loop_that_swallows_every_interruption_is_killed_after_its_time_limit():
    failure = failure_of(LoopsUnstoppably, wall_limit=0.2)
    assert failure.kind == "time limit"
    assert failure.summary == "killed: the run exceeded the time limit of 0.2 s"
    assert "except BaseException" in failure.explanation


def test_a_thread_started_by_a_node_fails_the_run_and_dies_with_its_process():
    failure = failure_of(SpinsAThread)
    assert failure.kind == "thread"
    assert failure.summary == "your code started a thread that still runs (spinner)"
    assert "spinner" not in [t.name for t in threading.enumerate()]


# -- what comes back ------------------------------------------------------------------------------

def test_a_students_messages_come_back_as_records_that_print_and_export_alike():
    failure = failure_of(CallsSysExit)
    recorded = failure.sim.trace.of_kind("send")[0].data
    assert type(recorded).__name__ == "Recorded" and repr(recorded) == "Ping(seq=0)"
    replayed = replay(PingLab(CallsSysExit).test_pings_A, seed=1)
    assert failure.sim.trace.dumps() == replayed.trace.dumps()


class ReadsUnrecorded(Lab):
    @graded(part="A", seeds=1, description="reads an attribute it does not record")
    def test_reads_A(self, seed: int) -> Scenario:
        got = Eventually("a ping", lambda sim: sim.nodes["a"].got > 0)
        return Scenario(lambda sim: sim.add_nodes(Pinger, ["a", "b"]), run_for=100,
                        properties=[got])


def test_a_property_that_reads_an_attribute_not_recorded_says_what_to_list():
    failure = check(ReadsUnrecorded()).failures[0]
    assert "a.got, which the graded run did not record" in failure.summary
    assert "Scenario(node_attributes=[...])" in failure.summary
