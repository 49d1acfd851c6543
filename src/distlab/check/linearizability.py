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
them hard (see `_Search`). Failed operations (``"fail"``) took no effect and are left out.
Key-value histories are split per key and each key is checked alone {cite:p}`horn2015faster`.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from distlab.check.models import UNKNOWN, Model, get_model

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
        if complete is not None and complete < op.invoke_time:
            raise ValueError(f"operation {op.id} completes at {complete} before its "
                             f"invocation at {op.invoke_time}")
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

    def __str__(self) -> str:
        objects = f"{self.keys} keys" if self.model.keyed else "1 object"
        summary = (f"  {self.total_operations} operations ({self.unknown_operations} with "
                   f"unknown outcome) on {objects}, model {self.model.name}")
        lines = [str(self.verdict.value), summary]
        if self.verdict is Verdict.UNKNOWN:
            lines.append(f"  {self.reason}")
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
        lines.append(f"  state after it: {self.state!r}")
        lines.append("  then no order of the operations in progress lets this one take effect "
                     "before it returned (it cannot be placed):")
        lines.extend(f"         {_line(op, describe)}" for op in self.unplaceable)
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

        title = {Verdict.LINEARIZABLE: "linearizable: numbered points give an order",
                 Verdict.NOT_LINEARIZABLE: "not linearizable: the red operation cannot be "
                                           "placed",
                 Verdict.UNKNOWN: "unknown: the check ran out of time"}[self.verdict]
        if self.model.keyed and self.key is not None:
            title += f" (key {self.key!r})"
        return draw_history(self.operations, self.model, linearization=self.linearization,
                            impossible=self.unplaceable, ax=ax, title=title, max_ops=max_ops)

    def save(self, path: str, max_ops: int = 30) -> None:
        """Write the picture to ``path``; the format follows the suffix (.png, .svg, .pdf)."""
        import matplotlib.pyplot as plt

        fig = self.draw(max_ops=max_ops)
        fig.savefig(path, bbox_inches="tight")
        plt.close(fig)

    def _repr_png_(self) -> bytes:
        import io

        import matplotlib.pyplot as plt

        fig = self.draw()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight")
        plt.close(fig)
        return buffer.getvalue()


def _line(op: Op, describe: Any) -> str:
    end = "outcome unknown" if op.unknown else f"returned {op.complete_time:g}"
    return f"process {op.process}: {describe(op):<14} invoked {op.invoke_time:g}, {end}"


def _hashable(value: Any) -> Hashable:
    """``value`` if hashable, else its repr (only used to group look-alike operations)."""
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


class _Timeout(Exception):
    """Raised inside the search when the time budget is spent."""


def check_linearizability(history: Any, model: Model | type[Model] | str, *,
                          timeout: float | None = None) -> LinearizabilityResult:
    """Decide whether ``history`` is linearizable with respect to ``model``.

    ``history`` is a `distlab.sim.History` (anything with ``.operations``) or an iterable of
    operation-like objects (`OperationLike`: id, process, f, key, value, output, status,
    invoke_time, complete_time). ``model`` is a `Model` or a name (``"register"``,
    ``"cas-register"``, ``"kv"``, ``"queue"``, ``"counter"``). After ``timeout`` seconds of
    searching the verdict is ``"unknown"``; the check never hangs.

    Operations that touch at an instant (one completes at t, another is invoked at t) are
    treated as concurrent, so ties in the timestamps never cause a false alarm.
    """
    model = get_model(model)
    operations = _operations(history)
    for op in operations:
        if op.f not in model.functions:
            raise ValueError(f"operation {op.id} ({op.f!r}) is not an operation of model "
                             f"{model.name}, which has: {', '.join(sorted(model.functions))}")
        if model.keyed and op.key is None:
            raise ValueError(f"operation {op.id} ({op.f!r}) has no key; model {model.name} "
                             f"needs one on every operation")
    deadline = math.inf if timeout is None else time.monotonic() + timeout
    groups = _partition(operations, model)
    result = LinearizabilityResult(
        Verdict.LINEARIZABLE, model, total_operations=len(operations),
        unknown_operations=sum(op.unknown for op in operations), keys=len(groups))
    if len(groups) == 1:
        (result.key, result.operations), = groups.items()
    for checked, (key, ops) in enumerate(groups.items()):
        search = _Search(model, ops, deadline)
        try:
            found = search.run()
        except _Timeout:
            result.verdict = Verdict.UNKNOWN
            result.key, result.operations = key, tuple(ops)
            result.reason = (f"no answer within the time budget of {timeout:g} s"
                             + (f" (checked {checked} of {len(groups)} keys)" if model.keyed
                                else ""))
            result.explored += search.explored
            return result
        result.explored += search.explored
        result.linearizations[key] = search.linearization
        if not found:
            result.verdict = Verdict.NOT_LINEARIZABLE
            result.key, result.operations = key, tuple(ops)
            result.unplaceable = search.unplaceable
            result.state = search.state_after_prefix
            return result
    return result


