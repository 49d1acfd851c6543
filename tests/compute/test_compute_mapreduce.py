"""Tests of distlab.compute.mapreduce (with its files, invariants and runs): the framework's
output equals the sequential reference under crashes, stragglers, loss and duplication; backup
tasks shorten a straggling job; locality keeps input off the network; the invariants catch a
worker that writes its output in place."""

from __future__ import annotations

import statistics

import pytest

from distlab.check.invariants import InvariantViolation, watch
from distlab.compute import jobs
from distlab.compute.files import FileUnavailable, SharedFiles, file_ops, processing_time
from distlab.compute.invariants import (OutputCommitted, in_place_writes, output_problems,
                                        replay_files)
from distlab.compute.mapreduce import TIMEOUT, Coordinator, Worker
from distlab.compute.messages import output_file
from distlab.compute.model import encode, run_sequential
from distlab.compute.runs import cluster, completion_times, input_bytes_moved, run_job
from distlab.sim import Network, Simulation, Uniform

DOCS = jobs.documents(8, 150, seed=1)


@pytest.mark.parametrize("job, inputs, n_reduce", [
    (jobs.word_count, DOCS, 3), (jobs.inverted_index, DOCS, 2), (jobs.join, jobs.tables(), 2),
    (jobs.sort_job(("h", "p")), jobs.records(4), 3)])
def test_every_job_gives_the_sequential_answer(job, inputs, n_reduce):
    run = run_job(job, inputs, n_reduce=n_reduce, seed=4)
    assert run.finished_at is not None and run.problems == []
    assert run.files.outputs() == {output_file(r): encode(p) for r, p in
                                   enumerate(run_sequential(job, inputs, n_reduce).partitions)}


def test_every_worker_exits_and_only_after_the_job_is_done():
    run = run_job(jobs.word_count, DOCS, seed=2)
    exits = [e.time for e in run.sim.trace.notes() if e.data.what == "exit"]
    assert len(exits) == 4 and min(exits) >= run.finished_at


@pytest.mark.parametrize("seed", range(6))
def test_a_worker_that_crashes_mid_task_is_replaced(seed):
    # w2 dies while running a task and stays down; without backups only the timeout saves it
    run = run_job(jobs.word_count, DOCS, seed=seed, backups=False, crashes=[(100, "w2")])
    assert run.problems == []
    timeouts = [e for e in run.sim.trace.notes() if e.data.what == "timeout"]
    assert [e.data["worker"] for e in timeouts] == ["w2"]
    assert run.finished_at > TIMEOUT  # it waited for the timeout


def test_crashes_in_the_reduce_phase_leave_no_partial_output():
    base = run_job(jobs.word_count, DOCS, seed=3)
    reduce_start = min(e.time for e in base.sim.trace.notes()
                       if e.data.what == "start" and e.data["kind"] == "reduce")
    run = run_job(jobs.word_count, DOCS, seed=3,
                  crashes=[(reduce_start + 30, "w1"), (reduce_start + 30, "w2")])
    assert run.problems == [] and in_place_writes(run.sim.trace, 3) == []
    partial = [path for path in run.files.files if path.startswith("tmp-mr-out")]
    assert partial  # the crashed copies left their temporary files, never a final one


def test_a_task_is_counted_done_once_though_two_copies_finish():
    run = run_job(jobs.word_count, DOCS, seed=5, slowdown={"w1": 8.0})
    done = [(e.data["kind"], e.data["task"]) for e in run.sim.trace.notes()
            if e.node == "coordinator" and e.data.what == "done"]
    assert sorted(done) == sorted(set(done)) and len(done) == 8 + 3
    backups = [e for e in run.sim.trace.notes() if e.data.what == "backup"]
    finishes = [e for e in run.sim.trace.notes() if e.data.what == "finish"]
    assert backups and len(finishes) > len(done)  # some backups finished too: not counted


def test_backup_tasks_cut_the_time_a_straggler_costs():
    without = completion_times(jobs.word_count, DOCS, range(6), backups=False)
    with_backups = completion_times(jobs.word_count, DOCS, range(6), backups=True)
    assert statistics.median(with_backups) < statistics.median(without) / 2


def test_locality_keeps_most_input_off_the_network():
    local = input_bytes_moved(jobs.word_count, DOCS, range(5), locality=True)
    anywhere = input_bytes_moved(jobs.word_count, DOCS, range(5), locality=False)
    assert statistics.mean(local) < statistics.mean(anywhere) / 2


@pytest.mark.parametrize("seed", range(4))
def test_loss_and_duplication_do_not_change_the_output(seed):
    network = Network(latency=Uniform(1, 5), loss=0.1, duplicate=0.1)
    run = run_job(jobs.word_count, DOCS, seed=seed, network=network, until=60_000)
    assert run.finished_at is not None and run.problems == []


def test_the_same_seed_gives_the_same_trace():
    one = run_job(jobs.word_count, DOCS, seed=7, crashes=[(120, "w3")])
    two = run_job(jobs.word_count, DOCS, seed=7, crashes=[(120, "w3")])
    assert one.sim.trace.dumps() == two.sim.trace.dumps()


