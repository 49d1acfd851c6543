"""Nondeterminism, detected: the same seed run again in a fresh Python process must give the
same trace.

A failing seed is only useful if it replays. Node code that iterates a set of strings (its
order changes with Python's hash seed, ``PYTHONHASHSEED``), calls the module ``random``
(seeded anew in every process) or reads the real clock (``time.time()``) gives a run that
differs from process to process, and a seed that may not replay after a kernel restart.

So `check` runs the first seed of each simulated check once more, in a fresh interpreter
started with another ``PYTHONHASHSEED`` (`FreshRuns`; the lab and the student's classes go
there with cloudpickle, which copies classes defined in a notebook by value), and compares
its trace with the graded run's (`compare`): a difference fails the check with a report that
shows the first event where the runs part and names the likely causes. One fresh process
serves a whole `check` call -- and the next ones: it is kept (`FreshInterpreter`) -- and it
runs while the checks run, on another core if there is one. `check_determinism(lab.test_x,
seed)` is the same comparison for one seed.
"""

from __future__ import annotations

import io
import os
import pickle
import queue
import re
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from typing import Any

from distlab.grading.explain import Failure
from distlab.grading.isolation import (GRACE_S, MEMORY_LIMIT, Child, Ending, limit_memory,
                                       pickled_in_child, read_frame, send_frame)
from distlab.grading.lab import Check, Scenario, Trial
from distlab.grading.records import MalformedRecord, RecordedRun, loads
from distlab.grading.report import Report
from distlab.grading.results import CheckResult
from distlab.grading.verdicts import RAN, graded_runs, judge_seed, report_seed

#: how long a fresh interpreter may take to start and load the lab (seconds, on a busy machine)
STARTUP_S = 60.0
#: how long `FreshRuns.close` waits for the interpreter to finish its batch (seconds)
FINISH_S = 2.0
#: the frame the fresh interpreter sends after the last run of a batch
END = b"end"
#: what it sends instead when it ends after this batch (a student's thread still runs there)
BYE = b"bye"
#: what may differ between two processes without the run differing: object addresses
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")

LIKELY_CAUSES = """\
Likely causes, in the code of your nodes:
  * iterating a set (or a dict built from one) of strings to choose peers or an order: its
    order changes with Python's hash seed; iterate sorted(...) instead;
  * the module random (random.choice, random.random, ...): use self.rng, the node's own
    seeded stream;
  * the real clock (time.time(), time.monotonic(), datetime.now()): use self.now;
  * anything else that differs between processes: id(), object addresses, threads.
A seed that does not replay cannot be debugged: replay() may show another run than the
one that failed."""


class FreshInterpreter:
    """A fresh Python interpreter, started with another ``PYTHONHASHSEED``, kept for the
    determinism checks of this process: it runs one batch of seeds after another (`send`),
    and sends a report of each run, then `END`.

    Starting one costs a quarter of a second of CPU (importing distlab), so `get` keeps it
    between `check` calls. It starts afresh when it has ended, when a check asks for another
    memory cap, or after a batch that left a thread of the student's code running (it ends
    itself then). A batch it does not finish in time stops it (`stop`).
    """

    _current: FreshInterpreter | None = None
    _lock = threading.Lock()  # one batch at a time

    def __init__(self, memory_limit: int | None):
        env = {**os.environ, "PYTHONHASHSEED": _other_hash_seed(),
               "PYTHONPATH": os.pathsep.join(p for p in sys.path if isinstance(p, str)),
               "DISTLAB_MEMORY_LIMIT": "" if memory_limit is None else str(memory_limit)}
        self.child = Child.spawn([sys.executable, "-c", f"import {__name__} as m; m.main()"],
                                 env)
        self.memory_limit = memory_limit
        self.retired = False  # it said it ends (BYE)
        self.frames: queue.Queue[bytes | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True, name="distlab-fresh")
        self.reader.start()

    @classmethod
    def get(cls, memory_limit: int | None) -> FreshInterpreter:
        """The interpreter kept for this process, started if need be (call with `_lock`)."""
        current = cls._current
        if current is None or current.retired or not current.reader.is_alive() or \
                current.memory_limit != memory_limit:
            if current is not None:
                current.stop()
            current = cls._current = cls(memory_limit)
        return current

    def _read(self) -> None:
        try:
            while (frame := self.child.receive(None)) is not None:
                if frame != RAN:
                    self.frames.put(frame)
        except (OSError, ValueError):
            pass  # stopped, or a damaged frame: the runs not received count as not finished
        finally:
            self.frames.put(None)

    def stop(self) -> Ending:
        """End it, and the thread that reads it; how it ended."""
        self.child.kill()
        self.reader.join(STARTUP_S)  # it reads to the end of the pipe, then stops
        if FreshInterpreter._current is self:
            FreshInterpreter._current = None
        return self.child.stop(killed=True)


