"""Lab 6: MapReduce -- the reference solution passes, and each classic mistake is caught.

The reference solution is that of ``solutions/lab06-mapreduce.ipynb``, loaded from the
notebook itself (`notebook_code.solution`). Each broken variant subclasses a reference class
and changes one thing, a mistake students make; the check written for it must catch it and
say what went wrong in words a student can act on.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import nbformat
import pytest

from distlab.compute.jobs import documents, inverted_index, word_count
from distlab.compute.mapreduce import Coordinator as LibraryCoordinator
from distlab.compute.messages import (MapTask, ReduceTask, TaskDone, Wait, intermediate_file,
                                      output_file)
from distlab.compute.model import Job, encode, run_sequential
from distlab.grading import check
from distlab.labs.lab06_mapreduce import (N_INPUTS, N_REDUCE, WORDS, DaskLab, MapReduceLab,
                                          judge_dask, run_here)
from distlab.sim import ConfigurationError

from notebook_code import failures, solution

MR = solution("lab06-mapreduce")
SOLUTION = Path(__file__).parents[2] / "solutions" / "lab06-mapreduce.ipynb"


def lab(coordinator=MR.Coordinator, worker=MR.Worker):
    return MapReduceLab(coordinator, worker)


def failure_of(report, name):
    """The first failure of check ``name`` in ``report`` (which must have failed it)."""
    assert name in report.failed, str(report)
    return next(f for f in report.failures if f.check == name)


class NoBackups(MR.Coordinator):
    """Never hands out a second copy of a running task (no backup tasks)."""

    def next_task(self, worker):
        answer = super().next_task(worker)
        if isinstance(answer, (MapTask, ReduceTask)):
            kind = "map" if isinstance(answer, MapTask) else "reduce"
            copies = self.running[kind, answer.task]
            if len(copies) > 1:
                del copies[worker]
                return Wait()
        return answer


class NeverReassigns(NoBackups):
    """Hands each task out once, and never again: no timeout, no backup."""

    def on_timer(self, name):
        self.set_timer(MR.TASK_TIMEOUT / 4, name)


class EagerReduces(MR.Coordinator):
    """Starts the reduce tasks once every map task is handed out, not once every one is done."""

    def next_task(self, worker):
        maps = [("map", m) for m in range(len(self.inputs))]
        running = {t for t in maps if self.running.get(t) and t not in self.finished}
        if not running or any(t not in self.finished | running for t in maps):
            return super().next_task(worker)
        self.finished |= running  # as if the running maps were done, for this decision
        answer = super().next_task(worker)
        self.finished -= running
        return answer


class CountsEveryReport(MR.Coordinator):
    """Counts TaskDone messages, and is done after M + R of them, whatever tasks they name."""

    def __init__(self, inputs, n_reduce):
        super().__init__(inputs, n_reduce)
        self.reports = 0

    def on_message(self, src, msg):
        if not isinstance(msg, TaskDone):
            return super().on_message(src, msg)
        self.reports += 1
        self.running.get((msg.kind, msg.task), {}).pop(src, None)
        self.finished.add((msg.kind, msg.task))
        self.done = self.reports >= len(self.inputs) + self.n_reduce
        self.send(src, self.next_task(src))


class OneAtATime(MR.Coordinator):
    """Hands out a task only when no other is running."""

    def next_task(self, worker):
        if any(self.running.values()) and not self.done:
            return Wait()
        return super().next_task(worker)


class HandsOutRunningTasks(MR.Coordinator):
    """Forgets which tasks are running: every request gets the first task not done."""

    def next_task(self, worker):
        self.running.clear()
        return super().next_task(worker)


class WritesOutputInPlace(MR.Worker):
    """Streams a reduce task's output straight into mr-out-<r>, without a temporary file."""

    def on_timer(self, name):
        if name != "reduce":
            return super().on_timer(name)
        self.files.append(output_file(self.task.task), encode(self.output[:1]))
        self.output = self.output[1:]
        if self.output:
            self.set_timer(self.step, "reduce")
        else:
            self.report("reduce")


