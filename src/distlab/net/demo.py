"""A small node to try `distlab.net` with: every node pings every other and logs round trips.

It is the "hello, world" of real processes: start three (``start_cluster(
"distlab.net.demo:Pinger", ["a", "b", "c"])``), read their logs, ``kill -9`` one and restart
it. ``storage["boots"]`` counts how many times a node has started; it lives in durable
storage, so it survives the kill, while ``seq`` (an ordinary attribute) starts again from 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from distlab.sim.node import Node


@dataclass(frozen=True)
class Ping:
    seq: int
    sent_at: float   # the sender's clock, ms


@dataclass(frozen=True)
class Pong:
    seq: int
    sent_at: float   # copied from the Ping, so the sender can compute the round trip


class Pinger(Node):
    """Pings all peers every ``interval`` ms; answers pings with pongs; logs what it sees."""

    def __init__(self, interval: float = 500) -> None:
        self.interval = interval
        self.seq = 0

    def on_start(self) -> None:
        self.storage["boots"] = self.storage.get("boots", 0) + 1
        self.note("boot", boots=self.storage["boots"])
        self.set_timer(0, "tick")

    def on_timer(self, name: str) -> None:
        self.seq += 1
        self.broadcast(Ping(self.seq, self.now))
        self.set_timer(self.interval, "tick")

    def on_message(self, src: str, msg: object) -> None:
        match msg:
            case Ping(seq, sent_at):
                self.note("ping", src=src, seq=seq)
                self.send(src, Pong(seq, sent_at))
            case Pong(seq, sent_at):
                self.note("pong", src=src, seq=seq, round_trip_ms=round(self.now - sent_at, 2))
