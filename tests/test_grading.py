"""The lab harness: a correct example lab passes, each deliberate bug is caught by its check.

The example lab (`distlab.grading.example`) is a primary-backup key-value store. Below are a
reference `Primary`/`Backup` and seven broken variants, each with one classic bug; every bug
must be caught by the check written for it, with a report that names the seed (and `replay`
re-runs exactly that run), the violated property in words, and -- when code failed -- the
student's own line. The untouched skeleton must give a table of failures, not a crash.
"""

from __future__ import annotations

import inspect
import threading

import pytest

from distlab.grading import (AtEnd, Eventually, Lab, Scenario, Trial, Violation, check, graded,
                             invariant, replay)
from distlab.grading.example import (Forward, ForwardOk, PrimaryBackupLab, Reply, Request,
                                     backup_agrees_with_primary)
from distlab.grading.properties import PropertyViolated
from distlab.grading.report import REPORT_MIME
from distlab.grading.runner import run_check
from distlab.sim import Node, Simulation

# -- the reference solution ---------------------------------------------------------------------


def apply(data: dict, request: Request) -> None:
    """Apply a write to ``data``."""
    if request.op == "put":
        data[request.key] = request.value
    else:
        data[request.key] = data.get(request.key, "") + request.value


class Primary(Node):
    def __init__(self, backup: str = "backup"):
        self.backup = backup
        self.data = self.storage.setdefault("data", {})
        self.last_seq = self.storage.setdefault("last_seq", {})
        self.pending = self.storage.get("pending")

    def on_start(self) -> None:
        if self.pending is not None:
            self.forward()  # finish the write a crash interrupted, before any other

    def on_message(self, src, msg) -> None:
        match msg:
            case Request(op="get"):
                self.send(src, Reply(msg.client, msg.seq, self.data.get(msg.key)))
            case Request(client=client, seq=seq) if self.last_seq.get(client, 0) >= seq:
                self.send(src, Reply(client, seq))
            case Request() if self.pending is None:
                self.pending = self.storage["pending"] = msg
                self.forward()
            case ForwardOk(client=client, seq=seq) if self.is_pending(client, seq):
                apply(self.data, self.pending)
                self.last_seq[client] = seq
                self.pending = self.storage["pending"] = None
                self.cancel_timer("forward")
                self.send(client, Reply(client, seq))

    def is_pending(self, client: str, seq: int) -> bool:
        return self.pending is not None and (self.pending.client, self.pending.seq) == (client, seq)

    def forward(self) -> None:
        self.send(self.backup, Forward(self.pending))
        self.set_timer(50, "forward")

    def on_timer(self, name: str) -> None:
        if self.pending is not None:
            self.forward()


class Backup(Node):
    def __init__(self):
        self.data = self.storage.setdefault("data", {})
        self.last_seq = self.storage.setdefault("last_seq", {})

    def on_message(self, src, msg) -> None:
        match msg:
            case Forward(request=r):
                if self.last_seq.get(r.client, 0) < r.seq:
                    apply(self.data, r)
                    self.last_seq[r.client] = r.seq
                self.send(src, ForwardOk(r.client, r.seq))


# -- seven broken variants, one bug each ----------------------------------------------------------

class IgnoresDuplicates(Primary):
    """Applies a resent or duplicated request again (no check of the client's seq)."""

    def on_message(self, src, msg) -> None:
        match msg:
            case Request(op="put" | "append") if self.pending is None:
                self.pending = self.storage["pending"] = msg
                self.forward()
            case Request(op="get") | ForwardOk():
                super().on_message(src, msg)


class NeverRetries(Primary):
    """Forwards each write once: if the forward or its acknowledgement is lost, it waits forever."""

    def forward(self) -> None:
        self.send(self.backup, Forward(self.pending))


class Forgetful(Primary):
    """Keeps its data in memory only: a restart loses every write."""

    def __init__(self, backup: str = "backup"):
        self.backup = backup
        self.data, self.last_seq, self.pending = {}, {}, None


class AcksBeforeReplicating(Primary):
    """Applies and replies at once, and only then forwards to the backup."""

    def on_message(self, src, msg) -> None:
        match msg:
            case Request(op="put" | "append", client=client, seq=seq) \
                    if self.last_seq.get(client, 0) < seq:
                apply(self.data, msg)
                self.last_seq[client] = seq
                self.send(src, Reply(client, seq))
                self.send(self.backup, Forward(msg))
            case _:
                super().on_message(src, msg)


