"""A linearizability checker: Wing & Gong's search with Lowe's just-in-time linearization.

A history of operations -- each invoked at one time and completed at a later one -- is
*linearizable* when every operation can be given a single instant between its invocation
and its completion (its *linearization point*) such that, taken in the order of those
instants, the operations are a legal run of a sequential object (a `Model`)
{cite:p}`herlihy1990linearizability`. Deciding this is NP-complete, so the checker searches.

The search (Wing and Gong's {cite:p}`wing1993testing`, in the form Lowe gives it
{cite:p}`lowe2017testing` and Porcupine implements {cite:p}`athalye2017porcupine`) walks a
doubly-linked list of the history's *call* and *return* events in time order:

* at a call, it tries to linearize that operation *now*: if the model accepts it, the call
  and its return are lifted out of the list, the pair is pushed on a stack, and the walk
  starts again from the head (the earliest remaining event);
* at a return, the operation it closes should already have been linearized: this branch is
  dead, so the last choice is undone (popped and put back in the list) and the walk moves on
  to the next candidate after it;
* the walk reaching the end of the list means every completed operation is linearized: the
  stack, bottom to top, is a linearization.

Lowe's cache makes it fast: a configuration is the *set* of operations linearized so far (a
bitset, as a Python int) together with the model's state; a configuration already seen is
never explored again, whatever order led to it.

Operations whose outcome is unknown (status ``"info"``, or ``"pending"``: never completed)
may have taken effect or not; they have no return event (their completion is at +infinity),
so they may be linearized anywhere after their call, or never. Left to themselves they would
double the work for the rest of the history each, so the search tries them last and prunes
them hard (see `distlab.check.linearization_search`, which holds the search and what keeps
its cost near linear in a long history). Failed operations (``"fail"``) took no effect and are
left out. Key-value histories are split per key and each key is checked alone
{cite:p}`horn2015faster`; the keys are searched side by side, so that the first violation
found ends the check, and a time budget and a memory limit bound the whole check.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from distlab.check.linearization_search import LinearizationSearch
from distlab.check.models import UNKNOWN, Model, get_model, shorten

STATUSES = ("ok", "fail", "info", "pending")


class Verdict(StrEnum):
    """The checker's answer; compares equal to its string."""

    LINEARIZABLE = "linearizable"
    NOT_LINEARIZABLE = "not linearizable"
    UNKNOWN = "unknown"


class OperationLike(Protocol):
    """What the checker reads from an operation (`distlab.sim.Operation` has all of it)."""

    id: int
    process: Any
    f: str
    key: Any
    value: Any
    output: Any
    status: str
    invoke_time: float
    complete_time: float | None


@dataclass(frozen=True, slots=True)
class Op:
    """One client operation, as the checker sees it.

    ``value`` is the argument, ``output`` what it returned (`UNKNOWN` unless ``status`` is
    ``"ok"``). ``complete_time`` is ``None`` for a pending operation; for an ``"info"`` one it
    is when the client gave up waiting (drawn, but the checker treats it as +infinity).
    """

    id: int
    process: Any
    f: str
    key: Any = None
    value: Any = None
    output: Any = None
    status: str = "ok"
    invoke_time: float = 0.0
    complete_time: float | None = None

    @property
    def unknown(self) -> bool:
        """True when the operation may or may not have taken effect."""
        return self.status in ("info", "pending")

    @classmethod
    def of(cls, op: OperationLike) -> Op:
        """Copy any operation-like object, checking its fields make sense."""
        status = getattr(op, "status", "ok")
        if status not in STATUSES:
            raise ValueError(f"operation {op.id} has status {status!r}; expected one of "
                             f"{', '.join(STATUSES)}")
        complete = op.complete_time
        if status == "ok" and complete is None:
            raise ValueError(f"operation {op.id} is ok but has no complete_time")
        for name, time_ in (("invoke_time", op.invoke_time), ("complete_time", complete)):
            if time_ is not None and math.isnan(time_):
                raise ValueError(f"operation {op.id} has {name} nan; times must be numbers")
        if complete is not None and complete < op.invoke_time:
            raise ValueError(f"operation {op.id} completes at {complete} before its "
                             f"invocation at {op.invoke_time}")
        for name, value in (("value", op.value), ("output", op.output)):
            if isinstance(value, float) and math.isnan(value):
                raise ValueError(f"operation {op.id} has {name} nan: NaN equals nothing, not "
                                 f"even itself, so no read could match it; use None or a "
                                 f"number")
        output = op.output if status == "ok" else UNKNOWN
        return cls(op.id, op.process, op.f, getattr(op, "key", None), op.value, output,
                   status, op.invoke_time, complete)