class WritesIntermediateInPlace(MR.Worker):
    """Appends a map task's partitions straight to their intermediate files: a second copy of
    the task (a backup, a re-execution) appends them again."""

    def on_timer(self, name):
        if name != "map":
            return super().on_timer(name)
        for r, pairs in enumerate(self.output):
            self.files.append(intermediate_file(self.task.task, r), encode(pairs))
        self.report("map")


class ExitsWhenIdle(MR.Worker):
    """Takes Wait() to mean that there is no more work, and exits."""

    def on_message(self, src, msg):
        if isinstance(msg, Wait) and self.task is None:
            self.exited = True
            return
        super().on_message(src, msg)


class SkipsTheWork(MR.Worker):
    """Reports a map task done at once, without letting its processing time pass."""

    def on_message(self, src, msg):
        super().on_message(src, msg)
        if isinstance(msg, MapTask) and self.task is msg:
            self.cancel_timer("map")
            self.on_timer("map")


def test_the_mapreduce_solution_passes_every_check():
    # two seeds of each check, here in a plain process; every seed of every check runs in the
    # solution notebook, under strict nbval (tests/labs/test_lab_notebooks.py)
    report = check(lab(), seeds=2, timing=False)
    assert report.passed, str(report)
    assert [r.check.seeds for r in report.results] == [10, 10, 5, 5, 5, 15, 15, 15]


class NeverAsksAgain(MR.Worker):
    """Sends its request once and waits for the answer for ever: a lost message stops it."""

    def ask(self, msg):
        self.send("coordinator", msg)


def test_a_worker_that_never_asks_again_is_caught_on_an_unreliable_network():
    report = check(lab(worker=NeverAsksAgain), timing=False, seeds=3)
    assert report.failed == ["test_unreliable_network_B"], str(report)
    explanation = failure_of(report, "test_unreliable_network_B").explanation
    assert "had not exited by the end of the run" in explanation
    assert "must ask again after a while" in explanation


def test_a_coordinator_that_never_reassigns_is_caught_by_crash_recovery():
    report = check(lab(NeverReassigns), name="test_crash_recovery_B", timing=False)
    failure = failure_of(report, "test_crash_recovery_B")
    assert "done was still False at the end of the run" in failure.explanation
    assert "handed out again" in failure.explanation


def test_output_written_in_place_is_caught_at_once():
    report = check(lab(worker=WritesOutputInPlace), name="test_word_count_A", timing=False)
    failure = failure_of(report, "test_word_count_A")
    assert failure.summary == "violated: the rules of MapReduce hold at every moment"
    assert "appended to mr-out-" in failure.explanation
    assert "Write to a temporary file, and rename it" in failure.explanation


def test_intermediate_files_written_in_place_are_caught_when_a_map_task_runs_twice():
    report = check(lab(worker=WritesIntermediateInPlace), part="B", timing=False)
    assert report.failed == ["test_unreliable_network_B"], str(report)
    explanation = failure_of(report, "test_unreliable_network_B").explanation
    assert "the coordinator said the job was done" in explanation
    assert "replace its files, not add to them" in explanation


def test_a_worker_that_exits_early_is_caught():
    report = check(lab(worker=ExitsWhenIdle), name="test_word_count_A", timing=False)
    failure = failure_of(report, "test_word_count_A")
    assert "exited at t=" in failure.explanation
    assert "before the job was done" in failure.explanation


def test_reduce_tasks_started_before_the_maps_are_done_are_caught():
    report = check(lab(EagerReduces), name="test_word_count_A", timing=False)
    failure = failure_of(report, "test_word_count_A")
    assert "handed out reduce task" in failure.explanation
    assert "of the 8 map tasks had been reported done" in failure.explanation


def test_without_backup_tasks_a_straggler_blows_the_bound():
    assert check(lab(NoBackups), part="A", timing=False).passed
    report = check(lab(NoBackups), name="test_straggler_B", timing=False)
    failure = failure_of(report, "test_straggler_B")
    assert "later than 1000 ms" in failure.explanation


