"""Lab 6: MapReduce -- a coordinator and its workers (the notebook ``lab06-mapreduce.ipynb``).

Dean and Ghemawat {cite:p}`dean2004mapreduce`, in the shape of the classic course's lab: the
student writes the coordinator, which hands out M map tasks and then R reduce tasks, and the
worker, which asks for tasks and runs them over a shared file system. This module holds what
the student does not write -- the messages (`distlab.compute.messages`), the file system
(`distlab.compute.files`), the map and reduce helpers (`distlab.compute.model`), the jobs
(`distlab.compute.jobs`) -- and the checks.

The checks see only the trace (every message, and every file operation, which the shared file
system records) and two attributes: the coordinator's ``done`` (True once the job is
finished) and each worker's ``exited`` (True once it has stopped for good). What they judge:

* the output files hold exactly what the sequential reference computes
  (`distlab.compute.model.run_sequential`), and the coordinator says ``done`` only then;
* an output file ``mr-out-<r>`` appears whole, by a rename, and never changes afterwards;
* no reduce task is handed out before every map task has been reported done;
* a task takes the time its machine needs (`distlab.compute.files.processing_time`);
* no worker exits before the job is done, and every live worker exits after it;
* several workers run map tasks at once, and several run reduce tasks at once;
* on a healthy cluster, exactly M map and R reduce tasks are handed out;
* workers that crash mid-task, a straggler ten times slower, lost and duplicated messages:
  the job still finishes, correctly, within a bound.

Part C, optional, is apart (`DaskLab`): the student's own word count and inverted index, run
in this process (`run_sequential`) and on a real engine, a local Dask cluster of two worker
processes (`distlab.compute.dask_engine`); both outputs must equal the library's jobs'. It
catches what only a real engine shows: functions that talk through a global variable (each
worker process has its own) and functions that hold what cannot be shipped to another process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from distlab.compute.dask_engine import dask_cluster, submit_job
from distlab.compute.files import FileOp, SharedFiles, apply, file_op, processing_time
from distlab.compute.invariants import output_problems
from distlab.compute.jobs import documents, inverted_index, word_count
from distlab.compute.messages import (Exit, GetTask, MapTask, ReduceTask, TaskDone, Wait,
                                      intermediate_file, output_file)
from distlab.compute.model import Job, map_task, reduce_task, run_sequential
from distlab.grading.lab import Lab, Scenario, Trial, graded, own_code
from distlab.grading.properties import Run, TraceProperty, Violation
from distlab.sim import Network, Node, Uniform, stream

__all__ = [
    "CRASH_BOUND", "DaskLab", "Exit", "GetTask", "HEALTHY_BOUND", "MapReduceLab", "MapTask",
    "ReduceTask", "STRAGGLER_BOUND", "SLOWDOWN", "TaskDone", "Wait", "intermediate_file",
    "output_file", "processing_time",
]

#: the library's framework: a student's classes may neither subclass nor import it
LIBRARY_MAPREDUCE = ("distlab.compute.mapreduce", "distlab.compute.runs")
#: where the library's jobs live: part C wants the student's own functions
LIBRARY_JOBS = "distlab.compute.jobs"
#: the workers of every check
WORKERS = ("w1", "w2", "w3", "w4")
#: input files and reduce partitions of the checks
N_INPUTS = 8
N_REDUCE = 3
#: words per input file: a healthy worker maps one in about 60 ms
WORDS = 150
#: a healthy cluster must finish the job within this many ms
HEALTHY_BOUND = 1_000.0
#: with workers crashing mid-task (a task presumed dead after about 2 s)
CRASH_BOUND = 6_000.0
#: how much slower the straggler is, and the bound with a straggler
SLOWDOWN = 10.0
STRAGGLER_BOUND = 1_000.0
#: with lost and duplicated messages
UNRELIABLE_BOUND = 8_000.0
#: real seconds part C may take: starting two Dask worker processes alone takes about 15 s
#: on a busy two-core machine
DASK_LIMIT = 100.0
#: real seconds each of its two jobs may take on the cluster (about one when all is well)
DASK_JOB_LIMIT = 30.0


def refuse_library(coordinator: type[Node], worker: type[Node]) -> None:
    """Refuse classes built on the library's own framework (`distlab.grading.lab.own_code`)."""
    own_code(coordinator, LIBRARY_MAPREDUCE, "MapReduce framework")
    own_code(worker, LIBRARY_MAPREDUCE, "MapReduce framework")