class BusyWaits(Primary):
    """Waits in a loop for the backup's answer: it can never come while the handler runs."""

    def forward(self) -> None:
        self.send(self.backup, Forward(self.pending))
        while self.pending is not None:  # BUSY WAIT
            pass


class RaisesKeyError(Primary):
    """Reads a key that was never written with data[key]."""

    def on_message(self, src, msg) -> None:
        match msg:
            case Request(op="get"):
                self.send(src, Reply(msg.client, msg.seq, self.data[msg.key]))  # KEY ERROR
            case _:
                super().on_message(src, msg)


class ReappliesForwards(Backup):
    """A backup that applies every forward it receives, resent ones too."""

    def on_message(self, src, msg) -> None:
        match msg:
            case Forward(request=r):
                apply(self.data, r)
                self.send(src, ForwardOk(r.client, r.seq))


class SkeletonPrimary(Node):
    def __init__(self, backup: str = "backup"):
        # YOUR CODE HERE
        raise NotImplementedError()


class SkeletonBackup(Node):
    def __init__(self):
        # YOUR CODE HERE
        raise NotImplementedError()


class HalfDonePrimary(Primary):
    """Set up, but its message handler is still the stub."""

    def on_message(self, src, msg) -> None:
        # YOUR CODE HERE
        raise NotImplementedError()


# -- the reference passes ---------------------------------------------------------------------------

def test_reference_solution_passes_every_check_on_every_seed():
    report = check(PrimaryBackupLab(Primary, Backup), timing=False)
    assert report.passed, str(report)
    assert [r.seeds_run for r in report.results] == [20] * 5
    assert all(r.messages > 0 and r.simulated_ms > 0 for r in report.results)
    assert report.headline() == "Lab 0: a primary-backup key-value store: 5 of 5 checks passed"


# -- each bug is caught by its check ----------------------------------------------------------------

BUGS = [
    # (primary, backup, the check that must catch it, what the report must say)
    (IgnoresDuplicates, Backup, "test_duplicated_messages_B",
     ("violated: the clients' history is linearizable",
      "violated: at the end: the backup holds the same data as the primary")),
    (NeverRetries, Backup, "test_lost_messages_B",
     ("violated: every client operation completes",)),
    (Forgetful, Backup, "test_primary_restarts_C",
     ("violated: the clients' history is linearizable",
      "violated: at the end: the backup holds the same data as the primary")),
    (AcksBeforeReplicating, Backup, "test_one_client_A",
     ("violated: always: every acknowledged write is already on the backup",)),
    (Primary, ReappliesForwards, "test_lost_messages_B",
     ("violated: at the end: the backup holds the same data as the primary",)),
]


@pytest.mark.parametrize("primary, backup, name, expected", BUGS,
                         ids=[f"{p.__name__}-{b.__name__}" for p, b, _, _ in BUGS])
def test_each_protocol_bug_is_caught_by_its_check(primary, backup, name, expected):
    report = check(PrimaryBackupLab(primary, backup), name=name, timing=False)
    assert report.failed == [name]
    failure = report.failures[0]
    assert failure.kind == "violated"
    assert failure.summary.startswith(expected), failure.summary
    text = str(report)
    assert f"{name} failed on seed {failure.seed}: {failure.summary}" in text
    assert f"replay it: replay(lab.{name}, seed={failure.seed})" in text
    assert report.results[0].seeds_run == failure.seed  # seeds run 1, 2, ... up to the failure


def test_a_bug_of_one_part_leaves_the_other_parts_passing():
    report = check(PrimaryBackupLab(NeverRetries, Backup), timing=False)
    assert report.failed == ["test_lost_messages_B"]


def test_an_exception_is_reported_at_the_students_own_line():
    report = check(PrimaryBackupLab(RaisesKeyError, Backup), name="test_one_client_A")
    failure = report.failures[0]
    assert failure.kind == "exception"
    assert failure.summary.startswith("node 'primary' raised KeyError:")
    assert failure.node == "primary"
    assert failure.where.function == "RaisesKeyError.on_message"
    assert failure.where.file.endswith("test_grading.py")
    assert failure.where.line == _line_of(RaisesKeyError, "# KEY ERROR")
    assert "self.data[msg.key]" in failure.where.code
    assert "on_message(src='c" in failure.explanation  # the event that failed
    assert f"seed {failure.seed}" in str(report)


