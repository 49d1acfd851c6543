"""Node classes for tests/net/test_net.py, imported by the node processes the tests start.

(A child process imports its node class by name, so these live in a file, not in a test.)
"""

from __future__ import annotations

import collections
import enum
from dataclasses import dataclass

from distlab.sim import Node


class Kind(enum.Enum):
    GREETING = "greeting"


@dataclass(frozen=True)
class Note:
    text: str
    tags: frozenset[str]
    data: bytes
    kind: Kind
    path: tuple[str, ...]


class Recorder(Node):
    """Sends a `Note` to every peer and to itself every 30 ms; keeps the first from each
    sender in ``storage[sender]`` -- so storage holds values of every kind the codec knows."""

    def on_start(self) -> None:
        self.set_timer(0, "tick")

    def on_timer(self, name: str) -> None:
        note = Note(f"hello from {self.id}", frozenset({self.id, "x"}), b"\x00\xff", Kind.GREETING,
                    (self.id, *self.peers))
        self.broadcast(note)
        self.send(self.id, note)
        self.set_timer(30, "tick")

    def on_message(self, src: str, msg: object) -> None:
        match msg:
            case Note() if src not in self.storage:
                self.storage[src] = msg
                self.note("note from", src=src)


class MutableSender(Node):
    """A buggy node: it sends a list, which can change after it is sent."""

    def on_start(self) -> None:
        self.set_timer(20, "oops")

    def on_timer(self, name: str) -> None:
        self.send(self.id, [1, 2, 3])


class Dice(Node):
    """Logs one draw of its ``self.rng`` when it starts (to compare random streams)."""

    def on_start(self) -> None:
        self.note("roll", value=self.rng.random())


@dataclass(frozen=True)
class Shout:
    text: str


class Echo(Node):
    """Answers every message with ``(its id, the message)``; logs its peers when it starts."""

    def on_start(self) -> None:
        self.note("my peers", peers=",".join(self.peers))

    def on_message(self, src: str, msg: object) -> None:
        self.send(src, (self.id, msg))
        if isinstance(msg, Shout):
            self.send(src, Shout(msg.text.upper()))


@dataclass(frozen=True)
class Vote:
    term: int


class RaftWords(Node):
    """A node that uses a Raft node's own words for its data: ``log``, ``state``, ``term``,
    ``votes``, ``commit_index``. None of them may collide with the framework's names."""

    def __init__(self) -> None:
        self.log: list[tuple[int, str]] = []
        self.state = "follower"
        self.term = 0
        self.votes: set[str] = set()
        self.commit_index = 0

    def on_start(self) -> None:
        if self.id == min([self.id, *self.peers]):
            self.set_timer(5, "election")

    def on_timer(self, name: str) -> None:
        if self.state == "leader":
            return
        self.set_timer(50, "election")  # again, until elected (real peers may start late)
        self.state = "candidate"
        self.term += 1
        self.votes = {self.id}
        self.log.append((self.term, "campaign"))
        self.note("candidate", term=self.term, log=self.log)
        self.broadcast(Vote(self.term))

    def on_message(self, src: str, msg: object) -> None:
        match msg:
            case Vote(term) if term >= self.term and self.state != "candidate":
                self.term = term
                self.commit_index += 1
                self.send(src, Vote(term))
            case Vote(term) if term == self.term and self.state == "candidate":
                self.votes.add(src)
                if len(self.votes) > (len(self.peers) + 1) // 2:
                    self.state = "leader"
                    self.note("leader", term=self.term, votes=len(self.votes))


class Spinner(Node):
    """A buggy node: its first timer's handler never returns (a busy loop, not a sleep)."""

    def on_start(self) -> None:
        self.set_timer(0, "spin")

    def on_timer(self, name: str) -> None:
        while True:
            pass


class DequeKeeper(Node):
    """A buggy node: it keeps a deque in storage, which a real node cannot write to disk."""

    def on_start(self) -> None:
        self.storage["kept"] = collections.deque([1, 2])