# -- reading a run --------------------------------------------------------------------------------
@dataclass
class Progress:
    """What a property has read of a run so far: the files, the map tasks reported done, and
    what each worker is doing."""

    files: dict[str, str]
    maps_done: set[int]
    busy: dict[str, tuple[str, float]]  # worker -> (kind, since when)
    read: dict[str, tuple[int, int]]  # worker -> (bytes read, bytes read remotely) this task


class MapReduceRules(TraceProperty):
    """The rules every run must keep, checked at every event: outputs appear whole and never
    change; reduce tasks wait for every map task; tasks take their time; no early exit."""

    description = "the rules of MapReduce hold at every moment"

    def __init__(self, n_map: int, slowdown: Mapping[str, float]):
        self.n_map = n_map
        self.slowdown = dict(slowdown)
        self.finals = {output_file(r) for r in range(N_REDUCE)}

    def begin(self, run: Run) -> None:
        run.state.progress = Progress({}, set(), {}, {})

    def observe(self, run: Run) -> str | Violation | None:
        progress = run.state.progress
        for event in run.new_events():
            problem = self.event(progress, event)
            if problem is not None:
                return Violation(self.description, problem, event.time)
        sim = run.sim
        if not getattr(sim.nodes["coordinator"], "done", False):
            for worker in WORKERS:
                if worker not in sim.crashed and getattr(sim.nodes[worker], "exited", False):
                    return (f"{worker} exited at t={sim.now:g} ms, before the job was done "
                            f"(the coordinator's done is still False): a worker must stay "
                            f"and ask for work until the coordinator answers Exit")
        return None

    def event(self, progress: Progress, event) -> str | None:
        """What ``event`` breaks, or None."""
        op = file_op(event)
        if op is not None:
            return self.file_event(progress, op)
        if event.kind == "deliver" and event.node in WORKERS:
            match event.data:
                case MapTask() | ReduceTask() if event.node not in progress.busy:
                    kind = "map" if isinstance(event.data, MapTask) else "reduce"
                    progress.busy[event.node] = (kind, event.time)
                    progress.read[event.node] = (0, 0)
        elif event.kind == "deliver" and event.node == "coordinator":
            match event.data:
                case TaskDone("map", task):
                    progress.maps_done.add(task)
        elif event.kind == "send" and event.node == "coordinator":
            match event.data:
                case ReduceTask(task) if len(progress.maps_done) < self.n_map:
                    return (f"the coordinator handed out reduce task {task} at "
                            f"t={event.time:g} ms, when only {len(progress.maps_done)} of the "
                            f"{self.n_map} map tasks had been reported done: a reduce task "
                            f"needs every map task's file of its partition")
        elif event.kind == "send" and event.node in progress.busy:
            match event.data:
                case TaskDone(kind, task):
                    return self.finished(progress, event.node, kind, task, event.time)
        elif event.kind == "crash":
            progress.busy.pop(event.node, None)
        return None

    def file_event(self, progress: Progress, op: FileOp) -> str | None:
        """What file operation ``op`` breaks, or None (it is replayed on ``progress.files``)."""
        files = progress.files
        if op.op == "append" and op.path in self.finals:
            return (f"{op.node} appended to {op.path} itself at t={op.time:g} ms: until the "
                    f"task ends the file is half-written, and a crash or a second copy of the "
                    f"task would leave it wrong. Write to a temporary file, and rename it to "
                    f"{op.path} when it is complete")
        if (op.op == "rename" and op.target in self.finals and op.target in files
                and files[op.target] != files.get(op.path, "")):
            return (f"{op.node} replaced {op.target} at t={op.time:g} ms with different "
                    f"content: an output file, once there, must never change")
        if op.op == "read" and op.node in progress.read:
            size, remote = progress.read[op.node]
            progress.read[op.node] = (size + op.size, remote + (op.size if op.remote else 0))
        apply(files, op)
        return None

    def finished(self, progress: Progress, worker: str, kind: str, task: int, time: float
                 ) -> str | None:
        """A worker reports a task done: it must have taken the time its machine needs."""
        _, since = progress.busy.pop(worker)
        size, remote = progress.read.pop(worker, (0, 0))
        slowdown = self.slowdown.get(worker, 1.0)
        needed = processing_time(size, remote, slowdown)
        if time - since < needed - 1e-6:
            return (f"{worker} reported {kind} task {task} done at t={time:g} ms, "
                    f"{time - since:g} ms after it got the task; but processing the {size:,} "
                    f"bytes it read takes {needed:g} ms on its machine (processing_time("
                    f"{size}, {remote}, {slowdown:g})): wait that long (a timer) before "
                    f"finishing")
        return None


