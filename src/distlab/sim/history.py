"""Client operations and their history, the input of the linearizability checker.

A client *invokes* an operation (``read``, ``write``, ``put``...), and later learns its
outcome: ``ok`` (it took effect, with this output), ``fail`` (it certainly did not take
effect) or ``info`` (unknown: a timeout, a crash -- it may or may not have taken effect).
An operation still pending when the run ends is unknown too. These are Jepsen's conventions,
and `History.to_jepsen` writes them in Jepsen's form.

`Client` is a `Node` that records its operations in its runtime's history: ``sim.history``
in a simulation, the host's in a real process (`distlab.net`), which prints each event and
appends it to a JSON lines file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import IO, Any, Callable

from distlab.sim.node import Node

STATUSES = ("pending", "ok", "fail", "info")


@dataclass
class Operation:
    """One client operation: what was asked, when, and how it ended.

    ``value`` is the argument (the value to write, ``[expected, new]`` for a cas); ``output``
    is what the operation returned (the value read). Times are simulated milliseconds;
    ``complete_time`` is None while the operation is pending.
    """

    id: int
    process: str | int
    f: str
    key: Any = None
    value: Any = None
    invoke_time: float = 0.0
    status: str = "pending"
    output: Any = None
    complete_time: float | None = None

    def __str__(self) -> str:
        key = "" if self.key is None else f"[{self.key!r}]"
        arg = "" if self.value is None else repr(self.value)
        out = "" if self.status != "ok" or self.output is None else f" -> {self.output!r}"
        return f"{self.process}: {self.f}{key}({arg}){out} {self.status}"


@dataclass
class History:
    """The operations of every client, in the order they were invoked."""

    operations: list[Operation] = field(default_factory=list)
    #: called with (kind, operation) on each invoke and completion (the simulation traces them)
    on_event: Callable[[str, Operation], None] | None = None
    #: where the time comes from (the simulation's clock)
    clock: Callable[[], float] = lambda: 0.0

    def invoke(self, process: str | int, f: str, value: Any = None, key: Any = None) -> Operation:
        """Record that ``process`` starts operation ``f``; returns it, to complete later."""
        for op in reversed(self.operations):
            if op.process == process and op.status == "pending":
                raise ValueError(f"client {process!r} invoked {f!r} while its operation "
                                 f"{op} is still pending: a client runs one operation at a "
                                 f"time (complete it with ok/fail/info first)")
        op = Operation(len(self.operations), process, f, key, value, self.clock())
        self.operations.append(op)
        if self.on_event:
            self.on_event("invoke", op)
        return op

    def _complete(self, op: Operation, status: str, output: Any) -> None:
        if op.status != "pending":
            raise ValueError(f"operation {op} was already completed")
        op.status, op.output, op.complete_time = status, output, self.clock()
        if self.on_event:
            self.on_event("complete", op)

    def ok(self, op: Operation, output: Any = None) -> None:
        """The operation took effect; ``output`` is what it returned (a read's value)."""
        self._complete(op, "ok", output)

    def fail(self, op: Operation) -> None:
        """The operation certainly did not take effect."""
        self._complete(op, "fail", None)

    def info(self, op: Operation) -> None:
        """The outcome is unknown (a timeout): it may or may not have taken effect."""
        self._complete(op, "info", None)

    def __len__(self) -> int:
        return len(self.operations)

    def __iter__(self):
        return iter(self.operations)

    def to_jepsen(self) -> list[dict]:
        """The history as Jepsen-style events (invoke, then ok/fail/info), in time order.

        An invoke carries the operation's argument; an ``ok`` carries what the operation
        returned (a read's value, a dequeued element) or, when it returned nothing, its
        argument. At equal times completions come first, so a client that completes an
        operation and invokes the next at the same instant is written in that order.
        """
        events = []
        for op in self.operations:
            events.append((op.invoke_time, 1, op.id, jepsen_event(op, "invoke")))
            if op.status != "pending":
                events.append((op.complete_time, 0, op.id, jepsen_event(op, "complete")))
        return [e[3] for e in sorted(events, key=lambda e: e[:3])]

    def to_jsonl(self, target: str | IO[str]) -> None:
        """Write `to_jepsen` as JSON lines (the format `python -m distlab.check` reads)."""
        text = "".join(json.dumps(e) + "\n" for e in self.to_jepsen())
        if isinstance(target, str):
            with open(target, "w", encoding="utf-8") as f:
                f.write(text)
        else:
            target.write(text)


def jepsen_event(op: Operation, kind: str) -> dict[str, Any]:
    """The invocation (``kind="invoke"``) or the completion (``"complete"``) of ``op`` as
    one Jepsen event (see `History.to_jepsen`)."""
    event: dict[str, Any] = {"process": op.process, "f": op.f}
    if op.key is not None:
        event["key"] = op.key
    if kind == "invoke":
        return {**event, "type": "invoke", "value": op.value}
    out = op.output if op.status == "ok" and op.output is not None else op.value
    return {**event, "type": op.status, "value": out}


class Client(Node):
    """A node that stands for a client: it records its operations in its runtime's history
    (``sim.history`` in a simulation; in a real process, the host's, also saved to a file).

    Clients are outside the cluster: they are not among the servers' ``peers``, but their
    own ``peers`` are all the servers.
    """

    def invoke(self, f: str, value: Any = None, key: Any = None) -> Operation:
        """Start an operation (record its invocation now)."""
        return self._runtime.history.invoke(self.id, f, value=value, key=key)

    def ok(self, op: Operation, output: Any = None) -> None:
        """The operation succeeded and returned ``output``."""
        self._runtime.history.ok(op, output)

    def fail(self, op: Operation) -> None:
        """The operation certainly did not take effect."""
        self._runtime.history.fail(op)

    def info(self, op: Operation) -> None:
        """The outcome is unknown (for example, no reply before the timeout)."""
        self._runtime.history.info(op)

    def conclude(self, op: Operation, status: str, output: Any = None) -> None:
        """Record the outcome of ``op`` by its status: "ok" (with ``output``), "fail" or
        "info" -- the three words of a Jepsen history."""
        match status:
            case "ok":
                self.ok(op, output)
            case "fail":
                self.fail(op)
            case "info":
                self.info(op)
            case _:
                raise ValueError(f"an outcome is 'ok', 'fail' or 'info'; got {status!r}")
