"""Child processes for graded runs: forked or fresh, each under a time limit and a memory cap.

A graded run executes a student's code, which may do anything a Python program can: call
``sys.exit()`` or ``os._exit()``, crash the interpreter, allocate without end, loop forever
with every exception swallowed, start threads that never stop. So the runs of a check happen
in a child process, and the grader (the notebook's kernel, or a grading script) only reads
what the child sends back:

* `Child.fork` forks the grader: the child has everything the grader has, including the
  classes a student defined in a notebook cell. `Child.spawn` starts a fresh interpreter
  (for the determinism check, `distlab.grading.determinism`).
* The child sends frames -- a length, then that many bytes -- through a pipe; the grader
  reads them with a deadline (`Child.receive`), and a frame longer than `MAX_FRAME` is
  refused. The pipe holds `PIPE_BYTES`, several runs' records: a child runs on while the
  grader judges what it sent.
* The child's address space may grow by ``memory_limit`` bytes at most (``RLIMIT_AS``):
  past it allocations fail with ``MemoryError``.
* `Child.stop` kills the child's whole process group with SIGKILL (threads and processes
  the student's code started die with it) and says how it ended (`Ending`).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

#: how long a run may overrun its own time limit before its process is killed (seconds): the
#: run's own limit stops ordinary loops with a report; this stops the rest
GRACE_S = 2.0
#: the default memory cap of a graded run: how much its address space may grow (bytes)
MEMORY_LIMIT = 2 * 1024 ** 3
#: the largest frame a child may send (bytes)
MAX_FRAME = 512 * 1024 ** 2
#: the exit status of a child whose own machinery failed (it writes why on stderr)
BROKEN = 70
#: how many bytes the pipe from a child holds before the child waits for the grader to read
#: (Linux; elsewhere the system's default, 64 KB or less): room for several runs' records, so
#: that a child runs on while the grader judges the runs before (`Child.fork`)
PIPE_BYTES = 1024 ** 2
_HEADER = 8


def format_bytes(size: int) -> str:
    """``2 GB``, ``300 MB``: a size as a person says it (powers of 1024).

    >>> format_bytes(2 * 1024 ** 3), format_bytes(300 * 1024 ** 2)
    ('2 GB', '300 MB')
    """
    for unit, scale in (("GB", 1024 ** 3), ("MB", 1024 ** 2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


@dataclass(frozen=True)
class Ending:
    """How a child process ended: its exit code, or the signal that killed it."""

    code: int | None
    signal: int | None
    #: True when the grader killed it (its time was up)
    killed: bool = False

    def describe(self) -> str:
        """"exit code 3", or "killed by signal SIGSEGV (a crash in C code...)"."""
        if self.signal is None:
            return f"exit code {self.code}"
        try:
            name = signal.Signals(self.signal).name
        except ValueError:
            name = str(self.signal)
        why = {signal.SIGSEGV: "a crash in C code: ctypes, or a broken extension?",
               signal.SIGABRT: "an abort in C code",
               signal.SIGKILL: "out of memory, killed by the system?"}.get(self.signal)
        return f"killed by signal {name}" + (f" ({why})" if why else "")


class Child:
    """A child process that sends frames to the grader through a pipe (see the module)."""

    def __init__(self, pid: int, fd: int, popen: subprocess.Popen | None = None):
        self.pid, self.fd, self.popen = pid, fd, popen
        self._buffer = bytearray()
        self._closed = False
        self.ending: Ending | None = None

    @classmethod
    def fork(cls, work: Callable[[Callable[[bytes], None]], None],
             memory_limit: int | None = MEMORY_LIMIT) -> Child:
        """Fork a child that runs ``work(send)``; ``send(data)`` sends one frame.

        The child never returns into the grader's code: it ends with ``os._exit`` when
        ``work`` returns (status 0) or fails (status `BROKEN`, the traceback on stderr).
        """
        if not hasattr(os, "fork"):
            raise RuntimeError("graded runs happen in a child process, and need os.fork: on "
                               "Windows, run the labs in WSL")
        read, write = os.pipe()
        _widen(write)
        pid = os.fork()
        if pid == 0:  # the child
            status = BROKEN
            try:
                os.close(read)
                os.setpgid(0, 0)  # its own process group: stop() kills all it started
                limit_memory(memory_limit)
                work(lambda data: send_frame(write, data))
                status = 0
            except BaseException:  # the harness's own failure: say why on the real stderr
                os.write(2, traceback.format_exc().encode(errors="replace"))
            finally:
                os._exit(status)
        os.close(write)
        return cls(pid, read)

    @classmethod
    def spawn(cls, argv: list[str], env: dict[str, str]) -> Child:
        """Start a fresh interpreter running ``argv``; it reads frames on its stdin (`send`)
        and sends its own on its stdout."""
        popen = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 start_new_session=True)
        assert popen.stdin is not None and popen.stdout is not None
        return cls(popen.pid, popen.stdout.fileno(), popen)

    def send(self, data: bytes) -> None:
        """Send a frame to a spawned child (raises OSError if it has ended)."""
        assert self.popen is not None and self.popen.stdin is not None
        send_frame(self.popen.stdin.fileno(), data)

    def receive(self, deadline: float | None) -> bytes | None:
        """The next frame; None once the child has closed the pipe (it ended).

        Raises `TimeoutError` at ``deadline`` (a `time.monotonic` time; None: wait as long as
        it takes) and `ValueError` for a frame longer than `MAX_FRAME`.
        """
        while True:
            if len(self._buffer) >= _HEADER:
                size = int.from_bytes(self._buffer[:_HEADER], "big")
                if size > MAX_FRAME:
                    raise ValueError(f"a frame of {size:,} bytes")
                if len(self._buffer) >= _HEADER + size:
                    frame = bytes(self._buffer[_HEADER:_HEADER + size])
                    del self._buffer[:_HEADER + size]
                    return frame
            if self._closed:
                return None
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and (left <= 0 or not select.select([self.fd], [], [], left)[0]):
                raise TimeoutError
            chunk = os.read(self.fd, 1 << 20)
            if chunk:
                self._buffer += chunk
            else:
                self._closed = True

    def kill(self) -> None:
        """Kill the child's process group (whatever still runs there); `stop` reaps it."""
        if self.ending is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass  # it ended, and took its group with it

    def stop(self, killed: bool = False) -> Ending:
        """Kill the child's process group, reap the child and close the pipe (no thread may
        be reading it any more: see `kill`)."""
        if self.ending is not None:
            return self.ending
        self.kill()
        if self.popen is not None:
            status = self.popen.wait()
            self.popen.stdout.close()  # type: ignore[union-attr]
            self.popen.stdin.close()  # type: ignore[union-attr]
            code, sig = (None, -status) if status < 0 else (status, None)
        else:
            _, raw = os.waitpid(self.pid, 0)
            os.close(self.fd)
            code, sig = os.waitstatus_to_exitcode(raw), None
            if code < 0:
                code, sig = None, -code
        self.ending = Ending(code, sig, killed and sig == signal.SIGKILL)
        return self.ending


