"""What a MapReduce run must get right, read from its trace alone.

The file operations every worker did are in the trace (`distlab.compute.files.file_ops`),
so these checks replay them and need nothing else -- the same functions serve the tests, the
pages, the soak and lab 6's grader, which sees only a record of the run:

* `output_problems` -- the output files hold exactly what the sequential reference computes
  (`distlab.compute.model.run_sequential`), partition by partition;
* `in_place_writes` -- no output file was ever appended to under its final name: each appeared
  whole, by a rename (so a crash or a second copy of the task cannot leave half a file);
* `replay_files` -- what every file held at the end of the run;
* `OutputCommitted` -- the first two, and "done means right", as an invariant watched after
  every event (the soak's).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from distlab.check.invariants import Invariant
from distlab.compute.files import FileOp, apply, file_op, file_ops
from distlab.compute.messages import output_file
from distlab.compute.model import Result, encode
from distlab.sim import Simulation


def replay_files(ops: Iterable[FileOp]) -> dict[str, str]:
    """What every file written during the run held at its end, from its operations (the
    trace records the text of every append)."""
    files: dict[str, str] = {}
    for op in ops:
        apply(files, op)
    return files


def in_place_writes(trace: Iterable, n_reduce: int) -> list[FileOp]:
    """The appends made directly to a final output file ``mr-out-<r>`` (there must be none)."""
    finals = {output_file(r) for r in range(n_reduce)}
    return [op for op in file_ops(trace) if op.op == "append" and op.path in finals]


def output_problems(files: dict[str, str], expected: Result) -> list[str]:
    """What is wrong with the output files ``files`` (path -> text), partition by
    partition, against the reference ``expected``: missing, extra or wrong pairs."""
    problems = []
    for r, partition in enumerate(expected.partitions):
        path = output_file(r)
        if path not in files:
            problems.append(f"{path} is missing")
            continue
        wanted = encode(partition)
        got = files[path]
        if got == wanted:
            continue
        wanted_lines, got_lines = wanted.splitlines(), got.splitlines()
        if got.startswith(wanted) or len(got_lines) > len(wanted_lines):
            problems.append(f"{path} holds {len(got_lines)} lines, not {len(wanted_lines)} "
                            f"(a task's output written twice?)")
        elif wanted.startswith(got):
            problems.append(f"{path} holds only the first {len(got_lines)} of its "
                            f"{len(wanted_lines)} lines (a task that crashed half-way?)")
        else:
            first = next((i for i, (a, b) in enumerate(zip(got_lines, wanted_lines)) if a != b),
                         None)
            if first is None:
                problems.append(f"{path} has the right lines but not the right line ends")
                continue
            problems.append(f"{path}, line {first + 1}: {got_lines[first]!r}, expected "
                            f"{wanted_lines[first]!r}")
    return problems


class OutputCommitted(Invariant):
    """Output files appear whole and never change; ``done`` means the output is right.

    Checked after every event, from the file operations the trace records since the last
    check (it remembers the files replayed so far): no worker appends to a final output file
    ``mr-out-<r>`` (it must appear by a rename); a final file, once there, is never replaced by
    different text; and when the coordinator's ``done`` becomes True, every output file holds
    what the sequential reference ``expected`` computes.
    """

    remembers = True

    def __init__(self, expected: Result, coordinator: str = "coordinator"):
        super().__init__("output files appear whole, never change, and are right when done",
                         self._check)
        self.expected = expected
        self.coordinator = coordinator
        self.finals = {output_file(r) for r in range(len(expected.partitions))}
        self.files: dict[str, str] = {}
        self.read = 0
        self.judged_done = False

    def _check(self, sim: Simulation) -> str | None:
        events = sim.trace[self.read:]
        self.read += len(events)
        for op in filter(None, map(file_op, events)):
            if op.op == "append" and op.path in self.finals:
                return (f"{op.node} appended to {op.path} in place at t={op.time:g}: output "
                        f"must be written to a temporary file and renamed")
            if (op.op == "rename" and op.target in self.finals and op.target in self.files
                    and self.files[op.target] != self.files.get(op.path, "")):
                return f"{op.node} replaced {op.target} with different text at t={op.time:g}"
            apply(self.files, op)
        coordinator = sim.nodes.get(self.coordinator)
        if not self.judged_done and getattr(coordinator, "done", False):
            self.judged_done = True
            problems = output_problems(self.files, self.expected)
            if problems:
                return f"the coordinator is done, but {'; '.join(problems)}"
        return None

    def reset(self) -> None:
        self.files = {}
        self.read = 0
        self.judged_done = False

    def memory(self) -> Hashable:
        return (tuple(sorted(self.files.items())), self.read, self.judged_done)