@dataclass
class LinearizabilityResult:
    """The verdict, with a witness or an explanation.

    ``linearizations`` maps each checked key (``None`` for a single object) to an order of
    its operations: the whole linearization when the key passed, the longest linearizable
    prefix found when it did not. For a violation, ``key`` is the key that failed,
    ``unplaceable`` the operation(s) that could not be placed after that prefix, ``state`` the
    model's state after the prefix and ``operations`` that key's operations (for drawing).
    """

    verdict: Verdict
    model: Model
    operations: tuple[Op, ...] = ()
    linearizations: dict[Any, tuple[Op, ...]] = field(default_factory=dict)
    key: Any = None
    unplaceable: tuple[Op, ...] = ()
    state: Any = None
    reason: str = ""
    total_operations: int = 0
    unknown_operations: int = 0
    keys: int = 1
    #: configurations explored by the search (a measure of effort, deterministic)
    explored: int = 0

    @property
    def linearization(self) -> tuple[Op, ...]:
        """The linearization (or longest prefix) of ``key``'s operations."""
        return self.linearizations.get(self.key, ())

    @property
    def ok(self) -> bool:
        """True only when the history is known to be linearizable."""
        return self.verdict is Verdict.LINEARIZABLE

    def around(self, before: int = 3) -> tuple[Op, ...]:
        """The operations around the one(s) that could not be placed, by invocation time.

        Those are the unplaceable operations, every operation of the same key concurrent
        with one of them (their intervals overlap: either could have taken effect first),
        and the ``before`` operations that returned last before the first of them was
        invoked: where to look for the bug. Empty unless the history is not linearizable.
        """
        if not self.unplaceable:
            return ()
        first = min(op.invoke_time for op in self.unplaceable)

        def end(op: Op) -> float:
            return math.inf if op.unknown or op.complete_time is None else op.complete_time

        def concurrent(op: Op) -> bool:
            return any(op.invoke_time <= end(u) and u.invoke_time <= end(op)
                       for u in self.unplaceable)

        live = [op for op in self.operations if op.status != "fail"]
        earlier = sorted((op for op in live if end(op) < first), key=lambda op: (end(op), op.id))
        chosen = {op.id for op in live if concurrent(op)}
        chosen.update(op.id for op in earlier[max(0, len(earlier) - before):] if before)
        return tuple(sorted((op for op in live if op.id in chosen),
                            key=lambda op: (op.invoke_time, op.id)))

    @property
    def window(self) -> tuple[float, float] | None:
        """The stretch of time (ms) that `around` covers: from its first invocation to the
        last return of an unplaceable operation (None for a linearizable history)."""
        ops = self.around()
        if not ops:
            return None
        ends = [op.complete_time for op in self.unplaceable if op.complete_time is not None]
        return (min(op.invoke_time for op in ops),
                max(ends) if ends else max(op.invoke_time for op in self.unplaceable))

    def __str__(self) -> str:
        objects = f"{self.keys} keys" if self.model.keyed else "1 object"
        summary = (f"  {self.total_operations} operations ({self.unknown_operations} with "
                   f"unknown outcome) on {objects}, model {self.model.name}")
        lines = [str(self.verdict.value), summary]
        if self.verdict is Verdict.UNKNOWN:
            lines.extend(f"  {line}" for line in self.reason.splitlines())
        if self.verdict is Verdict.NOT_LINEARIZABLE:
            lines.extend(self._explanation())
        return "\n".join(lines)

    def _explanation(self, shown: int = 8) -> list[str]:
        describe = self.model.describe
        lines = []
        if self.model.keyed:
            lines.append(f"  key {self.key!r} is not linearizable:")
        prefix = self.linearization
        lines.append(f"  longest linearizable prefix found: {len(prefix)} of "
                     f"{sum(op.status != 'fail' for op in self.operations)} operations")
        if len(prefix) > shown:
            lines.append(f"    ... {len(prefix) - shown} earlier operations")
        for n, op in enumerate(prefix[-shown:], start=max(1, len(prefix) - shown + 1)):
            lines.append(f"    {n:>3}. {_line(op, describe)}")
        lines.append(f"  state after it: {shorten(repr(self.state))}")
        lines.append("  then no order of the operations in progress lets this one take effect "
                     "before it returned (it cannot be placed):")
        lines.extend(f"         {_line(op, describe)}" for op in self.unplaceable)
        lines.append("  the operations around it (concurrent with it, or just before it), by "
                     "invocation:")
        unplaceable = {op.id for op in self.unplaceable}
        lines.extend(f"    {'->' if op.id in unplaceable else '  '} {_line(op, describe)}"
                     for op in self.around())
        return lines

    def __repr__(self) -> str:
        return f"<LinearizabilityResult: {self.verdict.value}, model {self.model.name}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    # -- pictures ----------------------------------------------------------------------------
    def draw(self, ax: Any = None, max_ops: int = 30) -> Any:
        """Draw the history as a timeline (one lane per process) and return the figure.

        Each operation is a bar from invocation to completion; the linearization (or longest
        prefix) is shown as numbered points, the operation(s) that could not be placed in red.
        Long histories are cut to a window of about ``max_ops`` operations around the problem.
        """
        from distlab.check.history_plot import draw_history

        return draw_history(self.operations, self.model, linearization=self.linearization,
                            impossible=self.unplaceable, ax=ax, title=self._title(),
                            max_ops=max_ops)

    def _title(self) -> str:
        """What the picture's title says: the verdict, and the key checked."""
        title = {Verdict.LINEARIZABLE: "linearizable: numbered points give an order",
                 Verdict.NOT_LINEARIZABLE: "not linearizable: the red operation cannot be "
                                           "placed",
                 Verdict.UNKNOWN: "unknown: the check reached its time or memory "
                                  "limit"}[self.verdict]
        if self.model.keyed and self.key is not None:
            title += f" (key {self.key!r})"
        return title

    def save(self, path: str, max_ops: int = 30) -> None:
        """Write the picture to ``path``; the format follows the suffix (.png, .svg, .pdf)."""
        import matplotlib.pyplot as plt

        fig = self.draw(max_ops=max_ops)
        try:
            formats = fig.canvas.get_supported_filetypes()
            suffix = path.rpartition(".")[2].lower() if "." in path else ""
            if suffix not in formats:
                raise ValueError(f"cannot tell which picture format {path!r} should be: end "
                                 f"it with one of {', '.join('.' + f for f in formats)}")
            fig.savefig(path, bbox_inches="tight")
        finally:
            plt.close(fig)

    def _repr_png_(self) -> tuple[bytes, dict[str, str]]:
        """The picture, with what it shows as its alt text (the book gives it the image)."""
        import io

        import matplotlib.pyplot as plt

        fig = self.draw()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight")
        plt.close(fig)
        alt = (f"History of {len(self.operations)} operations, a lane per process: "
               f"{self._title()}")
        return buffer.getvalue(), {"alt": alt}


