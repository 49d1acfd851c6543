"""The register workload: ``read``, ``write`` and ``cas`` on one register, checked against
`CASRegister`.

Maelstrom's ``lin-kv`` workload on a single key. Values are small integers, so that a
compare-and-set often finds what it expects and often does not; a cas that finds another
value is answered with a definite `Error` (the client records ``fail``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distlab.check.models import CASRegister
from distlab.sim import Operation
from distlab.workloads.client import WorkloadClient

#: The checker's model of this workload.
MODEL = CASRegister


@dataclass(frozen=True)
class Read:
    client: str
    msg_id: int

    def ok(self, value: int | None) -> ReadOk:
        """The reply: the register holds ``value`` (None: never written)."""
        return ReadOk(self.msg_id, value)


@dataclass(frozen=True)
class Write:
    client: str
    msg_id: int
    value: int

    def ok(self) -> WriteOk:
        """The reply: done."""
        return WriteOk(self.msg_id)


@dataclass(frozen=True)
class Cas:
    """Set the register to ``new`` if it holds ``expected``; else answer a definite `Error`."""

    client: str
    msg_id: int
    expected: int | None
    new: int

    def ok(self) -> CasOk:
        """The reply: the register held ``expected`` and now holds ``new``."""
        return CasOk(self.msg_id)


@dataclass(frozen=True)
class ReadOk:
    """The register's value (None: never written)."""

    in_reply_to: int
    value: int | None


@dataclass(frozen=True)
class WriteOk:
    in_reply_to: int


@dataclass(frozen=True)
class CasOk:
    in_reply_to: int


class RegisterClient(WorkloadClient):
    """A retrying client of the register workload (see `WorkloadClient`).

    Each operation is a read, a write or a cas, equally likely, with values in
    ``range(values)``.
    """

    def __init__(self, server: str = "server", ops: int = 10, retry: float = 100.0,
                 attempts: int | None = None, think: float = 0.0, values: int = 5):
        super().__init__(server, ops, retry, attempts, think)
        self.values = values

    def choose(self, number: int) -> tuple[str, Any, Any]:
        f = self.rng.choice(("read", "write", "cas"))
        match f:
            case "read":
                return f, None, None
            case "write":
                return f, None, self.rng.randrange(self.values)
            case _:
                return f, None, (self.rng.randrange(self.values), self.rng.randrange(self.values))

    def request(self, msg_id: int, f: str, key: Any, value: Any) -> Any:
        match f:
            case "read":
                return Read(self.id, msg_id)
            case "write":
                return Write(self.id, msg_id, value)
            case _:
                return Cas(self.id, msg_id, *value)

    def outcome(self, op: Operation, reply: Any) -> tuple[str, Any]:
        match reply:
            case ReadOk(value=value) if op.f == "read":
                return "ok", value
            case WriteOk() if op.f == "write":
                return "ok", None
            case CasOk() if op.f == "cas":
                return "ok", None
        raise ValueError(f"{reply!r} does not answer the {op.f} request {reply.in_reply_to}")
