"""Explaining a failed run in the student's terms: which seed, what broke, where in *their* code.

A run can fail in five ways, and each gets a one-line summary a student can act on:

=================  =========================================================================
kind               what happened
=================  =========================================================================
violated           a property did not hold (the first one, named in words)
not implemented    the skeleton's ``raise NotImplementedError()`` is still there
exception          the student's code raised (reported at the student's own line)
time limit         a handler ran too long in real time: an infinite loop, or a busy wait
event budget       too many events: a livelock, or timers that fire in a storm
exit               the run's code ended its process: ``sys.exit()``, ``os._exit()``, a crash
memory             the run's code ran out of memory (past a graded run's memory cap)
thread             the run's code started a thread that was still running at its end
malformed          a graded run sent back something that is not a report of a run
nondeterministic   the same seed gave two different traces (`distlab.grading.determinism`)
=================  =========================================================================

(The last five come from graded runs in a child process: `distlab.grading.verdicts`.)

The student's own line is found by walking the traceback of the exception the kernel chained
(``NodeError.__cause__``) to the innermost frame that is neither in distlab nor in the
standard library or an installed package: that is the line they wrote.
"""

from __future__ import annotations

import sysconfig
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Callable

from distlab.check.invariants import InvariantViolation
from distlab.grading.lab import Check
from distlab.grading.properties import PropertyViolated
from distlab.sim import (EventBudgetExceeded, Node, NodeError, Simulation, TraceEvent,
                         WallClockLimitExceeded)
from distlab.sim.guards import Alarm
from distlab.sim.helpers import ipython_shell

_DISTLAB = Path(__file__).resolve().parent.parent
#: where the standard library and installed packages live (never the student's code)
_LIBRARIES = tuple(sorted({Path(sysconfig.get_paths()[name]).resolve()
                           for name in ("stdlib", "platstdlib", "purelib", "platlib")}))
#: how many trace events a failure report shows, and how many messages its diagram draws
LAST_EVENTS = 12
DIAGRAM_MESSAGES = 40


@dataclass(frozen=True)
class CodeLocation:
    """A line of the student's code: where an exception was raised or a loop was stopped."""

    file: str
    line: int
    function: str
    code: str
    node: str | None = None

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}, in {self.function}\n    {self.code}"