def _widen(fd: int) -> None:
    """Let the pipe of ``fd`` hold `PIPE_BYTES` (where the system allows it: Linux, up to
    its ``fs.pipe-max-size``); else leave it as it is."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):  # not Linux, or a smaller cap
        pass


def send_frame(fd: int, data: bytes) -> None:
    """Write one frame (its length, then ``data``) to ``fd``, all of it."""
    view = memoryview(len(data).to_bytes(_HEADER, "big") + data)
    while view:
        view = view[os.write(fd, view):]


def read_frame(fd: int) -> bytes | None:
    """The next frame from ``fd``, waiting as long as it takes; None at the end of the file."""
    def exactly(size: int) -> bytes | None:
        data = b""
        while len(data) < size:
            chunk = os.read(fd, size - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    header = exactly(_HEADER)
    return None if header is None else exactly(int.from_bytes(header, "big"))


def limit_memory(limit: int | None) -> None:
    """Let this process's address space grow by at most ``limit`` bytes (Linux: RLIMIT_AS)."""
    if limit is None:
        return
    import resource

    try:
        with open("/proc/self/statm") as statm:
            size = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: the cap is on the whole address space
        size = 0
    try:
        resource.setrlimit(resource.RLIMIT_AS, (size + limit, size + limit))
    except (ValueError, OSError):  # a system that does not cap the address space (macOS)
        pass


def pickled_in_child(value: object, deadline_s: float = 10.0) -> tuple[bytes | None, str]:
    """``value`` pickled by cloudpickle in a forked child, to be sent to another process.

    Pickling a student's class could run their code (a ``__reduce__`` of their own), so it
    happens in a child, like a graded run. A module made at run time (a notebook's code that
    a test loaded into a module) is copied by value, as ``__main__``'s classes are: the other
    process has nowhere to import it from. Returns (the bytes, "") or (None, why it failed).
    """
    def work(send: Callable[[bytes], None]) -> None:
        try:
            import sys

            import cloudpickle

            for module in list(sys.modules.values()):
                if getattr(module, "__spec__", 1) is None and not hasattr(module, "__file__"):
                    cloudpickle.register_pickle_by_value(module)
            send(b"ok" + cloudpickle.dumps(value))
        except Exception as exc:
            send(f"{type(exc).__name__}: {exc}".encode())

    child = Child.fork(work)
    try:
        frame = child.receive(time.monotonic() + deadline_s)
    except (TimeoutError, ValueError):
        frame = None
    finally:
        child.stop()
    if frame is not None and frame.startswith(b"ok"):
        return frame[2:], ""
    return None, "it took too long" if frame is None else frame.decode(errors="replace")