def test_an_infinite_loop_in_a_handler_is_stopped_and_reported():
    report = check(PrimaryBackupLab(BusyWaits, Backup), name="test_one_client_A",
                   wall_limit=0.2)
    failure = report.failures[0]
    assert failure.kind == "time limit"
    assert failure.summary == ("stopped: primary's handler ran too long (an infinite loop, or a "
                               "busy wait?)")
    assert failure.where.line == _line_of(BusyWaits, "# BUSY WAIT")
    assert "A handler must return quickly" in str(report)
    assert report.results[0].seeds_run == 1  # the check stops at its first failure


def test_an_infinite_loop_while_creating_a_node_is_stopped_too():
    class LoopsInInit(Primary):
        def __init__(self, backup: str = "backup"):
            while True:
                pass

    report = check(PrimaryBackupLab(LoopsInInit, Backup), name="test_one_client_A",
                   wall_limit=0.2)
    assert report.failures[0].kind == "time limit"
    assert report.failures[0].where.function.endswith("LoopsInInit.__init__")


# -- the untouched skeleton -------------------------------------------------------------------------

def test_the_untouched_skeleton_gives_a_table_of_failures_not_a_crash():
    report = check(PrimaryBackupLab(SkeletonPrimary, SkeletonBackup), timing=False)
    assert len(report.results) == 5 and not report.passed
    for failure in report.failures:
        assert failure.kind == "not implemented"
        assert failure.summary == "not implemented yet: SkeletonPrimary.__init__"
        assert failure.where.code == "raise NotImplementedError()"
    assert "FAILED (seed 1)" in str(report)
    assert report.summary()["checks"][0]["kind"] == "not implemented"


def test_a_stub_handler_is_named_in_the_report():
    report = check(PrimaryBackupLab(HalfDonePrimary, Backup), name="test_one_client_A")
    failure = report.failures[0]
    assert failure.summary == "not implemented yet: HalfDonePrimary.on_message"
    assert failure.node == "primary"


# -- replay -----------------------------------------------------------------------------------------

def test_replay_re_runs_the_failing_run_event_for_event(capsys):
    lab = PrimaryBackupLab(IgnoresDuplicates, Backup)
    failure = check(lab, name="test_duplicated_messages_B").failures[0]
    sim = replay(lab.test_duplicated_messages_B, seed=failure.seed)
    assert isinstance(sim, Simulation)
    assert sim.trace.dumps() == failure.sim.trace.dumps()
    assert capsys.readouterr().out.endswith(
        f"test_duplicated_messages_B, seed {failure.seed}: {failure.summary}\n")


def test_replay_stops_where_an_invariant_stopped_the_check():
    lab = PrimaryBackupLab(AcksBeforeReplicating, Backup)
    failure = check(lab, name="test_one_client_A").failures[0]
    sim = replay(lab.test_one_client_A, seed=failure.seed)
    assert sim.now == failure.time < 2_000
    assert sim.trace.dumps() == failure.sim.trace.dumps()


def test_replay_without_running_sets_the_scenario_up_for_stepping():
    lab = PrimaryBackupLab(Primary, Backup)
    sim = replay(lab.test_one_client_A, seed=3, run=False)
    assert len(sim.trace) == 0
    sim.run(until=2_000)
    assert sim.trace.dumps() == replay(lab.test_one_client_A, seed=3).trace.dumps()


def test_replay_needs_a_check_of_a_lab_object():
    with pytest.raises(TypeError, match="lab.test_one_client_A"):
        replay(PrimaryBackupLab.test_one_client_A, seed=1)


# -- choosing checks and seeds ----------------------------------------------------------------------

def test_checks_run_by_part_by_name_and_by_seeds():
    lab = PrimaryBackupLab(Primary, Backup)
    assert [r.check.name for r in check(lab, part="B").results] == [
        "test_lost_messages_B", "test_duplicated_messages_B"]
    only = check(lab, name="test_one_client_A", seeds=3).results
    assert [(r.check.name, r.seeds_run) for r in only] == [("test_one_client_A", 3)]
    assert check(lab, part="C", seeds=[7, 11]).results[0].seeds_run == 2