def _line(op: Op, describe: Any) -> str:
    end = "outcome unknown" if op.unknown else f"returned {op.complete_time:g}"
    return f"process {op.process}: {describe(op):<14} invoked {op.invoke_time:g}, {end}"


#: The default bound on the memory the search may hold (an estimate of its cache), in bytes.
DEFAULT_MEMORY_LIMIT = 1 << 30
#: Pauses (of `LinearizationSearch.YIELD_EVERY` steps) each key gets in the first round;
#: every round doubles it.
FIRST_SLICE = 2


def check_linearizability(history: Any, model: Model | type[Model] | str, *,
                          timeout: float | None = None,
                          memory_limit: int | None = DEFAULT_MEMORY_LIMIT
                          ) -> LinearizabilityResult:
    """Decide whether ``history`` is linearizable with respect to ``model``.

    ``history`` is a `distlab.sim.History` (anything with ``.operations``) or an iterable of
    operation-like objects (`OperationLike`: id, process, f, key, value, output, status,
    invoke_time, complete_time). ``model`` is a `Model` or a name (``"register"``,
    ``"cas-register"``, ``"kv"``, ``"queue"``, ``"counter"``).

    The check never hangs and never exhausts the machine: after ``timeout`` seconds (None: no
    limit), or once the search would hold more than ``memory_limit`` bytes (1 GiB by default;
    None: no limit), the verdict is ``"unknown"`` and the reason says what was explored.
    The keys of a key-value history are searched side by side, in rounds that give each key
    twice the steps of the round before, and the check stops at the first key found not
    linearizable: a key whose search blows up cannot hide another key's violation.

    Operations that touch at an instant (one completes at t, another is invoked at t) are
    treated as concurrent, so ties in the timestamps never cause a false alarm.
    """
    model = get_model(model)
    _check_limits(timeout, memory_limit)
    deadline = math.inf if timeout is None else time.monotonic() + timeout
    operations = validated_operations(history, model)
    groups = _partition(operations, model)
    result = LinearizabilityResult(
        Verdict.LINEARIZABLE, model, total_operations=len(operations),
        unknown_operations=sum(op.unknown for op in operations), keys=len(groups))
    if len(groups) == 1:
        (result.key, result.operations), = groups.items()
    searches = {key: LinearizationSearch(model, ops) for key, ops in groups.items()}
    sides = _SideBySide(searches, deadline, memory_limit)
    violated = sides.run()
    failed = sides.failed
    result.explored = sum(search.explored for search in searches.values())
    result.linearizations = {key: search.linearization for key, search in searches.items()
                             if key in sides.passed or (violated and key == failed)}
    if violated or sides.given_up:
        key = failed if violated else max(sides.given_up, key=lambda k: searches[k].explored)
        result.key, result.operations = key, tuple(groups[key])
    if violated:
        search = searches[failed]
        result.verdict = Verdict.NOT_LINEARIZABLE
        result.unplaceable = search.unplaceable
        result.state = search.state_after_prefix
    elif sides.given_up:
        result.verdict = Verdict.UNKNOWN
        result.reason = sides.explain(timeout, memory_limit, model.keyed)
    return result


