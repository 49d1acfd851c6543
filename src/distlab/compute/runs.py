"""Experiments with the MapReduce framework (`distlab.compute.mapreduce`): the runs the pages
draw and measure.

`run_job` builds a cluster (`add_cluster`) -- a coordinator, workers, the job's inputs in the
shared file system with replicas on some of the workers' machines -- runs it to the end of the
job and
returns a `JobRun`: when the job finished, whether its output matches the sequential
reference, and the bytes of input that crossed the network. `completion_times` runs it over
many seeds, with and without backup tasks, for the straggler experiment; `input_bytes_moved`
with and without locality-aware assignment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from distlab.compute.files import SharedFiles, file_ops
from distlab.compute.invariants import in_place_writes, output_problems, replay_files
from distlab.compute.mapreduce import Coordinator, Worker
from distlab.compute.messages import is_intermediate
from distlab.compute.model import Job, run_sequential
from distlab.sim import Network, Simulation, Uniform, stream


@dataclass
class JobRun:
    """One run of a job on the simulated cluster.

    ``finished_at`` is when the coordinator counted the last reduce task done (None if the
    job did not finish); ``problems`` what is wrong with the output (empty: it equals the
    sequential reference, and every output file appeared whole, by a rename); ``input_bytes``
    the bytes of the inputs the map tasks read, ``remote_input_bytes`` those that came from
    another machine.
    """

    sim: Simulation
    files: SharedFiles
    finished_at: float | None
    problems: list[str]
    input_bytes: int
    remote_input_bytes: int

    @property
    def coordinator(self) -> Coordinator:
        return self.sim.nodes["coordinator"]  # type: ignore[return-value]


def add_cluster(sim: Simulation, job: Job, inputs: Mapping[str, str], *, n_reduce: int = 3,
                workers: int = 4, replicas: int = 2, slowdown: Mapping[str, float] | None = None,
                backups: bool = True, locality: bool = True, local_outputs: bool = False,
                coordinator: type = Coordinator, worker: type = Worker) -> SharedFiles:
    """Add a coordinator and ``workers`` workers (``w1``, ...) ready to run ``job`` over
    ``inputs`` to ``sim``, and return their file system. Each input is stored on
    ``replicas`` random workers' machines (drawn from the simulation's seed); ``slowdown``
    makes some workers stragglers (``{"w2": 10}``: ten times slower). With ``local_outputs``
    the map tasks' outputs live only on their writers' disks, as in the paper: lost while
    the writer is down."""
    if workers < 1 or not 1 <= replicas <= workers:
        raise ValueError(f"a cluster needs at least one worker and 1 to {workers} replicas "
                         f"per input; got workers={workers}, replicas={replicas}")
    files = SharedFiles(sim, local=is_intermediate if local_outputs else None)
    ids = [f"w{i}" for i in range(1, workers + 1)]
    rng = stream(sim.seed, "compute-placement")
    placement = {path: tuple(sorted(rng.sample(ids, replicas))) for path in sorted(inputs)}
    for path in sorted(inputs):
        files.put(path, inputs[path], placement[path])
    sim.add_node(coordinator, "coordinator", inputs=placement, n_reduce=n_reduce,
                 backups=backups, locality=locality)
    for worker_id in ids:
        sim.add_node(worker, worker_id, job=job, files=files.client(worker_id),
                     slowdown=(slowdown or {}).get(worker_id, 1.0))
    return files


def cluster(job: Job, inputs: Mapping[str, str], *, seed: int = 0,
            network: Network | None = None, **options: object
            ) -> tuple[Simulation, SharedFiles]:
    """A new simulation with the cluster of `add_cluster` (``options`` go there)."""
    sim = Simulation(seed=seed, network=network or Network(latency=Uniform(1, 5)))
    return sim, add_cluster(sim, job, inputs, **options)  # type: ignore[arg-type]


def run_job(job: Job, inputs: Mapping[str, str], *, n_reduce: int = 3, until: float = 20_000,
            crashes: Iterable[tuple[float, str]] = (), after: float = 200.0,
            **options: object) -> JobRun:
    """Run ``job`` to its end (or to ``until`` ms), crashing each worker of ``crashes``
    (time, worker) at its time, and go on ``after`` ms more so the workers hear `Exit`.
    The other ``options`` go to `cluster`."""
    sim, files = cluster(job, inputs, n_reduce=n_reduce, **options)  # type: ignore[arg-type]
    for time, worker_id in crashes:
        sim.at(time, sim.crash, worker_id)
    coordinator = sim.nodes["coordinator"]
    sim.run_until(lambda: coordinator.done, timeout=until)
    finished_at = sim.now if coordinator.done else None
    sim.run(until=sim.now + after)
    ops = file_ops(sim.trace)
    problems = output_problems(replay_files(ops), run_sequential(job, inputs, n_reduce))
    problems += [f"{op.node} appended to {op.path} in place at t={op.time:g}"
                 for op in in_place_writes(sim.trace, n_reduce)][:1]
    reads = [op for op in ops if op.op == "read" and op.path in inputs]
    return JobRun(sim, files, finished_at, problems, sum(op.size for op in reads),
                  sum(op.size for op in reads if op.remote))


def completion_times(job: Job, inputs: Mapping[str, str], seeds: Sequence[int], *,
                     backups: bool, straggler_slowdown: float = 10.0, **options: object
                     ) -> list[float]:
    """The job's completion time for each seed, with one straggler (a random worker
    ``straggler_slowdown`` times slower), with or without backup tasks."""
    times = []
    workers = int(options.get("workers", 4))  # type: ignore[call-overload]
    for seed in seeds:
        straggler = f"w{stream(seed, 'compute-straggler').randrange(workers) + 1}"
        run = run_job(job, inputs, seed=seed, backups=backups,
                      slowdown={straggler: straggler_slowdown}, **options)
        if run.finished_at is None or run.problems:
            raise RuntimeError(f"seed {seed}: the job did not finish correctly: {run.problems}")
        times.append(run.finished_at)
    return times


def input_bytes_moved(job: Job, inputs: Mapping[str, str], seeds: Sequence[int], *,
                      locality: bool, **options: object) -> list[float]:
    """For each seed, the fraction of the input bytes the map tasks fetched from another
    machine, with or without locality-aware assignment."""
    fractions = []
    for seed in seeds:
        run = run_job(job, inputs, seed=seed, locality=locality, **options)
        fractions.append(run.remote_input_bytes / run.input_bytes)
    return fractions
