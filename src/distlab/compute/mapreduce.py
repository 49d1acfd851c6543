"""A MapReduce framework on the simulator: a coordinator and its workers.

After Dean and Ghemawat {cite:p}`dean2004mapreduce`, section 3, and the shape of the classic
course's lab. The job's input is M files in the shared file system (`distlab.compute.files`);
there are M map tasks, one per file, and R reduce tasks, one per partition.

* Workers **pull** (`distlab.compute.messages`): an idle worker asks the `Coordinator` for a
  task. Pulling keeps the coordinator simple -- it never needs to know who is idle -- and a
  worker that crashed simply stops asking.
* A **map task** reads its input, runs ``job.map`` (and the combiner), and writes R
  intermediate files ``mr-<m>-<r>``; a **reduce task** reads the M files of its partition,
  groups by key and streams its output, one append per key, to ``mr-out-<r>``. Both write to
  a temporary file first and rename it when it is complete: a crash half-way leaves no half
  file under the final name, and two executions of one task (a re-execution, a backup) both
  produce the whole file, so whichever renames last leaves the same bytes.
* **Reduce tasks wait** for every map task: a partition is complete only when every map has
  written its part.
* **Crashed workers**: the coordinator gives each execution ``timeout`` ms; a task whose
  executions have all run longer is handed out again. A report from a late execution is
  still welcome, but a task is counted done once only.
* **Stragglers**: when no task is left to hand out, a worker that asks gets a *backup* copy of
  a task that has run longer than ``backup_after`` ms with no copy but one (``backups=True``).
  The first copy to finish wins.
* **Locality**: a worker that asks gets, if there is one, a map task whose input has a replica
  on its own machine, so the input need not cross the network.
* **Lost map outputs**: if map outputs live only on their writer's disk (as in the paper;
  ``SharedFiles(local=...)``), a reduce task that cannot read one reports it (`Unavailable`),
  and the coordinator runs that map task again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from distlab.compute.files import Files, FileUnavailable, processing_time
from distlab.compute.messages import (Exit, GetTask, MapTask, ReduceTask, TaskDone, Unavailable,
                                      Wait, intermediate_file, output_file)
from distlab.compute.model import Job, decode, encode, group, map_task
from distlab.sim import Node

#: how long a task may run before the coordinator gives it to another worker (ms)
TIMEOUT = 2_000.0
#: how long a task runs before an idle worker may run a backup copy of it (ms)
BACKUP_AFTER = 300.0
#: how long a worker told to `Wait` waits before asking again (ms)
WAIT = 50.0
#: how long a worker waits for an answer before asking again (a lost message) (ms)
ASK_AGAIN = 500.0


@dataclass
class Task:
    """What the coordinator knows of one task: ``running`` maps each worker now running a
    copy of it to the time it started; ``done`` says whether a copy has finished."""

    kind: str
    number: int
    path: str = ""
    running: dict[str, float] = field(default_factory=dict)
    done: bool = False


class Coordinator(Node):
    """Hands out the map tasks, then the reduce tasks, and tells the workers when to exit.

    Invariants: a reduce task is handed out only once every map task is done; a task is
    counted done once, whatever number of its copies report; ``done`` becomes True once
    every reduce task is done, and only then does a worker hear `Exit`.
    """

    def __init__(self, inputs: Mapping[str, tuple[str, ...]], n_reduce: int,
                 timeout: float = TIMEOUT, backups: bool = True,
                 backup_after: float = BACKUP_AFTER, locality: bool = True):
        self.maps = [Task("map", m, path) for m, path in enumerate(sorted(inputs))]
        self.reduces = [Task("reduce", r) for r in range(n_reduce)]
        self.replicas = dict(inputs)  # input file -> the machines that hold a copy
        self.timeout = timeout
        self.backups = backups
        self.backup_after = backup_after
        self.locality = locality
        self.attempts = 0
        self.done = False

    def on_start(self) -> None:
        self.set_timer(self.timeout / 4, "check")

    def on_message(self, src: str, msg: object) -> None:
        match msg:
            case GetTask():
                self.assign(src)
            case TaskDone(kind, task, attempt):
                tasks = self.maps if kind == "map" else self.reduces
                finished = tasks[task]
                finished.running.pop(src, None)
                if not finished.done:
                    finished.done = True
                    self.note("done", kind=kind, task=task, worker=src, attempt=attempt)
                    self.done = all(t.done for t in self.reduces)
                self.assign(src)
            case Unavailable(kind, task, _, path):
                (self.maps if kind == "map" else self.reduces)[task].running.pop(src, None)
                for lost in self.maps:
                    if lost.done and path == intermediate_file(lost.number, task):
                        lost.done = False  # its output died with its machine: run it again
                        self.note("lost", kind="map", task=lost.number, path=path)
                self.assign(src)

    def on_timer(self, name: str) -> None:
        """Every quarter timeout: forget the executions that have run too long."""
        for task in self.maps + self.reduces:
            for worker, started in sorted(task.running.items()):
                if not task.done and self.now - started > self.timeout:
                    del task.running[worker]
                    self.note("timeout", kind=task.kind, task=task.number, worker=worker)
        self.set_timer(self.timeout / 4, "check")

    def assign(self, worker: str) -> None:
        """Answer ``worker``'s request: a map task, a reduce task, Wait, or Exit."""
        if self.done:
            self.send(worker, Exit())
            return
        phase = self.maps if not all(t.done for t in self.maps) else self.reduces
        chosen = self.choose(phase, worker)
        if chosen is None:
            self.send(worker, Wait())
        else:
            self.start(chosen, worker)

    def choose(self, tasks: list[Task], worker: str) -> Task | None:
        """The task ``worker`` should run next in this phase: an idle one (with its input on
        the worker's machine if possible), else a backup of a slow one, else None."""
        idle = [t for t in tasks if not t.done and not t.running]
        if idle:
            if self.locality:
                local = [t for t in idle if worker in self.replicas.get(t.path, ())]
                return (local or idle)[0]
            return idle[0]
        if not self.backups:
            return None
        slow = [t for t in tasks if not t.done and len(t.running) == 1
                and worker not in t.running
                and self.now - min(t.running.values()) > self.backup_after]
        return min(slow, key=lambda t: min(t.running.values()), default=None)

    def start(self, task: Task, worker: str) -> None:
        """Hand ``task`` to ``worker`` (a backup if another copy is running)."""
        self.attempts += 1
        if task.running:
            self.note("backup", kind=task.kind, task=task.number, worker=worker)
        task.running[worker] = self.now
        if task.kind == "map":
            self.send(worker, MapTask(task.number, task.path, len(self.reduces), self.attempts))
        else:
            self.send(worker, ReduceTask(task.number, len(self.maps), self.attempts))


