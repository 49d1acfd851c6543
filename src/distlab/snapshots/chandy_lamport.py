"""The Chandy-Lamport distributed snapshot (Chandy and Lamport 1985, "Distributed Snapshots:
Determining Global States of Distributed Systems").

A snapshot records each process's state and the messages in flight on each channel, while
the system keeps running, so that the recorded global state is one the system *could* have
been in: a consistent cut, where every message recorded as received was recorded as sent.
Its rules, for a process p:

* to start a snapshot, or on the first `Marker` it receives: record its own state, and send a
  marker on every outgoing channel before any other message;
* a channel's state is the messages p receives on it after recording its own state and
  before the marker arrives on it (the channel on which the first marker came is empty);
* p's part is done when a marker has come on every incoming channel.

Channels must be FIFO, so that a marker separates what was sent before the sender recorded
its state from what was sent after (`distlab.snapshots.bank` numbers the messages to make
them so).
"""

from __future__ import annotations

from distlab.snapshots.bank import Branch
from distlab.snapshots.messages import Marker, Transfer


class ChandyLamportBranch(Branch):
    """A `Branch` that takes part in a snapshot; branch ``initiator`` starts it at
    ``snapshot_at`` (None: no snapshot).

    ``recorded`` is the balance recorded (None before); ``channels[q]`` the amounts recorded
    in flight from q; ``recording`` the channels still being recorded.
    """

    def __init__(self, balance: int = 100, stop_at: float | None = None,
                 snapshot_at: float | None = None, initiator: str = "a"):
        super().__init__(balance, stop_at)
        self.snapshot_at = snapshot_at if self.id == initiator else None
        self.recorded: int | None = None
        self.channels: dict[str, list[int]] = {peer: [] for peer in self.peers}
        self.recording: set[str] = set()

    def on_start(self) -> None:
        super().on_start()
        if self.snapshot_at is not None:
            self.set_timer(self.snapshot_at, "snapshot")

    def on_timer(self, name: str) -> None:
        if name == "snapshot":
            self.record_state(listen_to=self.peers)
        else:
            super().on_timer(name)

    def record_state(self, listen_to: list[str] | tuple[str, ...]) -> None:
        """Record my balance, send a marker on every channel, record the ``listen_to`` ones."""
        self.recorded = self.balance
        self.note("record", balance=self.balance)
        for peer in self.peers:
            self.send_fifo(peer, Marker())
        self.recording = set(listen_to)

    def receive(self, src: str, body: Transfer | Marker) -> None:
        match body:
            case Marker() if self.recorded is None:     # the first marker
                self.record_state(listen_to=[p for p in self.peers if p != src])
            case Marker():                               # the channel from src is recorded
                self.recording.discard(src)
            case Transfer(amount) if src in self.recording:
                self.channels[src].append(amount)
                super().receive(src, body)
            case _:
                super().receive(src, body)

    @property
    def done(self) -> bool:
        """Whether this branch's part of the snapshot is complete."""
        return self.recorded is not None and not self.recording
