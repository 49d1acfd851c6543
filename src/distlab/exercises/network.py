"""The network page's mini-exercise: how long until a big message is acknowledged?

One message of `PAYLOAD` bytes plus a `HEADER` goes from ``sender`` to ``receiver`` over a
link of `BANDWIDTH` bytes per ms and `LATENCY` ms one way; the receiver answers with an
acknowledgement of `HEADER` bytes. The reader computes, with ``latency + size / bandwidth``
each way, when the sender has the acknowledgement; `check_transfer` measures it in the
simulator and, for a wrong answer, says which part of the sum is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from distlab.exercises import Feedback, close_to, not_quite, right
from distlab.sim import Constant, Network, Node, Simulation

PAYLOAD = 100_000     # bytes of data
HEADER = 40           # bytes of header on every message, the acknowledgement included
BANDWIDTH = 1_000     # bytes per ms (1 MB/s)
LATENCY = 20          # ms, one way


@dataclass(frozen=True)
class Blob:
    """The message: ``size`` bytes on the wire (the simulator's bandwidth reads it)."""

    size: int


class Receiver(Node):
    """Acknowledges what it receives with a message of `HEADER` bytes."""

    def on_message(self, src: str, msg: Blob) -> None:
        self.send(src, Blob(HEADER))


class Sender(Node):
    """Sends one blob at time 0 and notes when the acknowledgement comes back."""

    def __init__(self) -> None:
        self.acknowledged_at: float | None = None

    def on_start(self) -> None:
        self.send("receiver", Blob(PAYLOAD + HEADER))

    def on_message(self, src: str, msg: Blob) -> None:
        self.acknowledged_at = self.now


def measured_transfer() -> tuple[float, float]:
    """(when the blob arrives, when its acknowledgement is back), in simulated ms."""
    sim = Simulation(seed=0, network=Network(latency=Constant(LATENCY), bandwidth=BANDWIDTH))
    sim.add_node(Receiver, "receiver")
    sender = sim.add_node(Sender, "sender")
    sim.run()
    arrived = next(e.time for e in sim.trace.of_kind("deliver") if e.node == "receiver")
    return arrived, sender.acknowledged_at


def check_transfer(answer: float) -> Feedback:
    """Whether ``answer`` (ms) is when the sender has the acknowledgement; if not, which part
    of ``latency + size / bandwidth``, each way, it misses."""
    arrived, back = measured_transfer()
    out, home = (PAYLOAD + HEADER) / BANDWIDTH, HEADER / BANDWIDTH
    steps = (f"{LATENCY} + {PAYLOAD + HEADER:,} / {BANDWIDTH:,} = {arrived:g} ms to arrive, then "
            f"{HEADER} / {BANDWIDTH:,} + {LATENCY} for the acknowledgement: {back:g} ms")
    if close_to(answer, back, 0.01):
        return right(f"{steps}. The bytes dominate: {out:g} ms on the wire against "
                     f"{2 * LATENCY} ms of round trip.")
    if not isinstance(answer, int | float) or isinstance(answer, bool):
        return not_quite(f"the answer is a number of milliseconds, not {answer!r}")
    if close_to(answer, arrived, 0.01):
        return not_quite(f"{answer:g} ms is when the message arrives; the sender learns it "
                         f"only when the acknowledgement is back, {LATENCY + home:g} ms later")
    if close_to(answer, back, 1.0):
        return not_quite(f"close: count the {HEADER}-byte header of the message, and the "
                         f"acknowledgement's own {HEADER} bytes on the way back")
    if close_to(answer, 2 * LATENCY, 0.5):
        return not_quite(f"that is the round trip alone; the {PAYLOAD + HEADER:,} bytes also "
                         f"take {out:g} ms to go onto a link of {BANDWIDTH:,} bytes per ms")
    return not_quite(f"the time is latency + size / bandwidth for the message, then again for "
                     f"its acknowledgement; {answer:g} ms is not that sum")