class Worker(Node):
    """Asks for tasks and runs them, until the coordinator says `Exit`.

    A task takes simulated time (`processing_time` of the bytes it reads, times the
    machine's ``slowdown``): a map task computes everything, waits that long, then writes its
    R files; a reduce task writes one key after another, each after its share of the time.
    Outputs go to a temporary file named after the attempt, renamed when complete.
    """

    def __init__(self, job: Job, files: Files, coordinator: str = "coordinator",
                 slowdown: float = 1.0):
        self.job = job
        self.files = files
        self.coordinator = coordinator
        self.slowdown = slowdown
        self.task: MapTask | ReduceTask | None = None
        self.pending: list[tuple[str, str]] = []  # a reduce task's output pairs still to write
        self.step_ms = 0.0  # how long a reduce task takes for each of its keys
        self.exited = False

    def on_start(self) -> None:
        self.ask(GetTask())

    def ask(self, msg: GetTask | TaskDone | Unavailable) -> None:
        """Send ``msg`` to the coordinator, and ask again if no answer comes."""
        self.send(self.coordinator, msg)
        self.set_timer(ASK_AGAIN, "ask")

    def on_message(self, src: str, msg: object) -> None:
        if self.task is not None or self.exited:
            return  # busy (a duplicated assignment), or gone
        match msg:
            case MapTask(task, path, n_reduce, attempt):
                self.cancel_timer("ask")
                self.task = msg
                texts = self.read_all([path])
                if texts is None:
                    return
                text = texts[0]
                self.pending = [(intermediate_file(task, r), encode(pairs)) for r, pairs
                                in enumerate(map_task(self.job, path, text, n_reduce))]
                remote = 0 if self.files.is_local(path) else len(text)
                self.note("start", kind="map", task=task, attempt=attempt)
                self.set_timer(processing_time(len(text), remote, self.slowdown), "work")
            case ReduceTask(task, n_map, attempt):
                self.cancel_timer("ask")
                self.task = msg
                paths = [intermediate_file(m, task) for m in range(n_map)]
                texts = self.read_all(paths)
                if texts is None:
                    return
                remote = sum(len(text) for path, text in zip(paths, texts)
                             if not self.files.is_local(path))
                pairs = [pair for text in texts for pair in decode(text)]
                self.pending = [(key, self.job.reduce(key, values))
                                for key, values in group(pairs)]
                total = processing_time(sum(map(len, texts)), remote, self.slowdown)
                self.step_ms = total / max(1, len(self.pending))
                self.note("start", kind="reduce", task=task, attempt=attempt)
                self.step()
            case Wait():
                self.set_timer(WAIT, "ask")
            case Exit():
                self.cancel_timer("ask")
                self.exited = True
                self.note("exit")

    def on_timer(self, name: str) -> None:
        match name:
            case "ask":
                self.ask(GetTask())
            case "work" if isinstance(self.task, MapTask):
                for path, text in self.pending:
                    temporary = f"tmp-{path}-{self.task.attempt}"
                    self.files.append(temporary, text)
                    self.files.rename(temporary, path)
                self.finish("map")
            case "work":
                key, value = self.pending.pop(0)
                self.files.append(self.temporary(), encode([(key, value)]))
                self.step()

    def read_all(self, paths: list[str]) -> list[str] | None:
        """The texts of ``paths``; or None, having told the coordinator that one of them is
        unavailable (its only copy is on a machine that is down) and given the task up."""
        texts = []
        for path in paths:
            try:
                texts.append(self.files.read(path))
            except FileUnavailable:
                assert self.task is not None
                kind = "map" if isinstance(self.task, MapTask) else "reduce"
                given_up = Unavailable(kind, self.task.task, self.task.attempt, path)
                self.task = None
                self.ask(given_up)
                return None
        return texts

    def step(self) -> None:
        """Write the next key of a reduce task after its time; when none is left, commit."""
        if self.pending:
            self.set_timer(self.step_ms, "work")
            return
        assert isinstance(self.task, ReduceTask)
        if not self.files.exists(self.temporary()):  # a partition with no key at all
            self.files.append(self.temporary(), "")
        self.files.rename(self.temporary(), output_file(self.task.task))
        self.finish("reduce")

    def temporary(self) -> str:
        """The temporary output file of the running reduce task."""
        assert isinstance(self.task, ReduceTask)
        return f"tmp-{output_file(self.task.task)}-{self.task.attempt}"

    def finish(self, kind: str) -> None:
        assert self.task is not None
        self.note("finish", kind=kind, task=self.task.task, attempt=self.task.attempt)
        done = TaskDone(kind, self.task.task, self.task.attempt)
        self.task = None
        self.ask(done)
