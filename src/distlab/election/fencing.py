"""Fencing tokens: a store that refuses a deposed leader.

An election gives at most one leader per term, but it cannot stop an old leader from *believing*
it still leads: a long pause (garbage collection, a swapped-out process) or a partition hides
its deposition from it, and when it wakes up it acts on what it knew before. Raft's majority
check keeps such a leader from committing inside the cluster; a service outside the cluster
(a database, a file server, a ticket counter) needs its own defence. Kleppmann (*Designing
Data-Intensive Applications*, chapter 8) calls it a *fencing token*: every request carries the
term (or lock number) under which it is made, and the service remembers the highest term it
has seen and refuses any request with a lower one. Raft's terms, Chubby's sequencers and
ZooKeeper's transaction ids serve as such tokens.

`FencedStore` is that service for one value. Reads are fenced as well as writes: a new leader's
first read raises the store's term, so a write from the old leader can no longer slip in
between the new leader's read and its write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distlab.sim import Node


@dataclass(frozen=True)
class ReadValue:
    """Read the stored value, under term ``token``."""

    token: int


@dataclass(frozen=True)
class WriteValue:
    """Store ``value``, under term ``token``."""

    token: int
    value: Any


@dataclass(frozen=True)
class Value:
    """The answer to a `ReadValue`."""

    value: Any


@dataclass(frozen=True)
class Written:
    """The answer to a `WriteValue` that was applied."""

    value: Any


@dataclass(frozen=True)
class Refused:
    """The answer to a request whose ``token`` is below the ``highest`` the store has seen."""

    token: int
    highest: int


class FencedStore(Node):
    """One value in durable storage, guarded by fencing tokens.

    The store keeps the highest token of any request it accepted. A request with a lower token
    comes from a leader of an older term: it is refused (`Refused`) and changes nothing. With
    ``fencing=False`` the store accepts every request, to show what fencing prevents.

    Invariant (with fencing): once the store has accepted a request with token t, it accepts
    no request with a token below t.
    """

    def __init__(self, initial: Any = 0, fencing: bool = True) -> None:
        self.fencing = fencing
        self.storage.setdefault("value", initial)
        self.storage.setdefault("highest", 0)

    def show(self) -> dict[str, Any]:
        return {"value": self.storage["value"], "highest token": self.storage["highest"]}

    def accepts(self, token: int) -> bool:
        """Whether a request under ``token`` is current; if so, remember ``token``."""
        if self.fencing and token < self.storage["highest"]:
            return False
        self.storage["highest"] = max(self.storage["highest"], token)
        return True

    def on_message(self, src: str, msg: Any) -> None:
        if not isinstance(msg, ReadValue | WriteValue):
            return
        if not self.accepts(msg.token):
            self.note("refused", by=src, token=msg.token, highest=self.storage["highest"])
            self.send(src, Refused(msg.token, self.storage["highest"]))
            return
        match msg:
            case ReadValue():
                self.send(src, Value(self.storage["value"]))
            case WriteValue(token, value):
                self.storage["value"] = value
                self.note("written", by=src, token=token, value=value)
                self.send(src, Written(value))
