"""Tests of distlab.compute.scheduling: every task runs once, on one slot at a time; FIFO
makes short jobs wait behind a long one and fair sharing does not; delay scheduling buys
locality back."""

from __future__ import annotations

import statistics

import pytest

from distlab.compute.scheduling import completion_times, locality, schedule, workload

MACHINES = [f"m{i}" for i in range(1, 11)]
SEEDS = range(6)


def runs(policy, delay=0.0):
    for seed in SEEDS:
        jobs = workload(MACHINES, seed=seed, big_tasks=60, small_jobs=6, small_tasks=3)
        yield jobs, schedule(jobs, MACHINES, policy=policy, delay=delay)


@pytest.mark.parametrize("policy,delay", [("fifo", 0.0), ("fair", 0.0), ("fair", 2.0)])
def test_every_task_runs_once_and_a_slot_runs_one_task_at_a_time(policy, delay):
    for jobs, placements in runs(policy, delay):
        assert sorted((p.job, p.task) for p in placements) == sorted(
            (t.job, t.index) for job in jobs for t in job.tasks)
        by_slot = {}
        for p in sorted(placements, key=lambda p: p.start):
            assert p.start >= by_slot.get((p.machine, p.slot), 0.0) - 1e-9
            by_slot[p.machine, p.slot] = p.end
        submitted = {job.name: job.submit for job in jobs}
        assert all(p.start >= submitted[p.job] for p in placements)


def test_fifo_starts_no_query_task_while_the_big_job_has_tasks_left():
    for _, placements in runs("fifo"):
        last_big = max(p.start for p in placements if p.job == "big")
        assert min(p.start for p in placements if p.job != "big") >= last_big


def mean_query_time(policy, delay=0.0):
    return statistics.mean(statistics.mean(t for job, t in completion_times(p, jobs).items()
                                           if job != "big") for jobs, p in runs(policy, delay))


def test_fair_sharing_finishes_short_jobs_much_sooner_than_fifo():
    assert mean_query_time("fair") < mean_query_time("fifo") / 2


def test_delay_scheduling_raises_the_locality_of_short_jobs():
    def query_locality(delay):
        return statistics.mean(locality(p, [j.name for j in jobs[1:]])
                               for jobs, p in runs("fair", delay))
    assert query_locality(0.0) < 0.6 and query_locality(1.0) > 0.9


def test_remote_tasks_take_longer():
    for jobs, placements in runs("fair"):
        duration = {(t.job, t.index): t.duration for job in jobs for t in job.tasks}
        for p in placements:
            factor = 1.0 if p.local else 2.0
            assert p.end - p.start == pytest.approx(duration[p.job, p.task] * factor)


def test_bad_arguments_are_refused_with_a_message():
    jobs = workload(MACHINES)
    with pytest.raises(ValueError, match="policy must be one of"):
        schedule(jobs, MACHINES, policy="lifo")
    with pytest.raises(ValueError, match="slots >= 1"):
        schedule(jobs, MACHINES, slots=0)
    with pytest.raises(ValueError, match="replicas must be 1 to 10"):
        workload(MACHINES, replicas=11)
    with pytest.raises(ValueError, match="locality is undefined"):
        locality([])
