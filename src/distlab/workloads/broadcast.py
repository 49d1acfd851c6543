"""The broadcast workload: clients hand messages to any node, and every node must get them all.

Maelstrom's ``broadcast`` workload: a client sends `Broadcast` to one node, which
acknowledges it and spreads the message to the others (by gossip, a tree...); a `Read` asks a
node for every message it has. Broadcast is not linearizable, and need not be: what must hold
is that every acknowledged message eventually reaches every node. `unseen` checks that in a
history: after a quiet period, every read must contain every acknowledged message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from distlab.sim import History, Operation
from distlab.workloads.client import WorkloadClient


@dataclass(frozen=True)
class Broadcast:
    client: str
    msg_id: int
    message: str

    def ok(self) -> BroadcastOk:
        """The reply: the node has the message and will spread it."""
        return BroadcastOk(self.msg_id)


@dataclass(frozen=True)
class Read:
    client: str
    msg_id: int

    def ok(self, messages: Iterable[str]) -> ReadOk:
        """The reply: every message the node has."""
        return ReadOk(self.msg_id, frozenset(messages))


@dataclass(frozen=True)
class BroadcastOk:
    in_reply_to: int


@dataclass(frozen=True)
class ReadOk:
    """Every message the node has, in any order."""

    in_reply_to: int
    messages: frozenset[str]


class BroadcastClient(WorkloadClient):
    """A retrying client of the broadcast workload (see `WorkloadClient`).

    Its first ``ops - reads`` operations broadcast unique messages (``"c1.3"``); its last
    ``reads`` operations read (give it ``think`` time so that the messages can spread).
    """

    def __init__(self, server: str = "server", ops: int = 10, retry: float = 100.0,
                 attempts: int | None = None, think: float = 0.0, reads: int = 1):
        super().__init__(server, ops, retry, attempts, think)
        self.reads = reads

    def choose(self, number: int) -> tuple[str, Any, Any]:
        if number > self.ops - self.reads:
            return "read", None, None
        return "broadcast", None, f"{self.id}.{number}"

    def request(self, msg_id: int, f: str, key: Any, value: Any) -> Any:
        return Read(self.id, msg_id) if f == "read" else Broadcast(self.id, msg_id, value)

    def outcome(self, op: Operation, reply: Any) -> tuple[str, Any]:
        match reply:
            case ReadOk(messages=messages) if op.f == "read":
                return "ok", frozenset(messages)
            case BroadcastOk() if op.f == "broadcast":
                return "ok", None
        raise ValueError(f"{reply!r} does not answer the {op.f} request {reply.in_reply_to}")


def unseen(history: History, settle: float = 0.0) -> dict[int, frozenset[str]]:
    """For each read that missed acknowledged messages: the messages it missed, by read id.

    A read is held to every broadcast acknowledged at least ``settle`` ms before the read
    began (the time the system is given to spread a message). Reads that missed nothing are
    left out: an empty result means the broadcast was complete.
    """
    acked = [op for op in history if op.f == "broadcast" and op.status == "ok"]
    missed = {}
    for read in history:
        if read.f != "read" or read.status != "ok":
            continue
        due = {op.value for op in acked if op.complete_time + settle <= read.invoke_time}
        if due - read.output:
            missed[read.id] = frozenset(due - read.output)
    return missed
