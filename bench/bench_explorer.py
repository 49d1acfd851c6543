"""How long does the Explorer take to redraw? It must answer a click in under 150 ms.

The scenario: 5 nodes that ping a random peer every 30 ms and answer each ping, over a
lossy network, with a crash and a partition, run until the space-time diagram holds at
least 500 events. Each redraw renders every view again (space-time diagram, topology,
state table), as after a click that crashes a node; the median of 20 is printed, in wall
time and in CPU time (on a busy machine wall time also counts waiting for a core).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

from distlab.sim import Network, Node, Simulation, Uniform  # noqa: E402
from distlab.widgets import Explorer  # noqa: E402

MIN_EVENTS = 500
REDRAWS = 20


@dataclass(frozen=True)
class Ping:
    sent_at: float


@dataclass(frozen=True)
class Pong:
    sent_at: float


class Pinger(Node):
    def __init__(self) -> None:
        self.pongs = 0

    def on_start(self) -> None:
        self.set_timer(30 * self.rng.random(), "tick")

    def on_timer(self, name: str) -> None:
        self.send(self.rng.choice(self.peers), Ping(self.now))
        self.set_timer(30, "tick")

    def on_message(self, src: str, msg: Ping | Pong) -> None:
        match msg:
            case Ping(sent_at):
                self.send(src, Pong(sent_at))
            case Pong():
                self.pongs += 1


def scenario(seed: int) -> Simulation:
    sim = Simulation(seed=seed, network=Network(latency=Uniform(5, 30), loss=0.05))
    sim.add_nodes(Pinger, ["a", "b", "c", "d", "e"])
    sim.at(200, sim.crash, "c")
    sim.at(400, sim.restart, "c")
    sim.at(450, sim.partition, {"a", "b"})
    return sim


def build_explorer() -> Explorer:
    """An explorer whose space-time window holds at least MIN_EVENTS events."""
    explorer = Explorer(scenario, title="bench", window=10_000.0, run_ms=50)
    while len(explorer.sim.trace) < MIN_EVENTS:
        explorer.run_button.click()
    return explorer


def redraw_times(times: int = REDRAWS) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds of ``times`` full redraws."""
    explorer = build_explorer()
    wall, cpu = [], []
    for _ in range(times):
        started, started_cpu = time.perf_counter(), time.process_time()
        explorer.redraw(everything=True)   # the topology too, as after a crash
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return wall, cpu


def measure_redraw() -> float:
    """The median wall-clock time of a full redraw, in milliseconds."""
    return statistics.median(redraw_times()[0])


def main() -> None:
    events = len(build_explorer().sim.trace)
    wall, cpu = redraw_times()
    print(f"explorer: 5 nodes, {events} events drawn, median of {REDRAWS} full redraws")
    print(f"explorer_redraw_cpu_median_ms={statistics.median(cpu):.1f}")
    print(f"explorer_redraw_median_ms={statistics.median(wall):.1f}")


if __name__ == "__main__":
    main()
