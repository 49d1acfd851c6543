"""Clock synchronization: Cristian, "Probabilistic clock synchronization" (1989), and NTP.

A `CristianClient` asks a `TimeServer` for its time and corrects for half the round trip.
`ntp_offset_delay` is NTP's four-timestamp version of the same estimate (Mills 1991).
`distlab.clocks.runs.cristian_experiment` measures the error against the simulator's true
clock skew.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distlab.sim import Node


# -- Cristian's algorithm -------------------------------------------------------------------------
@dataclass(frozen=True)
class TimeRequest:
    seq: int


@dataclass(frozen=True)
class TimeReply:
    seq: int
    server_time: float


class TimeServer(Node):
    """Answers every `TimeRequest` with its own clock reading."""

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case TimeRequest(seq):
                self.send(src, TimeReply(seq, self.now))


@dataclass(frozen=True)
class CristianSample:
    """One exchange, as the client saw it (all times on the client's clock but server_time)."""

    sent_at: float
    received_at: float
    server_time: float

    @property
    def rtt(self) -> float:
        return self.received_at - self.sent_at

    @property
    def offset(self) -> float:
        """Estimated server clock minus client clock: the server's reading is taken, on
        average, half a round trip before the reply arrives."""
        return self.server_time + self.rtt / 2 - self.received_at


class CristianClient(Node):
    """Asks ``server`` for the time every ``period`` ms, ``samples`` times (Cristian 1989).

    ``offset`` is the estimate from the exchange with the smallest round trip: the error of
    an estimate is at most half its round trip (if clocks do not drift meanwhile), so the
    fastest exchange is the most trustworthy. ``corrected_now`` applies it.

    Requests are numbered in durable ``storage``: after a crash the client never reuses a
    number, so a late reply to a request of its earlier life is not taken for the reply to a
    new one (its round trip would be wrong, and the estimate outside its bound).
    """

    def __init__(self, server: str = "server", period: float = 1_000.0, samples: int = 10):
        self.server = server
        self.period = period
        self.samples_wanted = samples
        self.samples: list[CristianSample] = []
        self.offset: float | None = None
        self.asked = 0
        self._sent_at: dict[int, float] = {}

    def on_start(self) -> None:
        self.set_timer(0, "ask")

    def on_timer(self, name: str) -> None:
        self.asked += 1
        seq = self.storage["seq"] = self.storage.get("seq", 0) + 1
        self._sent_at[seq] = self.now
        self.send(self.server, TimeRequest(seq))
        if self.asked < self.samples_wanted:
            self.set_timer(self.period, "ask")

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case TimeReply(seq, server_time) if seq in self._sent_at:
                self.samples.append(CristianSample(self._sent_at.pop(seq), self.now,
                                                   server_time))
                self.offset = min(self.samples, key=lambda s: s.rtt).offset

    @property
    def corrected_now(self) -> float:
        """This node's clock corrected by the estimated offset (the server's time)."""
        return self.now + (self.offset or 0.0)


def ntp_offset_delay(t1: float, t2: float, t3: float, t4: float) -> tuple[float, float]:
    """NTP's estimate from one exchange: (offset, delay).

    ``t1`` client sends, ``t2`` server receives, ``t3`` server replies, ``t4`` client receives
    (t1, t4 on the client's clock; t2, t3 on the server's). The offset assumes equal delays
    both ways, as Cristian's does; when the server answers at once (t2 = t3) the two agree.
    """
    offset = ((t2 - t1) + (t3 - t4)) / 2
    delay = (t4 - t1) - (t3 - t2)
    return offset, delay