class JobDone(TraceProperty):
    """The coordinator says ``done`` within ``within`` ms; at that moment every output file
    holds the reference's answer; every live worker has exited by the end of the run."""

    def __init__(self, expected, within: float):
        self.expected = expected
        self.within = within
        self.description = f"the job is done, with the right output, within {within:g} ms"

    def begin(self, run: Run) -> None:
        run.state.done_at = None
        run.state.problems = []
        run.state.read = 0
        run.state.files = {}

    def observe(self, run: Run) -> Violation | None:
        state = run.state
        for op in filter(None, map(file_op, run.sim.trace[state.read:])):
            apply(state.files, op)
        state.read = len(run.sim.trace)
        if state.done_at is None and getattr(run.sim.nodes["coordinator"], "done", False):
            state.done_at = run.sim.now
            problems = output_problems(state.files, self.expected)
            if problems:
                return Violation(self.description, (
                    f"the coordinator said the job was done at t={run.sim.now:g} ms, but "
                    f"{'; '.join(problems[:3])}: count a task done once only, however many "
                    f"of its copies report, and let a second copy of a task replace its "
                    f"files, not add to them (a temporary file, renamed)"), run.sim.now)
        return None

    def judge(self, run: Run) -> str | None:
        sim = run.sim
        if run.state.done_at is None:
            return (f"the coordinator's done was still False at the end of the run "
                    f"(t={sim.now:g} ms). A task whose worker crashed must be handed out "
                    f"again after a while")
        if run.state.done_at > self.within:
            return (f"the job was done only at t={run.state.done_at:g} ms, later than "
                    f"{self.within:g} ms")
        stayed = [w for w in WORKERS if w not in sim.crashed
                  and not getattr(sim.nodes[w], "exited", False)]
        if stayed:
            return (f"{', '.join(stayed)} had not exited by the end of the run "
                    f"(t={sim.now:g} ms): once the job is done, a worker that asks gets Exit "
                    f"and sets its exited to True; a worker whose request or answer was lost "
                    f"must ask again after a while")
        return None


class Parallel(TraceProperty):
    """At some moment, at least ``least`` workers were running ``kind`` tasks at once."""

    def __init__(self, kind: str, least: int = 2):
        self.kind = kind
        self.least = least
        self.description = f"at least {least} workers run {kind} tasks at the same time"

    def judge(self, run: Run) -> str | None:
        wanted = MapTask if self.kind == "map" else ReduceTask
        busy: set[str] = set()
        most = 0
        for event in run.sim.trace:
            if event.kind == "deliver" and isinstance(event.data, wanted):
                busy.add(event.node)
                most = max(most, len(busy))
            elif (event.kind == "send" and isinstance(event.data, TaskDone)
                  and event.data.kind == self.kind) or event.kind == "crash":
                busy.discard(event.node)
        if most >= self.least:
            return None
        return (f"at most {most} worker{'s' * (most != 1)} ran {self.kind} tasks at once: "
                f"hand an idle task to every worker that asks, without waiting for the "
                f"running ones to finish")


class TaskCount(TraceProperty):
    """On a healthy cluster, exactly ``n_map`` map and ``n_reduce`` reduce tasks are sent."""

    def __init__(self, n_map: int, n_reduce: int):
        self.n_map = n_map
        self.n_reduce = n_reduce
        self.description = (f"exactly {n_map} map and {n_reduce} reduce tasks are handed out "
                            f"when no worker fails or straggles")

    def judge(self, run: Run) -> str | None:
        sent = [e.data for e in run.sim.trace.of_kind("send") if e.node == "coordinator"]
        maps = sum(isinstance(m, MapTask) for m in sent)
        reduces = sum(isinstance(m, ReduceTask) for m in sent)
        if (maps, reduces) == (self.n_map, self.n_reduce):
            return None
        return (f"the coordinator handed out {maps} map and {reduces} reduce tasks: hand a "
                f"task out again only when its worker has been silent for long (crashed) or "
                f"is far slower than the others (a backup near the end)")