def test_unknown_parts_and_names_are_explained():
    lab = PrimaryBackupLab(Primary, Backup)
    with pytest.raises(ValueError, match="its parts are A, B, C"):
        check(lab, part="D")
    with pytest.raises(ValueError, match="the checks are: test_one_client_A"):
        check(lab, name="test_one_client")
    with pytest.raises(TypeError, match=r"check\(PrimaryBackupLab\(\.\.\.\)\)"):
        check(PrimaryBackupLab)


# -- the report -------------------------------------------------------------------------------------

def test_the_report_without_timing_is_the_same_on_every_run():
    lab = PrimaryBackupLab(IgnoresDuplicates, Backup)
    first, second = check(lab, timing=False), check(lab, timing=False)
    assert str(first) == str(second)
    assert first._repr_html_() == second._repr_html_()
    assert first.summary() == second.summary()
    assert "wall time" not in str(first)
    assert "wall time" in str(check(lab, part="A"))


def test_the_report_shows_a_table_and_a_diagram_in_jupyter(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda data, raw: shown.append(data))
    report = check(PrimaryBackupLab(NeverRetries, Backup), part="B", timing=False)
    report._ipython_display_()
    table, *pictures = shown
    assert table["text/plain"] == str(report)
    assert "<table>" in table["text/html"] and "FAILED (seed" in table["text/html"]
    assert table[REPORT_MIME]["passed"] is False
    assert len(pictures) == 1 and set(pictures[0]) == {"image/png"}  # the space-time diagram


def test_outside_jupyter_the_report_is_printed(capsys):
    report = check(PrimaryBackupLab(Primary, Backup), part="A", timing=False)
    assert capsys.readouterr().out == str(report) + "\n"


# -- properties of a small custom lab ---------------------------------------------------------------

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
        return Scenario(self.sleeper, run_for=1_000, properties=[awake])

    @graded(part="A", seeds=3, description="asleep at the end")
    def test_asleep_at_end_A(self, seed: int) -> Scenario:
        return Scenario(self.sleeper, run_for=1_000, properties=[AtEnd(never_wakes)])

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


def test_run_check_runs_every_seed_of_a_passing_check():
    result = run_check(PrimaryBackupLab(Primary, Backup).checks()[1])
    assert (result.seeds_run, result.seeds_total, result.passed) == (20, 20, True)


def test_invariants_of_the_example_lab_are_shared_safely_between_runs():
    # a stateless invariant object may be watched by many runs: results do not leak
    lab = PrimaryBackupLab(Primary, Backup)
    assert check(lab, name="test_concurrent_clients_A", seeds=2).passed
    assert backup_agrees_with_primary.check(replay(lab.test_concurrent_clients_A, 1)) is None


def _line_of(cls: type, marker: str) -> int:
    lines, first = inspect.getsourcelines(cls)
    return first + next(i for i, line in enumerate(lines) if marker in line)



def test_a_replay_that_is_not_run_opens_in_the_explorer():
    from distlab.widgets import Explorer

    lab = PrimaryBackupLab(Primary, Backup)
    explorer = Explorer(lambda seed: replay(lab.test_lost_messages_B, seed, run=False), seed=3)
    assert sorted(explorer.sim.nodes) == ["backup", "c1", "c2", "c3", "primary"]
    explorer.sim.run(until=20_000)  # the scenario's run_for
    assert explorer.sim.trace.dumps() == replay(lab.test_lost_messages_B, seed=3).trace.dumps()


# -- checks that run real code: Trial --------------------------------------------------------------

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
    from types import SimpleNamespace
    from importlib.metadata import entry_points

    from distlab.grading.report import REPORT_MIME, ReportSummaryInBook

    plugins = [ep.load() for ep in entry_points(group="myst_nb.mime_renderers")]
    assert ReportSummaryInBook in plugins          # registered in pyproject.toml
    assert ReportSummaryInBook.handle_mime(None, SimpleNamespace(mime_type=REPORT_MIME), False) == []
    assert ReportSummaryInBook.handle_mime(None, SimpleNamespace(mime_type="text/html"), False) is None
