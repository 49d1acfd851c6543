"""Node classes for tests/test_net.py, imported by the node processes the tests start.

(A child process imports its node class by name, so these live in a file, not in a test.)
"""

from __future__ import annotations

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
                self.log(f"note from {src}")


class MutableSender(Node):
    """A buggy node: it sends a list, which can change after it is sent."""

    def on_start(self) -> None:
        self.set_timer(20, "oops")

    def on_timer(self, name: str) -> None:
        self.send(self.id, [1, 2, 3])


class Dice(Node):
    """Logs one draw of its ``self.rng`` when it starts (to compare random streams)."""

    def on_start(self) -> None:
        self.log(f"roll {self.rng.random()!r}")


@dataclass(frozen=True)
class Shout:
    text: str


class Echo(Node):
    """Answers every message with ``(its id, the message)``; logs its peers when it starts."""

    def on_start(self) -> None:
        self.log(f"my peers: {','.join(self.peers)}")

    def on_message(self, src: str, msg: object) -> None:
        self.send(src, (self.id, msg))
        if isinstance(msg, Shout):
            self.send(src, Shout(msg.text.upper()))