def _check_limits(timeout: float | None, memory_limit: int | None) -> None:
    """Refuse limits that would make the check hang or stop at once for no reason."""
    if timeout is not None and not (isinstance(timeout, (int, float)) and timeout >= 0
                                    and math.isfinite(timeout)):
        raise ValueError(f"timeout must be a finite number of seconds >= 0, or None for no "
                         f"limit; got {timeout!r}")
    if memory_limit is not None and not (isinstance(memory_limit, int) and memory_limit > 0):
        raise ValueError(f"memory_limit must be a number of bytes > 0, or None for no limit; "
                         f"got {memory_limit!r}")


def _size(n: float) -> str:
    """Bytes as a short text: ``1 GB``, ``500 MB``."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:g} bytes"


class _SideBySide:
    """Runs the searches of several keys in rounds, and stops at the first violation.

    Round r gives each unfinished key ``FIRST_SLICE * 2**r`` pauses' worth of steps, so the
    work spent before a violating key is found is at most a few times (number of keys) x (its
    own cost), whatever the other keys cost. Between two pauses the deadline and the memory
    held by all searches are checked: past the deadline every unfinished key is given up;
    past the memory limit, the key whose search holds the most is given up (its memory freed)
    and the others go on. Rounds are counted in steps, not seconds, so the outcome is the
    same on every run (unless a limit is reached).
    """

    def __init__(self, searches: dict[Any, LinearizationSearch], deadline: float,
                 memory_limit: int | None) -> None:
        self.searches = searches
        self.deadline = deadline
        self.memory_limit = math.inf if memory_limit is None else memory_limit
        self.running = {key: search.steps() for key, search in searches.items()}
        self.passed: set[Any] = set()
        #: key -> why it was given up ("time" or "memory"); its search's ``explored`` says how far
        self.given_up: dict[Any, str] = {}
        self.seconds = dict.fromkeys(searches, 0.0)
        #: the key found not linearizable, once `run` returned True
        self.failed: Any = None

    def run(self) -> bool:
        """Search until a key is found not linearizable (True; it is ``failed``) or every key
        is decided or given up (False)."""
        pauses = FIRST_SLICE
        while self.running:
            for key in list(self.running):
                if key not in self.running:  # given up earlier in this round
                    continue
                began = time.monotonic()
                try:
                    linearizable = self._advance(key, pauses)
                finally:
                    self.seconds[key] += time.monotonic() - began
                if linearizable is False:
                    self.failed = key
                    return True
            pauses *= 2
        return False

    def _advance(self, key: Any, pauses: int) -> bool | None:
        """Run ``key``'s search for up to ``pauses`` pauses: its answer, or None if unfinished."""
        steps = self.running[key]
        try:
            for _ in range(pauses):
                next(steps)
                if time.monotonic() > self.deadline:
                    for unfinished in list(self.running):
                        self._give_up(unfinished, "time")
                    return None
                if sum(self.searches[k].memory for k in self.running) > self.memory_limit:
                    self._give_up(max(self.running, key=lambda k: self.searches[k].memory),
                                  "memory")
                    if key not in self.running:
                        return None
        except StopIteration as finished:
            del self.running[key]
            self.searches[key].forget()  # its answer is known: free its cache
            if finished.value:
                self.passed.add(key)
            return finished.value
        return None

    def _give_up(self, key: Any, why: str) -> None:
        self.running.pop(key).close()
        self.searches[key].forget()
        self.given_up[key] = why

    def explain(self, timeout: float | None, memory_limit: int | None, keyed: bool,
                shown: int = 5) -> str:
        """Why the answer is unknown: per key given up (the ``shown`` that explored most),
        the limit reached and the work done."""
        lines = []
        keys = sorted(self.given_up, key=lambda k: -self.searches[k].explored)
        for key in keys[:shown]:
            limit = (f"no answer within the time budget of {timeout:g} s"
                     if self.given_up[key] == "time"
                     else f"memory limit of {_size(memory_limit or 0)} reached")
            where = f" on key {key!r}" if keyed else ""
            lines.append(f"{limit}{where}: explored {self.searches[key].explored:,} "
                         f"configurations in {self.seconds[key]:.1f} s")
        if len(keys) > shown:
            lines.append(f"... and {len(keys) - shown} more keys given up")
        if keyed:
            lines.append(f"{len(self.passed)} of {len(self.searches)} keys are linearizable; "
                         f"no key was found not linearizable")
        return "\n".join(lines)


