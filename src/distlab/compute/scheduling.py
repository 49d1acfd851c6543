"""Sharing a cluster between jobs: FIFO and fair scheduling, and delay scheduling.

A cluster of machines, each with a few *slots* (one task at a time each), runs several jobs
at once: a long batch job and short interactive queries that arrive while it runs. When a
slot frees, the scheduler chooses which job's task runs next:

* **FIFO** (Hadoop's first scheduler): the job submitted first, until it has no task left.
  A short query submitted behind a long job waits for all of it.
* **Fair sharing**: the job with the fewest running tasks, so that every job gets about the
  same share of the slots and a short job finishes in about its own time.

Each task reads an input with replicas on a few machines (`TaskSpec.replicas`); run
elsewhere, it fetches the input over the network and takes ``remote_factor`` times longer.
Fair sharing hurts locality: the job whose turn it is seldom has its input on the one slot
that just freed. **Delay scheduling** (Zaharia et al. {cite:p}`zaharia2010delay`) lets that
job *skip* its turn -- the next job in fair order may have a local task -- for at most
``delay`` s, after which it runs a task anywhere. A short wait buys most of the locality
back, because slots free often.

`schedule` runs that event by event, with no simulated network: tasks take their duration.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

from distlab.sim import stream


@dataclass(frozen=True)
class TaskSpec:
    """One task: ``duration`` s when it reads its input locally; ``replicas`` the machines
    that hold that input."""

    job: str
    index: int
    duration: float
    replicas: tuple[str, ...]


@dataclass(frozen=True)
class JobSpec:
    """A job submitted at ``submit`` s, with its tasks (all independent: one stage)."""

    name: str
    submit: float
    tasks: tuple[TaskSpec, ...]


@dataclass(frozen=True)
class Placement:
    """Where and when a task ran: on slot ``slot`` of ``machine``, reading locally or not."""

    job: str
    task: int
    machine: str
    slot: int
    start: float
    end: float
    local: bool


POLICIES = ("fifo", "fair")


def schedule(jobs: Sequence[JobSpec], machines: Sequence[str], *, slots: int = 1,
             policy: str = "fair", delay: float = 0.0, remote_factor: float = 2.0
             ) -> list[Placement]:
    """Run ``jobs`` on ``machines`` (``slots`` each) under ``policy`` ("fifo" or "fair"),
    with delay scheduling if ``delay`` > 0, and return every task's placement in start
    order. Deterministic: ties go to the earlier job, machine and task."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}; got {policy!r}")
    if not machines or slots < 1 or delay < 0 or remote_factor < 1:
        raise ValueError(f"need machines, slots >= 1, delay >= 0 and remote_factor >= 1; got "
                         f"{len(machines)} machines, slots={slots}, delay={delay}, "
                         f"remote_factor={remote_factor}")
    order = {job.name: n for n, job in enumerate(sorted(jobs, key=lambda j: j.submit))}
    pending: dict[str, list[TaskSpec]] = {job.name: list(job.tasks) for job in jobs}
    submitted = {job.name: job.submit for job in jobs}
    running = {job.name: 0 for job in jobs}
    skipped_since: dict[str, float] = {}   # a job waiting for a local slot, since when
    free = [(m, s) for m in machines for s in range(slots)]
    events: list[tuple[float, int, str, str, int]] = []   # (time, kind, job, machine, slot)
    for job in jobs:
        heapq.heappush(events, (job.submit, 1, job.name, "", 0))
    placements: list[Placement] = []
    now = 0.0

    def candidates() -> list[str]:
        ready = [j for j in pending if pending[j] and submitted[j] <= now]
        if policy == "fifo":
            return sorted(ready, key=lambda j: order[j])
        return sorted(ready, key=lambda j: (running[j], order[j]))

    def assign(machine: str, slot: int) -> bool:
        for name in candidates():
            tasks = pending[name]
            local = [t for t in tasks if machine in t.replicas]
            if not local and now < skipped_since.setdefault(name, now) + delay:
                continue  # skip this job's turn: wait a little for a local slot
            task = (local or tasks)[0]
            tasks.remove(task)
            skipped_since.pop(name, None)
            duration = task.duration * (1 if local else remote_factor)
            placements.append(Placement(name, task.index, machine, slot, now, now + duration,
                                        bool(local)))
            running[name] += 1
            heapq.heappush(events, (now + duration, 0, name, machine, slot))
            return True
        return False

    while events:
        now, kind, name, machine, slot = heapq.heappop(events)
        if kind == 0:
            running[name] -= 1
            free.append((machine, slot))
        for m, s in sorted(free):
            if assign(m, s):
                free.remove((m, s))
        waiting = [since + delay for j, since in skipped_since.items() if pending[j]]
        wake = min(waiting, default=now)
        if free and wake > now and not any(e[0] <= wake for e in events):
            heapq.heappush(events, (wake, 2, "", "", 0))  # wake up when a wait ends
    return placements


def completion_times(placements: Sequence[Placement], jobs: Sequence[JobSpec]
                     ) -> dict[str, float]:
    """For each job, the time from its submission to the end of its last task."""
    ends: dict[str, float] = {}
    for p in placements:
        ends[p.job] = max(ends.get(p.job, 0.0), p.end)
    return {job.name: ends[job.name] - job.submit for job in jobs}


def locality(placements: Sequence[Placement], jobs: Sequence[str] | None = None) -> float:
    """The fraction of tasks (of the jobs named, or of all) that read their input locally."""
    if jobs is not None:
        placements = [p for p in placements if p.job in jobs]
    if not placements:
        raise ValueError("no task ran: locality is undefined")
    return sum(p.local for p in placements) / len(placements)


def workload(machines: Sequence[str], *, seed: int = 0, big_tasks: int = 40,
             small_jobs: int = 4, small_tasks: int = 4, replicas: int = 2,
             spacing: float = 4.0) -> list[JobSpec]:
    """A long batch job ``big`` submitted at 0 (``big_tasks`` tasks of 2-4 s) and
    ``small_jobs`` short queries ``q1``, ... (``small_tasks`` tasks of about 1 s each)
    submitted every ``spacing`` s from 1 s on. Each task's input is on ``replicas`` random
    machines."""
    if not 1 <= replicas <= len(machines):
        raise ValueError(f"replicas must be 1 to {len(machines)}; got {replicas}")
    rng = stream(seed, "compute-workload")

    def tasks(job: str, n: int, low: float, high: float) -> tuple[TaskSpec, ...]:
        return tuple(TaskSpec(job, i, round(rng.uniform(low, high), 2),
                              tuple(sorted(rng.sample(list(machines), replicas))))
                     for i in range(n))

    jobs = [JobSpec("big", 0.0, tasks("big", big_tasks, 2.0, 4.0))]
    jobs += [JobSpec(f"q{k}", 1.0 + (k - 1) * spacing, tasks(f"q{k}", small_tasks, 0.8, 1.2))
             for k in range(1, small_jobs + 1)]
    return jobs
