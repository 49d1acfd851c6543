"""Heartbeats and a timeout: a failure detector that cannot tell slow from dead.

A `HeartbeatSender` sends a heartbeat every ``every`` ms; a `TimeoutDetector` *suspects* it
when no heartbeat has arrived for ``timeout`` ms, and trusts it again when one arrives. In an
asynchronous system message delays have no bound, so a slow link (a latency spike) and a crash
look the same from the detector for as long as the spike lasts: a short timeout suspects live
nodes (false suspicions), a long one takes long to notice a real crash (detection time).
Chandra and Toueg, "Unreliable Failure Detectors for Reliable Distributed Systems" (1996), made
such *unreliable failure detectors* a building block; with ``adaptive`` the timeout grows after
each mistake, which in a partially synchronous system (delays bounded, but by an unknown bound)
eventually stops the mistakes. `distlab.membership.runs` runs the scenarios (`slow_or_dead`)
and measures both costs as a function of the timeout (`timeout_tradeoff`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distlab.sim import Node


@dataclass(frozen=True)
class Heartbeat:
    number: int


class HeartbeatSender(Node):
    """Sends ``Heartbeat`` to every peer every ``every`` ms, while it is up."""

    def __init__(self, every: float = 50.0) -> None:
        self.every = every
        self.beats = 0

    def on_start(self) -> None:
        self.set_timer(self.every, "beat")

    def on_timer(self, name: str) -> None:
        self.beats += 1
        self.broadcast(Heartbeat(self.beats))
        self.set_timer(self.every, "beat")


class TimeoutDetector(Node):
    """Suspects its peer after ``timeout`` ms without a heartbeat; trusts it again on the next.

    ``suspicions`` lists ``[start, end]`` of each suspicion (``end`` None while it lasts).
    With ``adaptive`` > 0, each suspicion that a heartbeat proves wrong adds ``adaptive`` ms
    to the timeout.
    """

    def __init__(self, timeout: float = 200.0, adaptive: float = 0.0) -> None:
        self.timeout = timeout
        self.adaptive = adaptive
        self.suspected = False
        self.suspicions: list[list[float | None]] = []

    def show(self) -> dict[str, Any]:
        return {"suspected": self.suspected, "timeout": self.timeout,
                "suspicions": len(self.suspicions)}

    def on_start(self) -> None:
        self.set_timer(self.timeout, "silence")

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Heartbeat():
                if self.suspected:
                    self.suspected = False
                    self.suspicions[-1][1] = self.now
                    self.timeout += self.adaptive
                    self.note("trust again", node=src, timeout=self.timeout)
                self.set_timer(self.timeout, "silence")

    def on_timer(self, name: str) -> None:
        self.suspected = True
        self.suspicions.append([self.now, None])
        self.note("suspect", node=self.peers[0])