def test_a_task_counted_done_twice_ends_the_job_too_early():
    report = check(lab(CountsEveryReport), part="B", timing=False)
    assert "test_unreliable_network_B" in report.failed
    for failure in report.failures:
        if failure.check in ("test_straggler_B", "test_unreliable_network_B"):
            assert "said the job was done at t=" in failure.explanation
            assert "count a task done once only" in failure.explanation


def test_one_task_at_a_time_is_caught_by_the_parallelism_checks():
    report = check(lab(OneAtATime), part="A", timing=False)
    assert {"test_map_parallelism_A", "test_reduce_parallelism_A"} <= set(report.failed)
    assert failures(report)["test_map_parallelism_A"] == (
        "violated: at least 2 workers run map tasks at the same time")


def test_handing_out_running_tasks_is_caught_by_the_task_count():
    report = check(lab(HandsOutRunningTasks), name="test_task_count_A", timing=False)
    failure = failure_of(report, "test_task_count_A")
    assert failure.summary.startswith("violated: exactly 8 map and 3 reduce tasks")


def test_a_worker_that_skips_the_processing_time_is_caught():
    report = check(lab(worker=SkipsTheWork), name="test_word_count_A", timing=False)
    failure = failure_of(report, "test_word_count_A")
    assert "reported map task" in failure.explanation
    assert "wait that long (a timer) before finishing" in failure.explanation


def test_the_library_framework_is_refused():
    with pytest.raises(ConfigurationError, match="built on the library's own MapReduce"):
        lab(LibraryCoordinator)

    class Borrows(MR.Worker):
        def on_start(self):
            LibraryCoordinator.on_start(self)

    with pytest.raises(ConfigurationError, match="uses the library's own MapReduce"):
        lab(worker=Borrows)


# -- part C (optional): the student's map and reduce functions on Dask ---------------------------
# Dask ships a function of a notebook (module ``__main__``) by value, with what it uses, and
# any other by reference, to be imported again in the worker. The solution's part C cell is
# therefore run here as a notebook runs it, and the mistakes below are marked as notebook code.
def notebook_cell(cell_id: str) -> dict:
    """The names a code cell of the solution notebook defines, run as ``__main__``."""
    source = next(cell.source for cell in nbformat.read(SOLUTION, as_version=4).cells
                  if cell.get("id") == cell_id)
    names = {"__name__": "__main__"}
    exec(compile(source, f"<{SOLUTION.name}:{cell_id}>", "exec"), names)  # noqa: S102
    return names


def in_a_notebook(function):
    """``function``, shipped to Dask as a function of a notebook is (by value)."""
    function.__module__ = "__main__"
    return function


PART_C = notebook_cell("lab06-14")
INPUTS = documents(N_INPUTS, WORDS, seed=1)
MY_JOBS = (PART_C["my_word_count"], PART_C["my_inverted_index"])


def dask_failure(*jobs):
    """Part C's failure for ``jobs`` (which must fail it)."""
    report = check(DaskLab(*jobs), part="C", timing=False)
    return failure_of(report, "test_same_output_on_dask_C")


def shown_as_python_does(message, category, filename, lineno, file=None, line=None):
    """`warnings.showwarning` as outside pytest (which records warnings instead): written on
    ``sys.stderr``, as it is when the warning comes."""
    (file or sys.stderr).write(warnings.formatwarning(message, category, filename, lineno, line))


@pytest.mark.timeout(150)
def test_the_solution_gives_the_same_output_on_dask_and_prints_only_its_report_when_busy(
        slow_dask_scratch, monkeypatch, capsys):
    # what the check's run prints is printed with the report (a student's own prints), and
    # Dask's cluster starts in that run: on a busy machine its warning of a slow scratch
    # directory was printed in the notebook cell, which strict nbval did not expect
    monkeypatch.setattr(warnings, "showwarning", shown_as_python_does)
    report = check(DaskLab(*MY_JOBS), part="C", timing=False)
    assert report.passed, str(report)
    assert report.results[0].real
    assert capsys.readouterr().out == f"{report}\n"