def _operations(history: Any) -> list[Op]:
    """The history's operations as `Op` values, in id order."""
    source: Iterable[Any] = getattr(history, "operations", history)
    return sorted((Op.of(op) for op in source), key=lambda op: op.id)


def _partition(ops: list[Op], model: Model) -> dict[Any, list[Op]]:
    """The operations per key (in order of each key's first operation), or all under None."""
    if not model.keyed:
        return {None: ops}
    groups: dict[Any, list[Op]] = {}
    for op in ops:
        groups.setdefault(op.key, []).append(op)
    return groups


class _Search:
    """Lowe's just-in-time linearization over one object's operations.

    The event list lives in arrays indexed by event number, in time order (faster than
    objects): ``nxt``/``prv`` link the events still in the list (index ``head`` is the
    sentinel before the first, -1 the end), ``op_of`` gives each event's operation and
    ``ret_of`` the return event of a call.

    Operations with unknown outcome are *optional*. They have no return, so they are kept
    out of the list, and they are tried last: only when the walk reaches the first remaining
    return (every completed operation that could go next has been tried) does the search try
    *blocks* of optional operations invoked before it, and only then does it backtrack.
    Three rules keep the optional operations from multiplying the work:

    * the cache remembers, per (completed operations done, state), the sets of optional
      operations used; a configuration reached again with a *superset* of one of them is
      skipped, since the earlier visit could do all this one can (the unused ones were still
      available to it);
    * optional operations that look the same (same f, key, value) are interchangeable, so
      only the earliest-invoked unused one of each such *class* is ever tried;
    * a block is computed breadth-first, keeping per resulting state only the minimal sets,
      and a block is never followed directly by another.
    """

    CHECK_EVERY = 2048  # iterations between two looks at the clock

    def __init__(self, model: Model, ops: list[Op], deadline: float) -> None:
        self.model = model
        self.deadline = deadline
        # failed operations took no effect; unknown reads cannot matter
        self.ops = [op for op in ops if op.status != "fail"
                    and not (op.unknown and op.f in model.read_only)]
        self.explored = 0
        self.linearization: tuple[Op, ...] = ()
        self.unplaceable: tuple[Op, ...] = ()
        self.state_after_prefix: Any = model.init()
        self.seen: dict[tuple[int, Hashable], list[int]] = {}
        self._build_list()

    def _build_list(self) -> None:
        """The time-ordered call/return list, and the classes of optional operations."""
        events = []  # (time, calls-first tiebreak, op number, is_call)
        for n, op in enumerate(self.ops):
            events.append((op.invoke_time, 0, n, True))
            if not op.unknown:
                events.append((op.complete_time, 1, n, False))
        events.sort()
        m = len(events)
        self.head = m
        self.op_of = [e[2] for e in events]
        self.is_call = [e[3] for e in events]
        self.ret_of = [-1] * m
        call_of_op = [0] * len(self.ops)
        self.nxt = [-1] * (m + 1)
        self.prv = [-1] * (m + 1)
        class_of: dict[tuple, int] = {}
        #: per class, the (call event, op number) of its members in time order, then a sentinel
        self.classes: list[list[tuple[int, int]]] = []
        last = self.head
        for i, (_, _, n, is_call) in enumerate(events):
            op = self.ops[n]
            if is_call and op.unknown:
                key = (op.f, _hashable(op.key), _hashable(op.value))
                c = class_of.setdefault(key, len(self.classes))
                if c == len(self.classes):
                    self.classes.append([])
                self.classes[c].append((i, n))
                continue
            if is_call:
                call_of_op[n] = i
            else:
                self.ret_of[call_of_op[n]] = i
            self.nxt[last], self.prv[i], last = i, last, i
        for members in self.classes:
            members.append((m, -1))  # invoked after everything: never available
        self.first_calls = [members[0][0] for members in self.classes]

    def _visit(self, done: int, used: int, state: Hashable) -> bool:
        """Record a configuration; False if it (or one using fewer optional ops) was seen."""
        earlier = self.seen.get((done, state))
        if earlier is None:
            self.seen[(done, state)] = [used]
            return True
        for u in earlier:
            if u & used == u:
                return False
        earlier.append(used)
        return True

    def _optional_blocks(self, state: Hashable, done: int, used: int, taken: tuple[int, ...],
                         before: int) -> list[tuple[Hashable, int, tuple[int, ...], tuple]]:
        """The new configurations that non-empty sequences of the optional operations invoked
        before event ``before`` lead to: (state, used, taken per class, the sequence)."""
        ops, step, visit = self.ops, self.model.step, self._visit
        # classes are numbered in the order of their first call: these have begun
        classes = self.classes[:bisect.bisect_left(self.first_calls, before)]
        blocks = []
        layer = [(state, used, taken, ())]
        while layer:
            if time.monotonic() > self.deadline:
                raise _Timeout
            next_layer = []
            for s, u, tk, sequence in layer:
                for c, members in enumerate(classes):
                    call, n = members[tk[c]]
                    if call > before:
                        continue
                    ok, new_state = step(s, ops[n])
                    if ok and visit(done, u | (1 << n), new_state):
                        block = (new_state, u | (1 << n), tk[:c] + (tk[c] + 1,) + tk[c + 1:],
                                 sequence + (n,))
                        blocks.append(block)
                        next_layer.append(block)
            layer = next_layer
        return blocks

    def run(self) -> bool:
        """Search; True if linearizable. Sets ``linearization`` (or the longest prefix)."""
        if time.monotonic() > self.deadline:
            raise _Timeout
        ops, step = self.ops, self.model.step
        op_of, is_call, ret_of = self.op_of, self.is_call, self.ret_of
        nxt, prv, head = self.nxt, self.prv, self.head
        state: Hashable = self.model.init()
        done = used = 0  # bitsets of the completed / optional operations linearized so far
        taken = (0,) * len(self.classes)  # how many of each optional class are linearized
        self.seen = {(0, state): [0]}
        # A frame is (call event, state before, None, 0) for a completed operation, or
        # (return event it unblocked, (state, used, taken) before, blocks, which one).
        stack: list[tuple[int, Any, list | None, int]] = []

        def order() -> tuple[Op, ...]:
            result = []
            for e, _, blocks, k in stack:
                result.extend([ops[op_of[e]]] if blocks is None
                              else [ops[n] for n in blocks[k][3]])
            return tuple(result)

        # the deepest dead end: most completed operations linearized, then fewest optional
        best = (-1, 0)
        iterations = 0
        entry = nxt[head]
        try:
            while True:
                iterations += 1
                if iterations % self.CHECK_EVERY == 0 and time.monotonic() > self.deadline:
                    raise _Timeout
                if entry == -1:  # every completed operation is linearized
                    self.linearization = order()
                    return True
                if is_call[entry]:
                    n = op_of[entry]
                    ok, new_state = step(state, ops[n])
                    if ok and self._visit(done | (1 << n), used, new_state):
                        stack.append((entry, state, None, 0))
                        state, done = new_state, done | (1 << n)
                        # lift the call and its return out of the list
                        p, q = prv[entry], nxt[entry]
                        nxt[p] = q
                        if q != -1:
                            prv[q] = p
                        r = ret_of[entry]
                        p, q = prv[r], nxt[r]
                        nxt[p] = q
                        if q != -1:
                            prv[q] = p
                        entry = nxt[head]
                    else:
                        entry = nxt[entry]
                    continue
                # The first remaining return: its operation had to be linearized by now.
                depth = (done.bit_count(), -used.bit_count())
                if depth > best:  # the deepest dead end so far: remember it
                    best = depth
                    self.linearization = order()
                    self.state_after_prefix = state
                    self.unplaceable = (ops[op_of[entry]],)
                after_block = bool(stack) and stack[-1][2] is not None
                blocks = [] if after_block else self._optional_blocks(state, done, used, taken,
                                                                       entry)
                if blocks:  # try a block of optional operations before giving up here
                    stack.append((entry, (state, used, taken), blocks, 0))
                    state, used, taken, _ = blocks[0]
                    entry = nxt[head]
                    continue
                while True:  # backtrack
                    if not stack:
                        return False
                    entry, saved, blocks, k = stack.pop()
                    if blocks is None:  # undo a completed operation
                        state = saved
                        done ^= 1 << op_of[entry]
                        # put the return, then the call, back (the reverse of lifting them)
                        r = ret_of[entry]
                        nxt[prv[r]] = r
                        if nxt[r] != -1:
                            prv[nxt[r]] = r
                        nxt[prv[entry]] = entry
                        if nxt[entry] != -1:
                            prv[nxt[entry]] = entry
                        entry = nxt[entry]
                        break
                    if k + 1 < len(blocks):  # the next block of optional operations
                        stack.append((entry, saved, blocks, k + 1))
                        state, used, taken, _ = blocks[k + 1]
                        entry = nxt[head]
                        break
                    state, used, taken = saved
        finally:
            self.explored += iterations