# -- the lab ------------------------------------------------------------------------------------
class MapReduceLab(Lab):
    """The checks of lab 6, for the student's coordinator and worker classes.

    The coordinator is created as ``coordinator(inputs=..., n_reduce=...)``, where ``inputs``
    maps each input file to the workers whose machines hold a replica of it; each worker as
    ``worker(job=..., files=..., slowdown=...)`` (its `distlab.compute.files.Files` handle,
    and how many times slower than a healthy machine it is).
    """

    title = "Lab 6: MapReduce"
    node_attributes = ("done", "exited")

    def __init__(self, coordinator: type[Node], worker: type[Node]):
        refuse_library(coordinator, worker)
        self.coordinator = coordinator
        self.worker = worker

    def scenario(self, seed: int, job: Job = word_count, *, crashes: int = 0,
                 straggler: bool = False, network: Network | None = None,
                 within: float = HEALTHY_BOUND, healthy: bool = False,
                 parallel: str | None = None) -> Scenario:
        """Eight input files, three reduce partitions, four workers; ``crashes`` workers
        crash at random moments of the job and stay down; with ``straggler`` one random
        worker is `SLOWDOWN` times slower."""
        inputs = documents(N_INPUTS, WORDS, seed=seed)
        rng = stream(seed, "lab6-scenario")
        placement = {path: tuple(sorted(rng.sample(WORKERS, 2))) for path in sorted(inputs)}
        slowdown = {rng.choice(WORKERS): SLOWDOWN} if straggler else {}
        crashed = [(rng.uniform(50, 600), worker) for worker in rng.sample(WORKERS, crashes)]
        expected = run_sequential(job, inputs, N_REDUCE)

        def setup(sim) -> None:
            files = SharedFiles(sim)
            for path in sorted(inputs):
                files.put(path, inputs[path], placement[path])
            sim.add_node(self.coordinator, "coordinator", inputs=placement, n_reduce=N_REDUCE)
            for worker in WORKERS:
                sim.add_node(self.worker, worker, job=job, files=files.client(worker),
                             slowdown=slowdown.get(worker, 1.0))
            for time, worker in crashed:
                sim.at(time, sim.crash, worker)

        properties: list[TraceProperty] = [MapReduceRules(N_INPUTS, slowdown)]
        if healthy:
            properties.append(TaskCount(N_INPUTS, N_REDUCE))
        if parallel is not None:
            properties.append(Parallel(parallel))
        properties.append(JobDone(expected, within))
        return Scenario(setup, run_for=within + 1_000,
                        network=network or Network(latency=Uniform(1, 5)),
                        properties=properties, wall_limit=5.0)

    # -- part A: a healthy cluster --------------------------------------------------------------
    @graded(part="A", seeds=10, description="word count on 4 healthy workers: the right "
            "output, written atomically, within 1 s; the workers exit after the job, not before")
    def test_word_count_A(self, seed: int) -> Scenario:
        return self.scenario(seed, word_count)

    @graded(part="A", seeds=10, description="inverted index on 4 healthy workers: the right "
            "output within 1 s")
    def test_inverted_index_A(self, seed: int) -> Scenario:
        return self.scenario(seed, inverted_index)

    @graded(part="A", seeds=5, description="map parallelism: several workers run map tasks "
            "at the same time")
    def test_map_parallelism_A(self, seed: int) -> Scenario:
        return self.scenario(seed, parallel="map")

    @graded(part="A", seeds=5, description="reduce parallelism: several workers run reduce "
            "tasks at the same time")
    def test_reduce_parallelism_A(self, seed: int) -> Scenario:
        return self.scenario(seed, parallel="reduce")

    @graded(part="A", seeds=5, description="the right number of tasks: 8 map and 3 reduce "
            "tasks, no more, on a healthy cluster")
    def test_task_count_A(self, seed: int) -> Scenario:
        return self.scenario(seed, healthy=True)

    # -- part B: failures --------------------------------------------------------------------
    @graded(part="B", seeds=15, description="crash recovery: 2 of the 4 workers crash "
            "mid-job and stay down; the job still finishes correctly within 6 s")
    def test_crash_recovery_B(self, seed: int) -> Scenario:
        return self.scenario(seed, crashes=2, within=CRASH_BOUND)

    @graded(part="B", seeds=15, description="a straggler 10 times slower: backup tasks "
            "finish the job within 1 s")
    def test_straggler_B(self, seed: int) -> Scenario:
        return self.scenario(seed, straggler=True, within=STRAGGLER_BOUND)

    @graded(part="B", seeds=15, description="unreliable network: 10% of messages lost and "
            "10% duplicated; the job finishes correctly within 8 s")
    def test_unreliable_network_B(self, seed: int) -> Scenario:
        network = Network(latency=Uniform(1, 5), loss=0.1, duplicate=0.1)
        return self.scenario(seed, network=network, within=UNRELIABLE_BOUND)


