"""The messages between a MapReduce coordinator and its workers (`distlab.compute.mapreduce`).

Workers *pull* their work, as in the classic course's lab: a worker asks (`GetTask`), the
coordinator answers with a task, with `Wait` (nothing to hand out now) or with `Exit` (the
job is done). A worker reports a finished task with `TaskDone`, which also asks for the next
one; `Unavailable` says that a task could not read its input. Every assignment carries an
``attempt`` number, unique within the job, so that two executions of one task -- a
re-execution after a crash, a backup -- write to different temporary files.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GetTask:
    """Worker -> coordinator: give me a task."""


@dataclass(frozen=True)
class MapTask:
    """Coordinator -> worker: run map task ``task`` on input file ``path``, writing
    ``n_reduce`` intermediate files ``mr-<task>-<r>``."""

    task: int
    path: str
    n_reduce: int
    attempt: int


@dataclass(frozen=True)
class ReduceTask:
    """Coordinator -> worker: run reduce task ``task`` over the ``n_map`` files
    ``mr-<m>-<task>``, writing ``mr-out-<task>``."""

    task: int
    n_map: int
    attempt: int


@dataclass(frozen=True)
class Wait:
    """Coordinator -> worker: no task for you now; ask again a little later."""


@dataclass(frozen=True)
class Exit:
    """Coordinator -> worker: the job is done; you may stop."""


@dataclass(frozen=True)
class TaskDone:
    """Worker -> coordinator: I finished ``kind`` ("map" or "reduce") task ``task`` (this
    ``attempt`` of it); give me another."""

    kind: str
    task: int
    attempt: int


@dataclass(frozen=True)
class Unavailable:
    """Worker -> coordinator: I could not run ``kind`` task ``task`` (this ``attempt``): its
    input ``path`` is unavailable (kept only on a machine that is down)."""

    kind: str
    task: int
    attempt: int
    path: str


def intermediate_file(map_task: int, reduce_task: int) -> str:
    """The name of the file where map task ``map_task`` leaves reduce partition ``reduce_task``."""
    return f"mr-{map_task}-{reduce_task}"


def output_file(reduce_task: int) -> str:
    """The name of reduce task ``reduce_task``'s output file."""
    return f"mr-out-{reduce_task}"


def is_intermediate(path: str) -> bool:
    """Whether ``path`` names a map task's output (kept on its writer's disk in the paper)."""
    return path.startswith("mr-") and not path.startswith("mr-out-")