@dataclass
class Failure:
    """One failed run of a check: enough to understand it, and to replay it.

    ``summary`` is one line (the first violated property, or what the code did wrong);
    ``explanation`` gives the details; ``where`` is the student's own line when code failed.
    ``sim`` is the failed run itself, stopped where it failed: a `Simulation`, or for a
    graded run the `distlab.grading.records.RecordedRun` it sent back (it has the same
    ``trace`` and ``now``); empty when the run's process died. ``window``, when known, is the
    stretch of time ``(start, end)`` where the problem lies (a linearizability violation:
    the operations around the one that cannot be placed): the events and the diagram shown
    are those of that stretch rather than the run's last ones.
    """

    check: str
    description: str
    seed: int
    kind: str
    summary: str
    explanation: str
    time: float
    sim: Simulation | Any
    node: str | None = None
    where: CodeLocation | None = None
    picture: Callable[[], Any] | None = None
    window: tuple[float, float] | None = None

    @property
    def replay_call(self) -> str:
        """The call that re-runs this very run (``lab`` is the student's lab object)."""
        return f"replay(lab.{self.check}, seed={self.seed})"

    def last_events(self, count: int = LAST_EVENTS) -> list[TraceEvent]:
        """The last ``count`` trace events, only those touching the failing node if known;
        with a ``window``, the last ones up to its end."""
        if self.window is not None:
            start, end = self.window
            return [e for e in self.sim.trace if start <= e.time <= end][-count:]
        events = self.sim.trace[-50 * count:]
        if self.node is not None:
            involved = [e for e in events if self.node in (e.node, e.peer)]
            events = involved or events
        return events[-count:]

    def lines(self) -> list[str]:
        """The failure in words, as lines of text (the report prints them)."""
        out = [f"{self.check} failed on seed {self.seed}: {self.summary}",
               f"  the check: {self.description}"]
        out += ["  " + line for line in self.explanation.splitlines()]
        if self.where is not None:
            out.append("  in your code: " + str(self.where).replace("\n", "\n  "))
        if getattr(self.sim, "real", False):  # a Trial's run: real code, no seed to replay
            out.append(f"  run it again: {self.replay_call} runs your code for real once more, "
                       f"outside the simulator (where its timing matters, it differs from run "
                       f"to run, so a failure may not come back every time)")
        else:
            out.append(f"  replay it: {self.replay_call}")
        events = self.last_events()
        if events and self.window is not None:
            out.append(f"  the last {len(events)} events before t={self.window[1]:.3f} ms, "
                       f"where the problem is (of {len(self.sim.trace):,}):")
            out += ["    " + describe_event(e) for e in events]
        elif events:
            whose = f" involving {self.node}" if self.node else ""
            out.append(f"  the last {len(events)} events{whose} (of {len(self.sim.trace):,}):")
            out += ["    " + describe_event(e) for e in events]
        return out

    def spacetime(self) -> Any:
        """The space-time diagram of the failing run's last messages (a matplotlib Figure).

        None when the run sent no message (it failed while starting).
        """
        sends = self.sim.trace.of_kind("send")
        if not sends:
            return None
        from distlab.viz import spacetime

        if self.window is not None:
            start, end = self.window
            end += max(1.0, 0.03 * (end - start))
            title = (f"{self.check}, seed {self.seed}: the messages from t={start:.0f} to "
                     f"{end:.0f} ms, around the failure")
            return spacetime(self.sim.trace, start=start, end=end, title=title)
        start = sends[-DIAGRAM_MESSAGES].time if len(sends) > DIAGRAM_MESSAGES else 0.0
        # a run judged at its end may have gone quiet long before: draw up to the failure,
        # so that the quiet (nothing more was sent) shows
        last = max(self.sim.trace[-1].time, self.time)
        end = last + max(1.0, 0.03 * (last - start))
        shown = min(len(sends), DIAGRAM_MESSAGES)
        title = (f"{self.check}, seed {self.seed}: the last {shown} messages "
                 f"(the failure: t={self.time:.0f} ms)")
        return spacetime(self.sim.trace, start=start, end=end, title=title)


def describe_event(event: TraceEvent) -> str:
    """One line for a trace event; an invocation shows only what was asked.

    (The trace holds the client's `Operation` itself, which later records its outcome: the
    invocation's own line must not show that outcome.)
    """
    if event.kind != "invoke":
        return event.describe()
    op = event.data
    key = "" if op.key is None else f"[{op.key!r}]"
    arg = "" if op.value is None else repr(op.value)
    return f"{event.time:10.3f} ms  {event.node}  invoke {op.f}{key}({arg})"