def _operations(history: Any) -> list[Op]:
    """The history's operations as `Op` values, in id order."""
    source: Iterable[Any] = getattr(history, "operations", history)
    return sorted((Op.of(op) for op in source), key=lambda op: op.id)


def validated_operations(history: Any, model: Model) -> list[Op]:
    """The history's operations as `Op` values, in id order, each checked to be one that
    ``model`` can apply (a ValueError names the first that is not, and why)."""
    operations = _operations(history)
    for op in operations:
        if op.f not in model.functions:
            raise ValueError(f"operation {op.id} ({op.f!r}) is not an operation of model "
                             f"{model.name}, which has: {', '.join(sorted(model.functions))}")
        if model.keyed and op.key is None:
            raise ValueError(f"operation {op.id} ({op.f!r}) has no key; model {model.name} "
                             f"needs one on every operation")
        try:
            model.check(op)
        except ValueError as exc:
            raise ValueError(f"operation {op.id}: {exc}") from None
    return operations


def _partition(ops: list[Op], model: Model) -> dict[Any, list[Op]]:
    """The operations per key (in order of each key's first operation), or all under None."""
    if not model.keyed:
        return {None: ops}
    groups: dict[Any, list[Op]] = {}
    for op in ops:
        groups.setdefault(op.key, []).append(op)
    return groups