@in_a_notebook
def untouched_map(name, text):
    raise NotImplementedError()


def test_the_untouched_part_c_fails_at_once_as_not_implemented():
    untouched = Job("untouched", untouched_map, untouched_map)
    summary = dask_failure(untouched, untouched).summary
    assert summary == "not implemented yet: untouched_map", summary


TALLY: dict[str, int] = {}


@in_a_notebook
def map_into_a_tally(name, text):
    """A word count's map that also adds each word to a global tally..."""
    for word, one in PART_C["map_words"](name, text):
        TALLY[word] = TALLY.get(word, 0) + 1
        yield word, one


@in_a_notebook
def reduce_from_the_tally(word, counts):
    """... which reduce reads instead of its values: right in one process only."""
    return str(TALLY[word])


@pytest.mark.timeout(150)
def test_map_and_reduce_talking_through_a_global_variable_are_caught_on_dask():
    tally = Job("tally", map_into_a_tally, reduce_from_the_tally)
    TALLY.clear()
    assert run_here(tally, INPUTS) == run_sequential(word_count, INPUTS, N_REDUCE).as_dict()
    TALLY.clear()
    explanation = dask_failure(tally, PART_C["my_inverted_index"]).explanation
    assert "your word count failed on Dask (KeyError" in explanation, explanation
    assert "a global variable that map fills and reduce reads" in explanation


LOG = open(os.devnull, "w")  # noqa: SIM115 - open for the module's life, as a notebook's would be


@in_a_notebook
def map_documents_with_a_log(name, text):
    """An inverted index's map that logs each document it reads to a file open for writing:
    fine in one process, but an open file cannot be pickled."""
    LOG.write(f"mapping {name}\n")
    yield from PART_C["map_documents"](name, text)


@pytest.mark.timeout(150)
def test_a_map_writing_to_an_open_file_cannot_travel_to_dask():
    logged = Job("logged", map_documents_with_a_log, PART_C["reduce_documents"])
    assert run_here(logged, INPUTS) == run_sequential(inverted_index, INPUTS, N_REDUCE).as_dict()
    explanation = dask_failure(PART_C["my_word_count"], logged).explanation
    assert "your inverted index failed on Dask" in explanation, explanation
    assert "an open file" in explanation and "cannot travel" in explanation


@in_a_notebook
def reduce_documents_in_set_order(word, names):
    """An inverted index's reduce that forgets to sort: a set's order, not the names' order."""
    return ",".join(set(names))


@pytest.mark.timeout(150)
def test_a_reduce_in_set_order_is_caught_even_in_one_process():
    unsorted = Job("unsorted", PART_C["map_documents"], reduce_documents_in_set_order)
    explanation = dask_failure(PART_C["my_word_count"], unsorted).explanation
    assert "your inverted index is wrong even in one process: key " in explanation, explanation


def test_part_c_refuses_the_library_jobs_and_what_is_not_a_job():
    with pytest.raises(ValueError, match="write your own map and reduce functions"):
        DaskLab(word_count, PART_C["my_inverted_index"])
    with pytest.raises(TypeError, match=r"takes a Job\(name, map, reduce\)"):
        DaskLab(PART_C["map_words"], PART_C["my_inverted_index"])


def test_part_c_judges_what_it_observed_not_what_the_student_says():
    expected = {"word count": {"a": "2"}, "inverted index": {"a": "doc-0"}}
    right = {"here": dict(expected), "dask": dict(expected)}
    assert judge_dask(expected, right) is None
    assert "observed 'all good'" in judge_dask(expected, "all good").explanation
    other = {"here": dict(expected), "dask": {**expected, "word count": {"a": "1"}}}
    assert "another output on Dask" in judge_dask(expected, other).explanation