class InPlaceWorker(Worker):
    """Streams its reduce output straight into mr-out-<r>: no temporary file, no rename."""

    def temporary(self):
        return output_file(self.task.task)

    def step(self):
        if self.pending:
            self.set_timer(self.step_ms, "work")
        else:
            self.finish("reduce")


def test_the_invariants_catch_output_written_in_place():
    base = run_job(jobs.word_count, DOCS, seed=3)
    reduce_start = min(e.time for e in base.sim.trace.notes()
                       if e.data.what == "start" and e.data["kind"] == "reduce")
    run = run_job(jobs.word_count, DOCS, seed=3, worker=InPlaceWorker,
                  crashes=[(reduce_start + 30, "w1"), (reduce_start + 30, "w2")])
    assert in_place_writes(run.sim.trace, 3)
    assert any("written twice" in p or "in place" in p for p in run.problems)


def test_output_problems_say_what_is_wrong():
    expected = run_sequential(jobs.word_count, {"d": "a b b c"}, 1)
    right = encode(expected.partitions[0])
    assert output_problems({"mr-out-0": right}, expected) == []
    assert output_problems({}, expected) == ["mr-out-0 is missing"]
    assert "only the first 1 of its 3 lines" in output_problems(
        {"mr-out-0": right.splitlines(True)[0]}, expected)[0]
    assert "written twice" in output_problems({"mr-out-0": right + right}, expected)[0]
    assert "line 2: 'b\\t3', expected 'b\\t2'" in output_problems(
        {"mr-out-0": right.replace("b\t2", "b\t3")}, expected)[0]


def test_the_file_system_records_each_operation_and_counts_remote_bytes():
    sim = Simulation(seed=1)
    shared = SharedFiles(sim)
    shared.put("in", "hello", replicas=["w1"])
    w1, w2 = shared.client("w1"), shared.client("w2")
    assert w1.read("in") == w2.read("in") == "hello"
    assert shared.network_bytes == 5  # only w2's read crossed the network
    w2.append("tmp", "ab")
    w2.append("tmp", "c")
    w2.rename("tmp", "out")
    assert w2.is_local("out") and not w1.is_local("out")
    assert replay_files(file_ops(sim.trace)) == {"out": "abc"}
    assert [(op.node, op.op, op.remote) for op in file_ops(sim.trace)][:2] == [
        ("w1", "read", False), ("w2", "read", True)]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        w1.read("tmp")
    with pytest.raises(TypeError, match="files hold text"):
        w1.append("x", b"bytes")
    assert processing_time(1000, 1000, 2.0) == 250.0
    with pytest.raises(ValueError, match="slowdown > 0"):
        processing_time(10, 0, 0)


def test_the_output_invariant_catches_a_done_that_comes_too_early():
    expected = run_sequential(jobs.word_count, DOCS, 3)
    run = run_job(jobs.word_count, DOCS, seed=1)
    invariant = OutputCommitted(expected)
    assert invariant.check(run.sim) is None  # the whole trace, once: all is well

    class HastyCoordinator(Coordinator):
        """Says done once the map tasks are done."""

        def on_message(self, src, msg):
            super().on_message(src, msg)
            self.done = self.done or all(t.done for t in self.maps)

    sim, _ = cluster(jobs.word_count, DOCS, seed=1, coordinator=HastyCoordinator)
    watch(sim, invariant)
    with pytest.raises(InvariantViolation, match="the coordinator is done, but mr-out-0 is "
                       "missing"):
        sim.run(until=5_000)


@pytest.mark.parametrize("seed", range(4))
def test_map_outputs_lost_with_their_machine_are_computed_again(seed):
    base = run_job(jobs.word_count, DOCS, seed=seed)
    reduce_start = min(e.time for e in base.sim.trace.notes()
                       if e.data.what == "start" and e.data["kind"] == "reduce")
    # w3 dies just before the reduce phase, with the outputs of its finished map tasks
    run = run_job(jobs.word_count, DOCS, seed=seed, local_outputs=True,
                  crashes=[(reduce_start - 5, "w3")])
    assert run.problems == []
    lost = {e.data["task"] for e in run.sim.trace.notes() if e.data.what == "lost"}
    mapped_by_w3 = {e.data["task"] for e in base.sim.trace.notes()
                    if e.node == "w3" and e.data.what == "finish" and e.data["kind"] == "map"}
    assert lost and lost <= mapped_by_w3
    shared = run_job(jobs.word_count, DOCS, seed=seed, crashes=[(reduce_start - 5, "w3")])
    assert not [e for e in shared.sim.trace.notes() if e.data.what == "lost"]


def test_a_file_kept_on_a_machine_that_is_down_is_unavailable_until_it_restarts():
    sim = Simulation(seed=1)
    shared = SharedFiles(sim, local=lambda path: path.startswith("mr-"))
    w1, w2 = shared.client("w1"), shared.client("w2")
    w1.append("mr-0-0", "a\t1\n")
    w1.append("out", "x")
    sim.crashed.add("w1")  # as sim.crash does, without a node to crash
    with pytest.raises(FileUnavailable, match="mr-0-0 is kept only on w1, which is down"):
        w2.read("mr-0-0")
    assert w2.read("out") == "x"  # not a local file: still readable
    sim.crashed.discard("w1")
    assert w2.read("mr-0-0") == "a\t1\n"
