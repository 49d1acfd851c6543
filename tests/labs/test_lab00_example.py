"""Lab 0, the example lab: a correct solution passes, each deliberate bug is caught by its check.

The example lab (`distlab.labs.lab00_example`) is a primary-backup key-value store. Below are a
reference `Primary`/`Backup` and five broken variants, each with one classic bug; every bug
must be caught by the check written for it, with a report that names the seed, the violated
property in words, and the replay line. (The untouched skeleton is run by
``tests/labs/test_lab_notebooks.py``; the harness's reports, replays and choice of checks
are tested on a small lab of their own, in ``tests/grading/test_reports.py``.)
"""

from __future__ import annotations

import pytest

from distlab.grading import check, replay
from distlab.labs.lab00_example import (Forward, ForwardOk, PrimaryBackupLab,
                                        backup_agrees_with_primary)
from distlab.sim import Node
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


# -- five broken variants, one bug each ----------------------------------------------------------

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


class ReappliesForwards(Backup):
    """A backup that applies every forward it receives, resent ones too."""

    def on_message(self, src, msg) -> None:
        match msg:
            case Forward(request=r):
                apply(self.data, r)
                self.send(src, ForwardOk(r.client, r.msg_id))


# -- the reference passes -------------------------------------------------------------------------

def test_reference_solution_passes_every_check():
    # two seeds of each check, here in a plain process; every seed of every check runs in the
    # solution notebook, under strict nbval (tests/labs/test_lab_notebooks.py)
    report = check(PrimaryBackupLab(Primary, Backup), seeds=2, timing=False)
    assert report.passed, str(report)
    assert [r.check.seeds for r in report.results] == [20] * 5
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


def test_invariants_of_the_example_lab_are_shared_safely_between_runs():
    # a stateless invariant object may be watched by many runs: results do not leak
    lab = PrimaryBackupLab(Primary, Backup)
    assert check(lab, name="test_concurrent_clients_A", seeds=2).passed
    assert backup_agrees_with_primary.check(replay(lab.test_concurrent_clients_A, 1)) is None




def test_a_linearizability_failure_shows_the_operations_around_the_one_that_cannot_be_placed():
    report = check(PrimaryBackupLab(Forgetful, Backup), name="test_primary_restarts_C",
                   timing=False)
    failure = report.failures[0]
    assert failure.summary.startswith("violated: the clients' history is linearizable")
    start, end = failure.window
    assert end < failure.time  # the problem is long before the run's end
    lines = failure.lines()
    assert any("the operations around it (concurrent with it, or just before it)" in line
               for line in lines)
    # the events listed are those up to the impossible operation's return, not the run's last
    heading = next(line for line in lines if "events before t=" in line)
    assert heading.startswith(f"  the last 12 events before t={end:.3f} ms, where the problem is")
    events = failure.last_events()
    assert len(events) == 12 and all(start <= e.time <= end for e in events)
    assert events[-1].time == max(e.time for e in failure.sim.trace if e.time <= end)
    # and the diagram draws that stretch
    axes = failure.spacetime().axes[0]
    assert f"the messages from t={start:.0f} to" in axes.get_title()
    assert axes.get_xlim()[0] <= start and end <= axes.get_xlim()[1] < failure.time