class FreshRuns:
    """One seed of each of several checks, run in the `FreshInterpreter` in the background.

    `start` sends it the checks (pickled in a forked child: pickling runs no student code in
    the grader either; a module made at run time, such as one a test loads a notebook into,
    is copied by value too); `run` waits for one check's report and judges it here, as
    `distlab.grading.verdicts.judge_seed` judges a graded run; `close` lets the interpreter
    finish the batch, or stops it.
    """

    def __init__(self, fresh: FreshInterpreter, runs: Sequence[tuple[Check, int]], limit: float):
        self.fresh = fresh
        self.pending = [(c.name, seed) for c, seed in runs]
        self.deadline = time.monotonic() + STARTUP_S + limit
        self.ended = False  # whether the batch's END has been read

    @classmethod
    def start(cls, runs: Sequence[tuple[Check, int]], wall_limit: float | None = None,
              memory_limit: int | None = MEMORY_LIMIT) -> FreshRuns | None:
        """Send ``runs`` (check, seed) to the fresh interpreter, skipping `Trial` checks;
        None when there is nothing to run, or when the lab cannot be sent (a warning says
        why: cloudpickle could not copy it)."""
        chosen, limit = [], 0.0
        for c, seed in runs:
            scenario = _scenario(c, seed)
            if isinstance(scenario, Scenario):
                chosen.append((c, seed))
                limit += (wall_limit or scenario.wall_limit) + GRACE_S
        payload = _pickled((chosen, wall_limit)) if chosen else None
        if payload is None:
            return None
        batch = pickle.dumps(([p for p in sys.path if isinstance(p, str)], payload))
        FreshInterpreter._lock.acquire()
        try:
            fresh = FreshInterpreter.get(memory_limit)
            try:
                fresh.child.send(batch)
            except OSError:  # it ended since: once more, with a new one
                fresh.stop()
                fresh = FreshInterpreter.get(memory_limit)
                fresh.child.send(batch)
        except BaseException:
            FreshInterpreter._lock.release()
            raise
        return cls(fresh, chosen, limit)

    def _next(self) -> bytes | None:
        try:
            frame = self.fresh.frames.get(timeout=max(0.0, self.deadline - time.monotonic()))
        except queue.Empty:
            return None
        if frame in (END, BYE):
            self.ended = True
            self.fresh.retired = self.fresh.retired or frame == BYE
        return frame

    def run(self, c: Check, seed: int) -> bytes | None:
        """The frame of the fresh run of ``c`` with ``seed`` (as `report_seed` makes it); None
        if it was not run there or its process ended first (the graded runs report such a
        run)."""
        if (c.name, seed) not in self.pending:
            return None
        while self.pending:
            name, pending_seed = self.pending.pop(0)
            frame = self._next()
            if frame is None or frame in (END, BYE):
                self.pending.clear()
                warnings.warn(f"the determinism check of {c.name} is skipped: the fresh process "
                              f"ended or timed out before it ran seed {seed} ("
                              f"{self.fresh.stop().describe()})", stacklevel=4)
                return None
            if (name, pending_seed) == (c.name, seed):
                return frame
        return None

    def close(self) -> None:
        """Let the interpreter finish the batch (for a moment), or stop it."""
        try:
            self.deadline = min(self.deadline, time.monotonic() + FINISH_S)
            while not self.ended:
                if self._next() is None:
                    self.fresh.stop()
                    break
        finally:
            FreshInterpreter._lock.release()


def compare(c: Check, seed: int, here: RecordedRun, frame: bytes | None) -> Failure | None:
    """None if the fresh run (its ``frame``) is the same as ``here`` (a passing graded run),
    event for event; else the failure that says where they part and why that may be.

    The fresh run is judged only when it differs: the same trace judged by the same
    properties gives the same verdict, and judging costs more than comparing.
    """
    if frame is None:
        return None
    there = _trace_of(c, seed, frame)
    if there is not None and (here.trace._events == there.trace._events
                              or _lines(here) == _lines(there)):
        return None
    there, failure = judge_seed(c, seed, _scenario(c, seed), frame)
    ours, theirs = _lines(here), _lines(there)
    if ours == theirs and failure is None:
        return None
    part = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b),
                min(len(ours), len(theirs)))
    lines = [f"Run again in a fresh Python process (another PYTHONHASHSEED), seed {seed} "
             f"gave another run" + (f" -- which failed: {failure.summary}." if failure else ".")]
    if part < max(len(ours), len(theirs)):
        lines += [f"The runs part at event {part + 1}:",
                  f"  here:  {_event(here, part)}", f"  there: {_event(there, part)}"]
    return Failure(c.name, c.description, seed, "nondeterministic",
                   f"nondeterministic: seed {seed} gives different runs in two processes",
                   "\n".join(lines) + "\n" + LIKELY_CAUSES,
                   here.trace[part].time if part < len(here.trace) else here.now, here)


