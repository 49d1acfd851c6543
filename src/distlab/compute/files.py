"""A file system that every worker of a simulated cluster shares, with a record of each write.

MapReduce reads its input from a distributed file system (GFS), where each file is stored as
replicas on a few machines, and writes its output there too. `SharedFiles` is that file
system, inside a `Simulation`: a dict of files, each with the machines that hold a replica.
A worker gets its own handle, `Files` (``fs.client("w1")``), and every operation through it
is recorded in the simulation's trace as a note of that worker (``fs.read``, ``fs.append``
with the text appended, ``fs.rename``, ``fs.remove``), so a checker -- or a lab's grader,
which sees only the trace -- can replay what each file held at every moment: a file written
half-way when its writer crashed, an output file written twice, a read of a file that was
not there yet.

Two rules make the file system honest about time and place:

* *appends take their time*. A worker that streams its output (one append per key) and
  crashes half-way leaves half a file. Writing to a temporary name, then `Files.rename` it
  to the final one, is what makes an output appear whole or not at all: a rename is atomic.
* *reads know where they happen*. Reading a file that has no replica on the reader's machine
  moves its bytes over the network; `SharedFiles.network_bytes` adds them up (the locality
  experiment of `distlab.compute.runs`).

`processing_time` is the cost model of the workers' machines: simulated ms to process a
number of bytes, with a slowdown factor for a straggler (a machine with a bad disk).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from distlab.sim import Note, Simulation, TraceEvent

#: simulated ms a machine takes to process 1,000 bytes (map or reduce)
MS_PER_KB = 100.0
#: extra simulated ms to fetch 1,000 bytes from another machine
NETWORK_MS_PER_KB = 50.0


def processing_time(size: int, remote: int = 0, slowdown: float = 1.0) -> float:
    """Simulated ms to process ``size`` bytes, ``remote`` of them fetched over the network,
    on a machine ``slowdown`` times slower than a healthy one."""
    if size < 0 or remote < 0 or slowdown <= 0:
        raise ValueError(f"sizes are >= 0 and the slowdown > 0; got size={size!r}, "
                         f"remote={remote!r}, slowdown={slowdown!r}")
    return slowdown * size * MS_PER_KB / 1000 + remote * NETWORK_MS_PER_KB / 1000


@dataclass(frozen=True)
class FileOp:
    """One operation on the shared files, as the trace records it (see `file_ops`)."""

    time: float
    node: str
    op: str        # "read", "append", "rename" or "remove"
    path: str
    size: int      # bytes read or appended (0 for a rename or remove)
    target: str = ""   # the new name, for a rename
    remote: bool = False  # a read from another machine
    text: str = ""  # the text appended


class FileUnavailable(OSError):
    """The file exists, but every machine holding a copy of it is down."""


class SharedFiles:
    """The cluster's file system: ``files`` (path -> text) and ``replicas`` (path -> the
    machines holding a copy). Give each worker a handle with `client`.

    ``local(path)``, if given, says which files are kept only on the disk of the machine
    that wrote them, as the paper keeps map outputs: such a file cannot be read
    (`FileUnavailable`) while that machine is down.
    """

    def __init__(self, sim: Simulation, local: Callable[[str], bool] | None = None):
        self.sim = sim
        self.local = local
        self.files: dict[str, str] = {}
        self.replicas: dict[str, tuple[str, ...]] = {}
        #: bytes read from files without a replica on the reader's machine
        self.network_bytes = 0

    def put(self, path: str, text: str, replicas: Iterable[str] = ()) -> None:
        """Store an input file (before the run), with replicas on the machines named."""
        self.files[path] = text
        self.replicas[path] = tuple(replicas)

    def client(self, node_id: str) -> Files:
        """The handle through which node ``node_id`` reads and writes."""
        return Files(self, node_id)

    def outputs(self, prefix: str = "mr-out-") -> dict[str, str]:
        """The files whose names start with ``prefix``, by name."""
        return {path: text for path, text in sorted(self.files.items())
                if path.startswith(prefix)}

    def record(self, node: str, what: str, **details: object) -> None:
        self.sim.trace.record(self.sim.now, "note", node, None, None,
                              Note(what, tuple(details.items())))


class Files:
    """One worker's handle on the `SharedFiles`: what it does is recorded as its own."""

    def __init__(self, shared: SharedFiles, node_id: str):
        self.shared = shared
        self.node_id = node_id

    def read(self, path: str) -> str:
        """The text of file ``path``; `FileNotFoundError` if there is none (yet),
        `FileUnavailable` if it is kept only where its writer is, and the writer is down."""
        shared = self.shared
        if path not in shared.files:
            raise FileNotFoundError(f"{self.node_id} read {path!r}, which does not exist (yet): "
                                    f"a reduce task may start only once every map task is "
                                    f"done")
        holders = shared.replicas.get(path, ())
        if (shared.local is not None and shared.local(path) and holders
                and all(machine in shared.sim.crashed for machine in holders)):
            shared.record(self.node_id, "fs.unavailable", path=path)
            raise FileUnavailable(f"{path} is kept only on {', '.join(holders)}, which is down")
        text = shared.files[path]
        remote = self.node_id not in shared.replicas.get(path, ())
        if remote:
            shared.network_bytes += len(text)
        shared.record(self.node_id, "fs.read", path=path, size=len(text), remote=remote)
        return text

    def append(self, path: str, text: str) -> None:
        """Add ``text`` at the end of ``path`` (created if missing, on this machine)."""
        if not isinstance(text, str):
            raise TypeError(f"files hold text; append a str (encode pairs with "
                            f"distlab.compute.model.encode), not {type(text).__name__}")
        shared = self.shared
        if path not in shared.files:
            shared.files[path] = ""
            shared.replicas[path] = (self.node_id,)
        shared.files[path] += text
        shared.record(self.node_id, "fs.append", path=path, size=len(text), text=text)

    def rename(self, path: str, target: str) -> None:
        """Atomically give file ``path`` the name ``target`` (replacing any file of that name)."""
        shared = self.shared
        if path not in shared.files:
            raise FileNotFoundError(f"{self.node_id} renamed {path!r}, which does not exist")
        shared.files[target] = shared.files.pop(path)
        shared.replicas[target] = shared.replicas.pop(path)
        shared.record(self.node_id, "fs.rename", path=path, target=target)

    def remove(self, path: str) -> None:
        """Delete file ``path`` (nothing happens if there is none)."""
        if self.shared.files.pop(path, None) is not None:
            self.shared.replicas.pop(path, None)
            self.shared.record(self.node_id, "fs.remove", path=path)

    def exists(self, path: str) -> bool:
        """Whether file ``path`` exists."""
        return path in self.shared.files

    def is_local(self, path: str) -> bool:
        """Whether this machine holds a replica of ``path``."""
        return self.node_id in self.shared.replicas.get(path, ())


def file_op(event: TraceEvent) -> FileOp | None:
    """The file operation a trace event records, or None if it records none."""
    note = event.data
    if event.kind != "note" or not isinstance(note, Note) or not note.what.startswith("fs."):
        return None
    return FileOp(event.time, event.node, note.what[3:], note["path"], note.get("size", 0),
                  note.get("target", ""), note.get("remote", False), note.get("text", ""))


def file_ops(trace: Iterable[TraceEvent]) -> list[FileOp]:
    """The file operations of a run, in order, read back from its trace (or a record of it)."""
    return [op for op in map(file_op, trace) if op is not None]


def apply(files: dict[str, str], op: FileOp) -> None:
    """Do ``op`` to ``files`` (path -> text): how a checker replays a run's file system."""
    match op.op:
        case "append":
            files[op.path] = files.get(op.path, "") + op.text
        case "rename":
            files[op.target] = files.pop(op.path, "")
        case "remove":
            files.pop(op.path, None)
