"""The counter workload: ``add`` and ``read`` on one counter, checked against `Counter`.

Maelstrom's ``g-counter`` and ``pn-counter`` workloads: clients add small deltas (negative
ones too, with ``negative=True``) and read the total. An add applied twice, or lost, shows
in a later read: the linearizability checker with `distlab.check.models.Counter` finds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distlab.check.models import Counter
from distlab.sim import Operation
from distlab.workloads.client import WorkloadClient

#: The checker's model of this workload.
MODEL = Counter


@dataclass(frozen=True)
class Add:
    client: str
    msg_id: int
    delta: int

    def ok(self) -> AddOk:
        """The reply: done."""
        return AddOk(self.msg_id)


@dataclass(frozen=True)
class Read:
    client: str
    msg_id: int

    def ok(self, value: int) -> ReadOk:
        """The reply: the counter's total is ``value``."""
        return ReadOk(self.msg_id, value)


@dataclass(frozen=True)
class AddOk:
    in_reply_to: int


@dataclass(frozen=True)
class ReadOk:
    """The counter's value."""

    in_reply_to: int
    value: int


class CounterClient(WorkloadClient):
    """A retrying client of the counter workload (see `WorkloadClient`).

    Half its operations add a delta in 1..5 (or -5..5 without 0, with ``negative``), half read.
    """

    def __init__(self, server: str = "server", ops: int = 10, retry: float = 100.0,
                 attempts: int | None = None, think: float = 0.0, negative: bool = False):
        super().__init__(server, ops, retry, attempts, think)
        self.negative = negative

    def choose(self, number: int) -> tuple[str, Any, Any]:
        if self.rng.random() < 0.5:
            return "read", None, None
        delta = self.rng.randint(1, 5)
        return "add", None, -delta if self.negative and self.rng.random() < 0.5 else delta

    def request(self, msg_id: int, f: str, key: Any, value: Any) -> Any:
        return Read(self.id, msg_id) if f == "read" else Add(self.id, msg_id, value)

    def outcome(self, op: Operation, reply: Any) -> tuple[str, Any]:
        match reply:
            case ReadOk(value=value) if op.f == "read":
                return "ok", value
            case AddOk() if op.f == "add":
                return "ok", None
        raise ValueError(f"{reply!r} does not answer the {op.f} request {reply.in_reply_to}")
