"""The log workload: ``append`` entries to one shared log and ``read`` it, checked against
`Log`.

A single-partition version of Maelstrom's ``kafka`` workload: an append returns the entry's
offset, a read returns every entry in order. Entries are unique (``"c1.3"``), so an entry
appended twice, lost, or read in two different orders shows up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from distlab.check.models import Log
from distlab.sim import Operation
from distlab.workloads.client import WorkloadClient

#: The checker's model of this workload.
MODEL = Log


@dataclass(frozen=True)
class Append:
    client: str
    msg_id: int
    entry: str

    def ok(self, offset: int) -> AppendOk:
        """The reply: the entry is at ``offset`` (how many entries precede it)."""
        return AppendOk(self.msg_id, offset)


@dataclass(frozen=True)
class Read:
    client: str
    msg_id: int

    def ok(self, entries: Sequence[str]) -> ReadOk:
        """The reply: every entry of the log, in order."""
        return ReadOk(self.msg_id, tuple(entries))


@dataclass(frozen=True)
class AppendOk:
    """The entry's offset: how many entries precede it in the log."""

    in_reply_to: int
    offset: int


@dataclass(frozen=True)
class ReadOk:
    """Every entry of the log, in order."""

    in_reply_to: int
    entries: tuple[str, ...]


class LogClient(WorkloadClient):
    """A retrying client of the log workload (see `WorkloadClient`): half appends, half reads."""

    def choose(self, number: int) -> tuple[str, Any, Any]:
        if self.rng.random() < 0.5:
            return "read", None, None
        return "append", None, f"{self.id}.{number}"

    def request(self, msg_id: int, f: str, key: Any, value: Any) -> Any:
        return Read(self.id, msg_id) if f == "read" else Append(self.id, msg_id, value)

    def outcome(self, op: Operation, reply: Any) -> tuple[str, Any]:
        match reply:
            case ReadOk(entries=entries) if op.f == "read":
                return "ok", tuple(entries)
            case AppendOk(offset=offset) if op.f == "append":
                return "ok", offset
        raise ValueError(f"{reply!r} does not answer the {op.f} request {reply.in_reply_to}")
