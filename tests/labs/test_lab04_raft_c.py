"""Lab 4: Raft, part C -- persistence: the reference passes, the skeleton fails, and classic
bugs are caught, each by a named check that names the rule broken.

Each broken variant subclasses the reference solution of ``solutions/lab04-raft.ipynb`` and
changes one thing, a mistake students make.
"""

from __future__ import annotations

from pathlib import Path

from distlab.grading import check, replay
from distlab.labs.lab04_raft import RaftLab, explore_persistence

from notebook_code import solution

RAFT = solution("lab04-raft")
SKELETON = solution("lab04-raft", Path(__file__).resolve().parents[2] / "labs")
CHECKS_C = 9


class ForgetsLogOnRestart(RAFT.RaftNode):
    """Keeps its log in memory only: a restart brings it back empty."""

    def __init__(self):
        super().__init__()
        self.log = []


class CommitsOldTermByCounting(RAFT.RaftNode):
    """Commits the highest index stored on a majority, whatever the term of its entry."""

    def advance_commit_index(self):
        for index in range(len(self.log), self.commit_index, -1):
            stored = 1 + sum(1 for match in self.match_index.values() if match >= index)
            if stored >= self.majority():
                self.commit_index = index
                self.apply_committed()
                break


def first_failure(node, name):
    """The failure of check ``name`` for class ``node`` (it must fail)."""
    report = check(RaftLab(node), name=name, timing=False)
    assert report.failed == [name], str(report)
    return report.failures[0]


# -- the reference and the skeleton ----------------------------------------------------------

def test_the_reference_solution_passes_every_check_of_part_c():
    # two seeds of each check, here in a plain process; every seed of every check runs in the
    # solution notebook, under strict nbval (tests/labs/test_lab_notebooks.py)
    report = check(RaftLab(RAFT.RaftNode), part="C", seeds=2, timing=False)
    assert report.passed, str(report)
    assert [r.check.seeds for r in report.results] == [20] * (CHECKS_C - 1) + [1]


def test_the_untouched_skeleton_fails_every_check_of_part_c_as_not_implemented():
    report = check(RaftLab(SKELETON.RaftNode), part="C", timing=False)
    assert len(report.failed) == len(report.results) == CHECKS_C
    assert {f.kind for f in report.failures} == {"not implemented"}


# -- each classic mistake, caught by a named check ------------------------------------------

def test_a_log_kept_in_memory_only_is_caught_after_a_restart():
    failure = first_failure(ForgetsLogOnRestart, "test_persist_restart_C")
    assert failure.summary == ("violated: every server applies the same command at the same "
                               "index (State Machine Safety)")
    assert "keep it in self.storage" in failure.explanation


def test_the_figure8_script_catches_a_commit_by_counting_an_older_terms_replicas():
    failure = first_failure(CommitsOldTermByCounting, "test_figure8_C")
    assert failure.summary.startswith("violated: a leader commits an entry only of its own "
                                      "term")
    assert "an entry of term 1" in failure.explanation


def test_the_figure8_script_plays_as_the_figure_says():
    # (d): n5's entry of term 2 replaces 102, which a majority stored in (c), on every server
    sim = replay(RaftLab(RAFT.RaftNode).test_figure8_C, seed=3)
    elected = [dict(e.data.details)["server"] for e in sim.trace
               if e.kind == "note" and e.data.what == "elect"]
    assert elected[0] == "n1" and elected[-1] == "n5"
    for node_id in ("n1", "n2", "n3", "n4", "n5"):
        assert sim.nodes[node_id].log[1] == RAFT.Entry(2, 103)


def test_the_exploration_of_part_c_passes_the_reference():
    assert explore_persistence(RAFT.RaftNode).status == "no violation"
