"""The chapter's jobs on a real engine: Dask distributed {cite:p}`dask2024distributed`.

The map and reduce tasks are the toy's own (`distlab.compute.model.map_task`,
`reduce_task`); only the engine changes. `submit_job` hands Dask a graph of M map tasks and
R reduce tasks, each reduce task depending on every map task (the shuffle), and Dask's
scheduler does what our coordinator did: it places each task on a worker process, moves the
map outputs a reduce task needs to its worker (a *transfer*), and, when a worker dies,
computes again whatever was lost with it.

`dask_cluster` starts a cluster on this machine -- a scheduler and ``workers`` worker
processes, listening on loopback only, with no dashboard -- or, given an address
(``"tcp://scheduler.example:8786"``), connects to a real one instead: the one line a reader
changes to go from a laptop to a cluster. Either way the cluster is closed when the ``with``
block ends, even on an error. It prints nothing of its own: Dask's messages below errors are
silenced, and so is its warning that a server's scratch directory was slow to create (see
`SLOW_SCRATCH`); and its scheduler's small HTTP server takes a port that the system finds free
(`HTTP_ADDRESS`), so that no other Dask cluster on the machine makes Dask warn that a port is
taken. A notebook's output is then the same on a busy machine as on an idle one.

`placements` reads the scheduler's and the workers' view back: which worker computed each
task, and which results crossed between workers.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from distlab.compute.model import Job, Pair, map_task, reduce_task

#: seconds to wait for a cluster to start or a job to finish before giving up
TIMEOUT = 90.0
#: the start of the warning Dask gives when creating a server's scratch directory (under the
#: system's temporary folder, shared by every Dask process of the machine) took over a second.
#: It blames a network file system; on a busy machine a local disk is enough. The scheduler and
#: the nannies of a local cluster are created in this process, so the warning would be printed
#: here, in the middle of a notebook cell's output (or a lab check's), now and then.
SLOW_SCRATCH = "Creating scratch directories is taking a surprisingly long time"
#: where the scheduler's HTTP server (health checks and metrics; no dashboard) listens: loopback,
#: on a port the system picks. Dask's default is the fixed port 8787: when another cluster on the
#: machine holds it (a second notebook, a test running beside), the scheduler takes another port
#: and warns "Port 8787 is already in use", in the middle of a notebook cell's output.
HTTP_ADDRESS = "127.0.0.1:0"


@contextmanager
def dask_cluster(address: str | None = None, *, workers: int = 2,
                 timeout: float = TIMEOUT) -> Iterator[object]:
    """A Dask `Client` of a new local cluster (``workers`` processes of one thread, on
    127.0.0.1, no dashboard) or, if ``address`` is given, of the cluster there. Use it as
    ``with dask_cluster() as client: ...``: the local cluster is shut down on leaving."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as error:  # pragma: no cover - depends on the installation
        raise ImportError("Dask distributed is not installed: pip install "
                          "'distlab[engines]' (or 'dask[distributed]')") from error
    if address is not None:
        with Client(address, timeout=timeout) as client:
            yield client
        return
    if workers < 1:
        raise ValueError(f"a local cluster needs at least one worker; got workers={workers}")
    with no_slow_scratch_warning():  # noise of a busy machine, while the servers start
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None,
                               scheduler_kwargs={"dashboard_address": HTTP_ADDRESS},
                               silence_logs=logging.ERROR)
    with cluster, Client(cluster, timeout=timeout) as client:
        yield client


@contextmanager
def no_slow_scratch_warning() -> Iterator[None]:
    """Meanwhile, Dask's warning `SLOW_SCRATCH` is not shown (other warnings are)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=SLOW_SCRATCH, category=UserWarning)
        yield


def new_offload_thread_in_forked_child() -> None:
    """In a child made by ``os.fork``, once Dask is imported: a new thread for Dask's
    "offload" pool, where a scheduler made in this process handles each job it receives.
    Fork copies no thread: the pool the parent made still counts its thread as alive, so a
    cluster started in the child waited forever for its jobs. Lab 6's check forks the grader
    (`distlab.grading.isolation`) after, for instance, a cluster run in the same process."""
    utils = sys.modules.get("distributed.utils")
    if utils is not None:
        from concurrent.futures import ThreadPoolExecutor
        utils._offload_executor = ThreadPoolExecutor(max_workers=1,  # type: ignore[attr-defined]
                                                     thread_name_prefix="Dask-Offload")


os.register_at_fork(after_in_child=new_offload_thread_in_forked_child)


def slow_map_task(job: Job, name: str, text: str, n_reduce: int, pause: float
                  ) -> list[list[Pair]]:
    """`map_task` after ``pause`` seconds: a task long enough to be caught mid-job."""
    time.sleep(pause)
    return map_task(job, name, text, n_reduce)


def reduce_partition(job: Job, r: int, *map_outputs: list[list[Pair]]) -> list[Pair]:
    """Reduce task ``r``: partition ``r`` of every map task's output, reduced."""
    return reduce_task(job, [pair for output in map_outputs for pair in output[r]])