# -- part C (optional): the student's map and reduce functions on a real engine ----------------
class DaskLab(Lab):
    """The optional part C of lab 6: the student's own word count and inverted index (two
    `Job` objects) give the library's output in this process *and* on a Dask cluster."""

    title = "Lab 6, part C: your map and reduce functions on Dask"

    def __init__(self, word_count_job: Job, inverted_index_job: Job):
        for name, job in (("word_count_job", word_count_job),
                          ("inverted_index_job", inverted_index_job)):
            if not isinstance(job, Job):
                raise TypeError(f"DaskLab({name}=...) takes a Job(name, map, reduce) of "
                                f"distlab.compute.model; got {job!r}")
            if LIBRARY_JOBS in (job.map.__module__, job.reduce.__module__):
                raise ValueError(f"DaskLab({name}=...) is given the library's own functions "
                                 f"({job.map.__name__}, {job.reduce.__name__}); write your "
                                 f"own map and reduce functions: the check is about yours")
        self.jobs = {"word count": word_count_job, "inverted index": inverted_index_job}

    @graded(part="C", seeds=1, description="your word count and inverted index on a local "
            "Dask cluster of 2 worker processes: the same output as in this process, and "
            "as the library's jobs")
    def test_same_output_on_dask_C(self, seed: int) -> Trial:
        inputs = documents(N_INPUTS, WORDS, seed=seed)
        jobs = self.jobs

        def body() -> dict[str, dict[str, Any]]:
            for job in jobs.values():
                list(job.map("probe", ""))  # a function not written yet fails here, at once
            # on Dask first: a run in this process may leave state behind that the functions,
            # shipped to the workers afterwards, would carry with them
            on_dask = run_on_dask(jobs, inputs)
            here = {name: run_here(job, inputs) for name, job in jobs.items()}
            return {"here": here, "dask": on_dask}

        expected = {"word count": run_sequential(word_count, inputs, N_REDUCE).as_dict(),
                    "inverted index": run_sequential(inverted_index, inputs,
                                                     N_REDUCE).as_dict()}
        return Trial(body, time_limit=DASK_LIMIT, judge=partial(judge_dask, expected))


def run_here(job: Job, inputs: Mapping[str, str]) -> dict[str, str]:
    """``job``'s output in this process, task by task as the engine runs it: each map function
    called once per input (`run_sequential` calls it twice, to count the pairs too)."""
    outputs = [map_task(job, name, inputs[name], N_REDUCE) for name in sorted(inputs)]
    return {key: value for r in range(N_REDUCE)
            for key, value in reduce_task(job, [pair for out in outputs for pair in out[r]])}


def run_on_dask(jobs: Mapping[str, Job], inputs: Mapping[str, str]
                ) -> dict[str, dict[str, str] | str]:
    """Each job's output on a new local cluster of two worker processes, or, if the job
    failed there, its error as text."""
    outputs: dict[str, dict[str, str] | str] = {}
    with dask_cluster(workers=2) as client:
        for n, (name, job) in enumerate(jobs.items()):
            try:
                submitted = submit_job(client, job, inputs, N_REDUCE, tag=f"job{n}")
                outputs[name] = submitted.result(timeout=DASK_JOB_LIMIT)
            except Exception as error:  # noqa: BLE001 - any error of the student's code there
                outputs[name] = f"{type(error).__name__}: {error}"
    return outputs


def first_difference(got: Mapping[str, str], expected: Mapping[str, str]) -> str:
    """The first key (in order) on which two outputs differ, in words."""
    for key in sorted(set(got) | set(expected)):
        if got.get(key) != expected.get(key):
            return (f"key {key!r}: {got.get(key, 'missing')!r} where "
                    f"{expected.get(key, 'missing')!r} was expected")
    return "no difference"


def judge_dask(expected: Mapping[str, dict[str, str]], seen: Any) -> Violation | None:
    """The verdict on what `DaskLab.test_same_output_on_dask_C` observed."""
    description = "the same output on Dask as in this process, and as the library's jobs"
    if not (isinstance(seen, dict) and set(seen) == {"here", "dask"}):
        return Violation(description, f"the run observed {seen!r}", 0.0)
    for name, want in expected.items():
        here, dask = seen["here"].get(name), seen["dask"].get(name)
        if here != want:
            return Violation(description, (
                f"your {name} is wrong even in one process: "
                f"{first_difference(here or {}, want)}"), 0.0)
        if isinstance(dask, str):
            return Violation(description, (
                f"your {name} failed on Dask ({dask}), though it runs in this process. "
                f"The functions travel to each worker process pickled, with a copy of what "
                f"they use: a lock, an open file or a connection cannot travel (create it "
                f"inside the function), and a global variable that map fills and reduce "
                f"reads is filled in one worker and read empty in another"), 0.0)
        if dask != here:
            return Violation(description, (
                f"your {name} gives another output on Dask than in this process: "
                f"{first_difference(dask or {}, here)}. A map or reduce function must depend "
                f"on its arguments only: a global variable that map writes and reduce reads "
                f"exists once in one process, but once per worker process on a cluster"), 0.0)
    return None