def explain(exc: BaseException, check: Check, seed: int, sim: Simulation) -> Failure:
    """Turn what stopped a run into a `Failure` the student can act on."""
    where = your_code(exc)
    node = where.node if where is not None else None

    def failure(kind: str, summary: str, explanation: str, time: float, **more: Any) -> Failure:
        return Failure(check.name, check.description, seed, kind, summary, explanation, time,
                       sim, **more)

    if _caused_by(exc, MemoryError):
        return failure("memory", "the run ran out of memory (MemoryError)",
                       "Something grew without end: a list appended to in a loop, a message "
                       "that holds all the earlier ones?", sim.now, node=node, where=where)
    match exc:
        case PropertyViolated(violation=v):
            return failure("violated", f"violated: {v.description}", v.explanation, v.time,
                           picture=v.picture, window=v.window)
        case InvariantViolation():
            return failure("violated", f"violated: always: {exc.invariant}",
                           f"{exc.explanation}\n(at t={exc.time:.3f} ms)", exc.time)
        case WallClockLimitExceeded() | Alarm():  # (an alarm that rang again, uncaught)
            what = f"{node}'s handler" if node else "a handler"
            return failure("time limit",
                           f"stopped: {what} ran too long (an infinite loop, or a busy wait?)",
                           f"{exc}.\nA handler must return quickly: never loop waiting for a "
                           f"message; set a timer, or wait for the next on_message.",
                           sim.now, node=node, where=where)
        case EventBudgetExceeded():
            return failure("event budget",
                           "too many events: a livelock, or a storm of timers or messages?",
                           str(exc), sim.now)
        case NodeError():
            cause = exc.__cause__ if exc.__cause__ is not None else exc
            node = exc.node or node
            during = (f"in {exc.event} at t={exc.time:.3f} ms" if exc.node is not None
                      else "while the scenario was being set up (creating the nodes)")
            if _not_implemented(cause):
                name = where.function if where is not None else exc.event
                return failure("not implemented", f"not implemented yet: {name}",
                               f"{node or 'the setup'} reached code that is still a stub, "
                               f"{during}", exc.time, node=node, where=where)
            who = f"node {node!r}" if node else "setting up"
            return failure("exception", f"{who} raised {type(cause).__name__}: {cause}",
                           f"{type(cause).__name__} {during}", exc.time, node=node,
                           where=where)
        case NotImplementedError():
            name = where.function if where is not None else "(unknown)"
            return failure("not implemented", f"not implemented yet: {name}", "", sim.now,
                           node=node, where=where)
        case SystemExit(code=code):
            return failure("exit", f"the run ended the process (exit code {code or 0}): your "
                           f"code called sys.exit({'' if code is None else repr(code)})",
                           "A check cannot judge a run that ends its process: never exit in "
                           "a node's code.", sim.now, node=node, where=where)
    return failure("exception", f"the check raised {type(exc).__name__}: {exc}",
                   f"at t={sim.now:.3f} ms; if it names an attribute of your node, the lab's "
                   f"text says which attributes the checks read", sim.now, node=node,
                   where=where)


def _not_implemented(exc: BaseException) -> bool:
    """Whether ``exc`` is, or was caused by, a NotImplementedError."""
    return _caused_by(exc, NotImplementedError)


def _caused_by(exc: BaseException | None, kind: type[BaseException]) -> bool:
    """Whether ``exc`` is, or was caused by, an exception of type ``kind``."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, kind):
            return True
        exc, seen = exc.__cause__, seen + 1
    return False


def your_code(exc: BaseException) -> CodeLocation | None:
    """The innermost line of the student's code in the traceback of ``exc`` or its causes."""
    chain = []
    while exc is not None and len(chain) < 10:
        chain.append(exc)
        exc = exc.__cause__ if exc.__cause__ is not None else (
            None if exc.__suppress_context__ else exc.__context__)
    for link in reversed(chain):  # the innermost cause first
        found = _innermost_student_frame(link.__traceback__)
        if found is not None:
            return found
    return None


def _innermost_student_frame(tb: TracebackType | None) -> CodeLocation | None:
    frames = list(traceback.walk_tb(tb))
    for frame, line in reversed(frames):
        filename = frame.f_code.co_filename
        if not _is_student_file(filename):
            continue
        me = frame.f_locals.get("self")
        node = me.id if isinstance(me, Node) and isinstance(getattr(me, "id", None), str) else None
        code = traceback.FrameSummary(filename, line, frame.f_code.co_name).line or ""
        return CodeLocation(_file_label(filename), line, frame.f_code.co_qualname, code.strip(),
                            node)
    return None


def _is_student_file(filename: str) -> bool:
    if filename.startswith("<frozen") or filename.startswith("<built-in"):
        return False
    path = Path(filename).resolve()
    if path.is_relative_to(_DISTLAB):
        return False
    return not any(path.is_relative_to(prefix) for prefix in _LIBRARIES)


def _file_label(filename: str) -> str:
    """``Cell In[4]`` for a notebook cell (as IPython says it), else the file's path."""
    compiler = getattr(ipython_shell(), "compile", None)
    label = getattr(compiler, "format_code_name", lambda name: None)(filename)
    if label:
        return " ".join(label)
    try:
        return str(Path(filename).resolve().relative_to(Path.cwd()))
    except ValueError:
        return filename
