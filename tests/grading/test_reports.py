"""The harness's reports, replays and choice of checks, on a small lab of its own.

`EchoLab`: a given `Asker` asks the student's server five questions, one every 10 ms, and
keeps the answers. The server must answer each question with its own number. Below are a
correct `Echo` and broken variants, one per way a student's code can fail: a report names the
seed (and `replay` re-runs exactly that run), the violated property in words, and -- when
code failed -- the student's own line. The untouched skeleton gives a table of failures.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass

import pytest

from distlab.grading import Eventually, Lab, Scenario, check, graded, invariant, replay
from distlab.grading.report import REPORT_MIME
from distlab.grading.runner import run_check
from distlab.sim import Network, Node, Simulation, Uniform

QUESTIONS = 5


@dataclass(frozen=True)
class Ask:
    n: int


@dataclass(frozen=True)
class Answer:
    n: int


class Asker(Node):
    """Asks the server question 1, 2, ... every 10 ms; keeps the answers it gets."""

    def __init__(self):
        self.asked = 0
        self.answers: list[int] = []

    def on_start(self) -> None:
        self.set_timer(10, "ask")

    def on_timer(self, name: str) -> None:
        self.asked += 1
        self.send("server", Ask(self.asked))
        if self.asked < QUESTIONS:
            self.set_timer(10, "ask")

    def on_message(self, src: str, msg: Answer) -> None:
        self.answers.append(msg.n)


@invariant("every answer is the number of a question asked")
def answers_match(sim: Simulation) -> str | None:
    asker = sim.nodes["asker"]
    wrong = [n for n in asker.answers if not 1 <= n <= asker.asked]
    return f"the asker got answers {wrong} to questions never asked" if wrong else None


def all_answered(sim: Simulation) -> bool:
    return sorted(sim.nodes["asker"].answers) == list(range(1, QUESTIONS + 1))


class EchoLab(Lab):
    title = "The echo lab"
    node_attributes = ("answers", "asked")

    def __init__(self, server: type[Node]):
        self.server = server

    def echo(self, network: Network | None = None) -> Scenario:
        def setup(sim: Simulation) -> None:
            sim.add_node(self.server, "server")
            sim.add_node(Asker, "asker")

        answered = Eventually("every question is answered", all_answered, within=500)
        return Scenario(setup, run_for=1_000, properties=[answers_match, answered],
                        network=network)

    @graded(part="A", seeds=5, description="one asker, fast network")
    def test_echo_A(self, seed: int) -> Scenario:
        return self.echo()

    @graded(part="B", seeds=5, description="one asker, slow network")
    def test_slow_B(self, seed: int) -> Scenario:
        return self.echo(Network(latency=Uniform(20, 80)))

    @graded(part="B", seeds=3, description="one asker, very slow network")
    def test_very_slow_B(self, seed: int) -> Scenario:
        return self.echo(Network(latency=Uniform(50, 120)))


# -- a correct server and its broken variants ---------------------------------------------------

class Echo(Node):
    def on_message(self, src: str, msg: Ask) -> None:
        self.send(src, Answer(msg.n))


class AnswersWrong(Echo):
    """Answers the third question with 99: the invariant stops the run there."""

    def on_message(self, src: str, msg: Ask) -> None:
        self.send(src, Answer(99 if msg.n == 3 else msg.n))


class Silent(Echo):
    """Never answers the fourth question."""

    def on_message(self, src: str, msg: Ask) -> None:
        if msg.n != 4:
            super().on_message(src, msg)


class RaisesKeyError(Node):
    def __init__(self):
        self.seen: dict[int, int] = {}

    def on_message(self, src: str, msg: Ask) -> None:
        self.send(src, Answer(self.seen[msg.n]))  # KEY ERROR


class BusyWaits(Echo):
    def on_message(self, src: str, msg: Ask) -> None:
        while True:  # BUSY WAIT
            pass


class SkeletonServer(Node):
    def __init__(self):
        # YOUR CODE HERE
        raise NotImplementedError()


class HalfDone(Node):
    def on_message(self, src: str, msg: Ask) -> None:
        # YOUR CODE HERE
        raise NotImplementedError()


def _line_of(cls: type, marker: str) -> int:
    lines, first = inspect.getsourcelines(cls)
    return first + next(i for i, line in enumerate(lines) if marker in line)


# -- what the reports say -------------------------------------------------------------------------

def test_a_correct_server_passes_every_check_on_every_seed():
    report = check(EchoLab(Echo), timing=False)
    assert report.passed, str(report)
    assert [r.seeds_run for r in report.results] == [5, 5, 3]
    assert report.headline() == "The echo lab: 3 of 3 checks passed"


def test_a_violated_property_is_named_with_its_seed_and_replay_line():
    report = check(EchoLab(Silent), name="test_echo_A", timing=False)
    failure = report.failures[0]
    assert (failure.kind, failure.seed) == ("violated", 1)
    assert failure.summary == "violated: every question is answered within 500 ms"
    text = str(report)
    assert "test_echo_A failed on seed 1: violated: every question is answered" in text
    assert "replay it: replay(lab.test_echo_A, seed=1)" in text


def test_an_exception_is_reported_at_the_students_own_line():
    failure = check(EchoLab(RaisesKeyError), name="test_echo_A").failures[0]
    assert failure.kind == "exception"
    assert failure.summary.startswith("node 'server' raised KeyError:")
    assert failure.node == "server"
    assert failure.where.function == "RaisesKeyError.on_message"
    assert failure.where.file.endswith("test_reports.py")
    assert failure.where.line == _line_of(RaisesKeyError, "# KEY ERROR")
    assert "self.seen[msg.n]" in failure.where.code
    assert "on_message(src='asker'" in failure.explanation  # the event that failed


def test_an_infinite_loop_in_a_handler_is_stopped_and_reported():
    report = check(EchoLab(BusyWaits), name="test_echo_A", wall_limit=0.2)
    failure = report.failures[0]
    assert failure.kind == "time limit"
    assert failure.summary == ("stopped: server's handler ran too long (an infinite loop, or a "
                               "busy wait?)")
    assert failure.where.line == _line_of(BusyWaits, "# BUSY WAIT")
    assert "A handler must return quickly" in str(report)
    assert report.results[0].seeds_run == 1  # the check stops at its first failure


def test_an_infinite_loop_while_creating_a_node_is_stopped_too():
    class LoopsInInit(Echo):
        def __init__(self):
            while True:
                pass

    failure = check(EchoLab(LoopsInInit), name="test_echo_A", wall_limit=0.2).failures[0]
    assert failure.kind == "time limit"
    assert failure.where.function.endswith("LoopsInInit.__init__")


def test_the_untouched_skeleton_gives_a_table_of_failures_not_a_crash():
    report = check(EchoLab(SkeletonServer), timing=False)
    assert len(report.results) == 3 and not report.passed
    for failure in report.failures:
        assert failure.kind == "not implemented"
        assert failure.summary == "not implemented yet: SkeletonServer.__init__"
        assert failure.where.code == "raise NotImplementedError()"
    assert "FAILED (seed 1)" in str(report)
    assert report.summary()["checks"][0]["kind"] == "not implemented"


def test_a_stub_handler_is_named_in_the_report():
    failure = check(EchoLab(HalfDone), name="test_echo_A").failures[0]
    assert failure.summary == "not implemented yet: HalfDone.on_message"
    assert failure.node == "server"


# -- replay ---------------------------------------------------------------------------------------

def test_replay_re_runs_the_failing_run_event_for_event(capsys):
    lab = EchoLab(Silent)
    failure = check(lab, name="test_slow_B").failures[0]
    sim = replay(lab.test_slow_B, seed=failure.seed)
    assert isinstance(sim, Simulation)
    assert sim.trace.dumps() == failure.sim.trace.dumps()
    assert capsys.readouterr().out.endswith(
        f"test_slow_B, seed {failure.seed}: {failure.summary}\n")


def test_replay_stops_where_an_invariant_stopped_the_check():
    lab = EchoLab(AnswersWrong)
    failure = check(lab, name="test_echo_A").failures[0]
    assert failure.summary == "violated: always: every answer is the number of a question asked"
    sim = replay(lab.test_echo_A, seed=failure.seed)
    assert sim.now == failure.time < 100
    assert sim.trace.dumps() == failure.sim.trace.dumps()


def test_replay_without_running_sets_the_scenario_up_for_stepping():
    lab = EchoLab(Echo)
    sim = replay(lab.test_echo_A, seed=3, run=False)
    assert len(sim.trace) == 0
    sim.run(until=1_000)
    assert sim.trace.dumps() == replay(lab.test_echo_A, seed=3).trace.dumps()


def test_replay_needs_a_check_of_a_lab_object():
    with pytest.raises(TypeError, match=r"lab.test_echo_A \(with lab = EchoLab\(...\)\)"):
        replay(EchoLab.test_echo_A, seed=1)


def test_a_replay_that_is_not_run_opens_in_the_explorer():
    from distlab.widgets import Explorer

    lab = EchoLab(Echo)
    explorer = Explorer(lambda seed: replay(lab.test_slow_B, seed, run=False), seed=3)
    assert sorted(explorer.sim.nodes) == ["asker", "server"]
    explorer.sim.run(until=1_000)  # the scenario's run_for
    assert explorer.sim.trace.dumps() == replay(lab.test_slow_B, seed=3).trace.dumps()


# -- choosing checks and seeds --------------------------------------------------------------------

def test_checks_run_by_part_by_name_and_by_seeds():
    lab = EchoLab(Echo)
    assert [r.check.name for r in check(lab, part="B").results] == ["test_slow_B",
                                                                    "test_very_slow_B"]
    only = check(lab, name="test_echo_A", seeds=3).results
    assert [(r.check.name, r.seeds_run) for r in only] == [("test_echo_A", 3)]
    assert check(lab, part="B", name="test_slow_B", seeds=[7, 11]).results[0].seeds_run == 2


def test_unknown_parts_and_names_are_explained():
    lab = EchoLab(Echo)
    with pytest.raises(ValueError, match="its parts are A, B"):
        check(lab, part="D")
    with pytest.raises(ValueError, match="the checks are: test_echo_A"):
        check(lab, name="test_echo")
    with pytest.raises(TypeError, match=r"check\(EchoLab\(\.\.\.\)\)"):
        check(EchoLab)


def test_run_check_runs_every_seed_of_a_passing_check():
    result = run_check(EchoLab(Echo).checks()[0])
    assert (result.seeds_run, result.seeds_total, result.passed) == (5, 5, True)


# -- the report -----------------------------------------------------------------------------------

def test_the_report_without_timing_is_the_same_on_every_run():
    lab = EchoLab(Silent)
    first, second = check(lab, timing=False), check(lab, timing=False)
    assert str(first) == str(second)
    assert first._repr_html_() == second._repr_html_()
    assert first.summary() == second.summary()
    assert "wall time" not in str(first)
    assert "wall time" in str(check(lab, part="A"))


def test_the_report_shows_a_table_and_a_diagram_in_jupyter(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display",
                        lambda data, raw, metadata=None: shown.append((data, metadata)))
    report = check(EchoLab(Silent), part="A", timing=False)
    report._ipython_display_()
    (table, _), *pictures = shown
    assert table["text/plain"] == str(report)
    assert "<table>" in table["text/html"] and "FAILED (seed" in table["text/html"]
    assert table[REPORT_MIME]["passed"] is False
    [(picture, metadata)] = pictures                                  # the space-time diagram
    assert set(picture) == {"image/png"}
    alt = metadata["image/png"]["alt"]                  # what a screen reader reads out
    assert alt.startswith(f"Space-time diagram of {report.failures[0].check}, seed "
                          f"{report.failures[0].seed}: the last ")


def test_outside_jupyter_the_report_is_printed(capsys, monkeypatch):
    # outside IPython: as in a plain script, even if another test file (tests/widgets) has
    # started an IPython shell in this process
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    report = check(EchoLab(Echo), part="A", timing=False)
    assert capsys.readouterr().out == str(report) + "\n"