def compare_first_seed(result: CheckResult, fresh: FreshRuns) -> None:
    """Fail ``result`` if its first seed, which passed, gives another run in ``fresh``.

    That failure replaces any other of the check: it is about the first seed, and a later
    seed's failure may not replay anyway.
    """
    run, result.first_run = result.first_run, None  # (the report need not keep it)
    if run is not None:
        c = result.check
        result.failure = compare(c, run.seed, run, fresh.run(c, run.seed)) or result.failure


def check_determinism(check_method: object, seed: int = 1, *, wall_limit: float | None = None,
                      memory_limit: int | None = MEMORY_LIMIT) -> Report:
    """Run ``lab.test_x`` with ``seed`` in a child process and in a fresh interpreter, and
    report whether the two runs are the same (a `Report` of one row).

    `check` does this for the first seed of every check; call this to try another seed, or
    after changing your code.
    """
    c = Check.of(check_method)
    fresh = FreshRuns.start([(c, seed)], wall_limit, memory_limit)
    result = CheckResult(c, 0, 1, 0.0, 0, 0.0)
    began = time.perf_counter()
    try:
        for _, sim, failure in graded_runs(c, [seed], wall_limit, memory_limit):
            result.seeds_run, result.simulated_ms = 1, sim.now
            result.messages = sim.trace.counts().get("send", 0)
            result.failure = failure
            result.first_run = sim if failure is None else None
        if fresh is not None:
            compare_first_seed(result, fresh)
    finally:
        if fresh is not None:
            fresh.close()
    result.wall_seconds = time.perf_counter() - began
    report = Report(f"{c.lab.describe()}: the same run in two processes", [result])
    print(report)
    return report


def _scenario(c: Check, seed: int) -> Scenario | Trial | None:
    try:
        return c.scenario(seed)
    except Exception:  # the graded run reports it
        return None


def _trace_of(c: Check, seed: int, frame: bytes) -> RecordedRun | None:
    """The fresh run of a frame, played to its last step but not judged; None unless it is
    the record of a run that reported no failure (such a run is judged to be shown)."""
    scenario = _scenario(c, seed)
    try:
        data = loads(frame)
        if (not isinstance(scenario, Scenario) or not isinstance(data, dict)
                or data.get("seed") != seed or data.get("failure") is not None):
            return None
        run = RecordedRun.from_data(seed, data.get("record"), c.node_attributes(scenario))
    except MalformedRecord:
        return None
    run.play_trace()
    return run


def _lines(run: Any) -> list[str]:
    return _ADDRESS.sub(" at 0x", run.trace.dumps()).splitlines()


def _event(run: Any, position: int) -> str:
    if position >= len(run.trace):
        return f"(the run had ended, after {len(run.trace)} events)"
    return run.trace[position].describe().strip()


def _other_hash_seed() -> str:
    """A ``PYTHONHASHSEED`` other than this process's."""
    mine = os.environ.get("PYTHONHASHSEED", "")
    return str(int(mine) % 4_000_000_000 + 1) if mine.isdigit() else "1"


def _pickled(value: Any) -> bytes | None:
    """``value`` pickled for the fresh process; None (and a warning) if it cannot be."""
    payload, why = pickled_in_child(value, STARTUP_S)
    if payload is None:
        warnings.warn(f"the determinism check is skipped: the lab could not be sent to a "
                      f"fresh process ({why})", stacklevel=3)
    return payload


def main() -> None:
    """The fresh interpreter: run the batches of seeds it is sent on stdin, one after the
    other, and send a report of each run on stdout, then `END` after each batch."""
    out = os.dup(1)
    os.dup2(2, 1)  # what the runs write to the file descriptor goes to stderr, not the frames
    cap = os.environ.get("DISTLAB_MEMORY_LIMIT", "")
    memory_limit = int(cap) if cap.isdigit() else None
    limit_memory(memory_limit)
    output = io.StringIO()  # what the runs print: the graded runs print the same
    sys.stdout = output
    while (frame := read_frame(0)) is not None:
        path, payload = pickle.loads(frame)
        sys.path[:0] = [p for p in path if p not in sys.path]  # where the lab's modules are
        runs, wall_limit = pickle.loads(payload)
        for c, seed in runs:
            send_frame(out, report_seed(c, seed, wall_limit, memory_limit, output)[0])
        if threading.active_count() > 1:  # a student's thread still runs: start afresh
            send_frame(out, BYE)
            return
        send_frame(out, END)