@dataclass
class Submitted:
    """The futures of a submitted job: ``maps`` and ``reduces``, in task order."""

    maps: list
    reduces: list

    def result(self, timeout: float = TIMEOUT) -> dict[str, str]:
        """The job's output as a dict key -> value (waits at most ``timeout`` s)."""
        return {key: value for future in self.reduces for key, value in
                future.result(timeout=timeout)}

    @property
    def keys(self) -> list[str]:
        return [f.key for f in self.maps + self.reduces]


def submit_job(client: object, job: Job, inputs: Mapping[str, str], n_reduce: int = 3, *,
               tag: str = "run", pause: float = 0.0) -> Submitted:
    """Submit ``job`` over ``inputs`` to ``client``: one map task per input (each sleeping
    ``pause`` s first), one reduce task per partition. Task keys are ``<tag>-map-<m>`` and
    ``<tag>-reduce-<r>``; give each run its own ``tag``, or Dask reuses results it holds."""
    if not inputs:
        raise ValueError("a job needs at least one input: pass {name: text, ...}")
    maps = [client.submit(slow_map_task, job, name, inputs[name], n_reduce, pause,  # type: ignore[attr-defined]
                          key=f"{tag}-map-{m}")
            for m, name in enumerate(sorted(inputs))]
    reduces = [client.submit(reduce_partition, job, r, *maps,  # type: ignore[attr-defined]
                             key=f"{tag}-reduce-{r}")
               for r in range(n_reduce)]
    return Submitted(maps, reduces)


def kill_a_worker_holding(client: object, futures: list, timeout: float = 60.0
                          ) -> tuple[str, list[str]]:
    """Wait until a worker holds a finished result of ``futures``, then kill that worker's
    process (SIGKILL: no goodbye, as a machine that loses power). Returns the worker's address
    and the keys of the results it held, now lost. The cluster must be on this machine."""
    pids = client.run(os.getpid)  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        holders = client.who_has(futures)  # type: ignore[attr-defined]
        for victim in sorted(pids):
            held = sorted(key for key, workers in holders.items() if victim in workers)
            if held:
                os.kill(pids[victim], signal.SIGKILL)
                return victim, held
        time.sleep(0.02)
    raise TimeoutError(f"no task of {len(futures)} finished within {timeout} s: nothing to "
                       f"kill (is the cluster running?)")


@dataclass(frozen=True)
class Placements:
    """Where the tasks of a job ran: ``computed`` maps each task key to the workers that
    computed it (more than one if it was computed again); ``transfers`` counts the results
    that a worker fetched from another."""

    computed: dict[str, tuple[str, ...]]
    transfers: int

    def tasks_per_worker(self) -> dict[str, int]:
        """How many task executions each worker ran."""
        counts: dict[str, int] = {}
        for workers in self.computed.values():
            for worker in workers:
                counts[worker] = counts.get(worker, 0) + 1
        return dict(sorted(counts.items()))


def _worker_view(dask_worker: object, keys: list[str]) -> tuple[list[str], int]:
    """Run on each worker: the keys it computed, and how many it fetched from others."""
    computed, fetched = [], 0
    for key in keys:
        state = dask_worker.state.tasks.get(key)  # type: ignore[attr-defined]
        if state is None:
            continue
        actions = {step["action"] for step in state.startstops}
        computed += [key] if "compute" in actions else []
        fetched += "transfer" in actions
    return computed, fetched


def placements(client: object, submitted: Submitted) -> Placements:
    """Read from the workers which of them computed each task of ``submitted`` (call it while
    the futures are held, once the job is done)."""
    views = client.run(_worker_view, keys=submitted.keys)  # type: ignore[attr-defined]
    computed: dict[str, list[str]] = {}
    for worker, (keys, _) in sorted(views.items()):
        for key in keys:
            computed.setdefault(key, []).append(worker)
    return Placements({k: tuple(v) for k, v in sorted(computed.items())},
                      sum(fetched for _, fetched in views.values()))
