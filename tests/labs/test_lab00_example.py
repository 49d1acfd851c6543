"""Lab 0, the example lab: a correct solution passes, each deliberate bug is caught by its check.

The example lab (`distlab.labs.lab00_example`) is a primary-backup key-value store; it is also
the lab through which the harness's reports, replays and choice of checks are tested. Below are a
reference `Primary`/`Backup` and seven broken variants, each with one classic bug; every bug
must be caught by the check written for it, with a report that names the seed (and `replay`
re-runs exactly that run), the violated property in words, and -- when code failed -- the
student's own line. The untouched skeleton must give a table of failures, not a crash.
"""

from __future__ import annotations

import inspect

import pytest

from distlab.grading import check, replay
from distlab.grading.report import REPORT_MIME
from distlab.grading.runner import run_check
from distlab.labs.lab00_example import (Forward, ForwardOk, PrimaryBackupLab,
                                        backup_agrees_with_primary)
from distlab.sim import Node, Simulation
from distlab.workloads.kv import Append, Get, Put

# -- the reference solution ---------------------------------------------------------------------


def apply(data: dict, write: Put | Append) -> None:
    """Apply a write to ``data``."""
    match write:
        case Put(key=key, value=value):
            data[key] = value
        case Append(key=key, value=value):
            data[key] = data.get(key, "") + value


class Primary(Node):
    def __init__(self, backup: str = "backup"):
        self.backup = backup
        self.data = self.storage.setdefault("data", {})
        self.applied = self.storage.setdefault("applied", {})
        self.pending = self.storage.get("pending")

    def on_start(self) -> None:
        if self.pending is not None:
            self.forward()  # finish the write a crash interrupted, before any other

    def on_message(self, src, msg) -> None:
        match msg:
            case Get(key=key):
                self.send(src, msg.ok(self.data.get(key)))
            case Put() | Append() if self.applied.get(msg.client, 0) >= msg.msg_id:
                self.send(src, msg.ok())
            case Put() | Append() if self.pending is None:
                self.pending = self.storage["pending"] = msg
                self.forward()
            case ForwardOk(client=client, msg_id=msg_id) if self.is_pending(client, msg_id):
                apply(self.data, self.pending)
                self.applied[client] = msg_id
                self.send(client, self.pending.ok())
                self.pending = self.storage["pending"] = None
                self.cancel_timer("forward")

    def is_pending(self, client: str, msg_id: int) -> bool:
        pending = self.pending
        return pending is not None and (pending.client, pending.msg_id) == (client, msg_id)

    def forward(self) -> None:
        self.send(self.backup, Forward(self.pending))
        self.set_timer(50, "forward")

    def on_timer(self, name: str) -> None:
        if self.pending is not None:
            self.forward()


class Backup(Node):
    def __init__(self):
        self.data = self.storage.setdefault("data", {})
        self.applied = self.storage.setdefault("applied", {})

    def on_message(self, src, msg) -> None:
        match msg:
            case Forward(request=r):
                if self.applied.get(r.client, 0) < r.msg_id:
                    apply(self.data, r)
                    self.applied[r.client] = r.msg_id
                self.send(src, ForwardOk(r.client, r.msg_id))


# -- seven broken variants, one bug each ----------------------------------------------------------

class IgnoresDuplicates(Primary):
    """Applies a resent or duplicated request again (no check of the client's msg_id)."""

    def on_message(self, src, msg) -> None:
        match msg:
            case Put() | Append() if self.pending is None:
                self.pending = self.storage["pending"] = msg
                self.forward()
            case Get() | ForwardOk():
                super().on_message(src, msg)


class NeverRetries(Primary):
    """Forwards each write once: if the forward or its acknowledgement is lost, it waits."""

    def forward(self) -> None:
        self.send(self.backup, Forward(self.pending))


class Forgetful(Primary):
    """Keeps its data in memory only: a restart loses every write."""

    def __init__(self, backup: str = "backup"):
        self.backup = backup
        self.data, self.applied, self.pending = {}, {}, None


class AcksBeforeReplicating(Primary):
    """Applies and replies at once, and only then forwards to the backup."""

    def on_message(self, src, msg) -> None:
        match msg:
            case Put() | Append() if self.applied.get(msg.client, 0) < msg.msg_id:
                apply(self.data, msg)
                self.applied[msg.client] = msg.msg_id
                self.send(src, msg.ok())
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
            case Get():
                self.send(src, msg.ok(self.data[msg.key]))  # KEY ERROR
            case _:
                super().on_message(src, msg)


class ReappliesForwards(Backup):
    """A backup that applies every forward it receives, resent ones too."""

    def on_message(self, src, msg) -> None:
        match msg:
            case Forward(request=r):
                apply(self.data, r)
                self.send(src, ForwardOk(r.client, r.msg_id))


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


# -- the reference passes -------------------------------------------------------------------------

def test_reference_solution_passes_every_check_on_every_seed():
    report = check(PrimaryBackupLab(Primary, Backup), timing=False)
    assert report.passed, str(report)
    assert [r.seeds_run for r in report.results] == [20] * 5
    assert all(r.messages > 0 and r.simulated_ms > 0 for r in report.results)
    assert report.headline() == "Lab 0: a primary-backup key-value store: 5 of 5 checks passed"


# -- each bug is caught by its check --------------------------------------------------------------

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
    assert failure.where.file.endswith("test_lab00_example.py")
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


# -- the untouched skeleton -----------------------------------------------------------------------

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


# -- replay ---------------------------------------------------------------------------------------

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


# -- choosing checks and seeds --------------------------------------------------------------------

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


# -- the report -----------------------------------------------------------------------------------

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
