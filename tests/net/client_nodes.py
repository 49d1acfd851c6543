"""A register server and a `Client` of it, for tests/net/test_real_client.py.

(Node processes import their class by name, so these live in a file, not in the test.)
"""

from __future__ import annotations

from dataclasses import dataclass

from distlab.sim import Client, Node, Operation


@dataclass(frozen=True)
class Write:
    value: int


@dataclass(frozen=True)
class WriteOk:
    pass


@dataclass(frozen=True)
class Read:
    pass


@dataclass(frozen=True)
class ReadOk:
    value: int | None


class RegisterServer(Node):
    """One register: a write sets it, a read returns it."""

    def __init__(self) -> None:
        self.value: int | None = None

    def on_message(self, src: str, msg: object) -> None:
        match msg:
            case Write(value):
                self.value = value
                self.send(src, WriteOk())
            case Read():
                self.send(src, ReadOk(self.value))


class WriteThenRead(Client):
    """Writes 7 to the first server, then reads it back: two operations in its history."""

    def on_start(self) -> None:
        self.op: Operation | None = None
        self.set_timer(50, "begin")      # real mode: give the server time to listen

    def on_timer(self, name: str) -> None:
        self.op = self.invoke("write", 7)
        self.send(self.peers[0], Write(7))

    def on_message(self, src: str, msg: object) -> None:
        match msg:
            case WriteOk() if self.op is not None:
                self.ok(self.op)
                self.op = self.invoke("read")
                self.send(src, Read())
            case ReadOk(value) if self.op is not None:
                self.ok(self.op, value)
                self.op = None
                self.note("done", read=value)
