"""Lab 4 (Raft) for the tests: the reference solution and the untouched skeleton, loaded from
their notebooks, a classic mistake that more than one test folder uses, and the helpers that
the lab's test files (``tests/labs/test_lab04_raft*.py``) share.

Importable from every test folder: the root conftest.py's folder is on ``sys.path``. The
mistakes of one part live in that part's test file, each a subclass of the reference that
changes one thing; `VotesForAnyLog` is here because the soak's tests use it too.
"""

from __future__ import annotations

from pathlib import Path

from distlab.grading import check
from distlab.labs.lab04_raft import RaftLab
from distlab.soak.solutions import solution

#: the reference solution of ``solutions/lab04-raft.ipynb``, as a module
RAFT = solution("lab04-raft")
#: the untouched skeleton of ``labs/lab04-raft.ipynb``, as a module
SKELETON = solution("lab04-raft", Path(__file__).resolve().parents[1] / "labs")


class VotesForAnyLog(RAFT.RaftNode):
    """Grants its vote without the up-to-date check of section 5.4.1."""

    def on_request_vote(self, src, msg):
        granted = msg.term == self.term and self.voted_for in (None, msg.candidate_id)
        if granted:
            self.voted_for = msg.candidate_id
            self.save()
            self.reset_election_timer()
        self.send(src, RAFT.RequestVoteReply(self.term, granted))


def first_failure(node, name):
    """The failure of check ``name`` for class ``node`` (it must fail, and only it runs)."""
    report = check(RaftLab(node), name=name, timing=False)
    assert report.failed == [name], str(report)
    return report.failures[0]


def assert_reference_passes(part: str, checks: int) -> None:
    """The reference passes the ``checks`` checks of ``part``: two seeds of each, here in a
    plain process (every seed of every check runs in the solution notebook, under strict
    nbval: tests/labs/test_lab_notebooks.py); each randomized check runs 20 seeds, the
    exploration one."""
    report = check(RaftLab(RAFT.RaftNode), part=part, seeds=2, timing=False)
    assert report.passed, str(report)
    assert [r.check.seeds for r in report.results] == [20] * (checks - 1) + [1]


def assert_not_implemented(node, part: str, checks: int):
    """``node`` fails each of the ``checks`` checks of ``part`` as not implemented (a clean
    report, not a crash); the report."""
    report = check(RaftLab(node), part=part, timing=False)
    assert len(report.failed) == len(report.results) == checks
    assert {f.kind for f in report.failures} == {"not implemented"}
    return report
