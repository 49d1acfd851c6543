"""How fast is distlab's kernel? The same message workload on four engines, in one process.

The workload: 5 nodes; ``BALLS`` messages bounce between them, each delivery answered by a
send to a random peer after a random latency (1-10 ms), until every message has made
``HOPS`` hops; each node also has a periodic timer that fires ``TICKS`` times. Every engine
must count the same number of deliveries (BALLS * HOPS) and timer events (5 * TICKS).

Engines: distlab.sim (with its trace and message checks on, as the book uses it); the same
with the trace off, to show what the trace costs (keeping every message alive costs memory
and a garbage-collector pass over them); SimPy written the idiomatic way (a process per
node reading a Store inbox, a process per message in flight); SimPy's fastest form (bare
timeout events with callbacks); and a bare heapq callback loop, the floor any Python
kernel stands on.

The last line printed compares distlab's events per second (trace on) with each peer's.
"""

from __future__ import annotations

import gc
import heapq
import random
import time
from dataclasses import dataclass

import simpy

from distlab.sim import Network, Node, Simulation, Uniform

NODES = ["n0", "n1", "n2", "n3", "n4"]
BALLS = 50
HOPS = 4_000          # 50 * 4,000 = 200,000 deliveries
TICKS = 2_000         # 5 * 2,000 = 10,000 timer events
TICK_MS = 10.0


@dataclass(frozen=True)
class Ball:
    hops: int


class Bouncer(Node):
    """Forwards every ball to a random peer until it has made HOPS hops."""

    def __init__(self, balls: int = 0):
        self.balls = balls
        self.ticks = 0
        self.deliveries = 0

    def on_start(self) -> None:
        self.set_timer(TICK_MS, "tick")
        for _ in range(self.balls):
            self.send(self.rng.choice(self.peers), Ball(1))

    def on_message(self, src: str, msg: Ball) -> None:
        self.deliveries += 1
        if msg.hops < HOPS:
            self.send(self.rng.choice(self.peers), Ball(msg.hops + 1))

    def on_timer(self, name: str) -> None:
        self.ticks += 1
        if self.ticks < TICKS:
            self.set_timer(TICK_MS, "tick")


def run_distlab(trace: bool = True) -> tuple[int, int]:
    sim = Simulation(seed=1, network=Network(latency=Uniform(1, 10)), max_events=10_000_000,
                     trace=trace)
    per_node = BALLS // len(NODES)
    sim.add_nodes(Bouncer, NODES, balls=per_node)
    sim.run()
    nodes = sim.nodes.values()
    return sum(n.deliveries for n in nodes), sum(n.ticks for n in nodes)


def run_simpy_processes() -> tuple[int, int]:
    env = simpy.Environment()
    rng = random.Random(1)
    inboxes = {n: simpy.Store(env) for n in NODES}
    counts = {"deliveries": 0, "ticks": 0}

    def link(dst: str, msg: Ball):
        yield env.timeout(1 + 9 * rng.random())
        yield inboxes[dst].put(msg)

    def node(me: str):
        peers = [p for p in NODES if p != me]
        for _ in range(BALLS // len(NODES)):
            env.process(link(rng.choice(peers), Ball(1)))
        while True:
            msg = yield inboxes[me].get()
            counts["deliveries"] += 1
            if msg.hops < HOPS:
                env.process(link(rng.choice(peers), Ball(msg.hops + 1)))

    def ticker():
        for _ in range(TICKS):
            yield env.timeout(TICK_MS)
            counts["ticks"] += 1

    for n in NODES:
        env.process(node(n))
        env.process(ticker())
    env.run()
    return counts["deliveries"], counts["ticks"]


def run_simpy_callbacks() -> tuple[int, int]:
    env = simpy.Environment()
    rng = random.Random(1)
    counts = {"deliveries": 0, "ticks": 0}
    peers = {me: [p for p in NODES if p != me] for me in NODES}

    def send(dst: str, msg: Ball) -> None:
        event = env.timeout(1 + 9 * rng.random(), value=(dst, msg))
        event.callbacks.append(deliver)

    def deliver(event) -> None:
        dst, msg = event.value
        counts["deliveries"] += 1
        if msg.hops < HOPS:
            send(rng.choice(peers[dst]), Ball(msg.hops + 1))

    def tick(event) -> None:
        counts["ticks"] += 1
        if event.value < TICKS:
            env.timeout(TICK_MS, value=event.value + 1).callbacks.append(tick)

    for n in NODES:
        for _ in range(BALLS // len(NODES)):
            send(rng.choice(peers[n]), Ball(1))
        env.timeout(TICK_MS, value=1).callbacks.append(tick)
    env.run()
    return counts["deliveries"], counts["ticks"]


def run_bare() -> tuple[int, int]:
    rng = random.Random(1)
    heap: list = []
    seq = 0
    counts = [0, 0]
    peers = {me: [p for p in NODES if p != me] for me in NODES}

    def deliver(arg) -> None:
        nonlocal seq
        dst, msg = arg
        counts[0] += 1
        if msg.hops < HOPS:
            seq += 1
            heapq.heappush(heap, (now + 1 + 9 * rng.random(), seq, deliver,
                                  (rng.choice(peers[dst]), Ball(msg.hops + 1))))

    def tick(n: int) -> None:
        nonlocal seq
        counts[1] += 1
        if n < TICKS:
            seq += 1
            heapq.heappush(heap, (now + TICK_MS, seq, tick, n + 1))

    now = 0.0
    for n in NODES:
        for _ in range(BALLS // len(NODES)):
            seq += 1
            heapq.heappush(heap, (1 + 9 * rng.random(), seq, deliver,
                                  (rng.choice(peers[n]), Ball(1))))
        seq += 1
        heapq.heappush(heap, (TICK_MS, seq, tick, 1))
    while heap:
        now, _, fn, arg = heapq.heappop(heap)
        fn(arg)
    return counts[0], counts[1]


def run_distlab_untraced() -> tuple[int, int]:
    return run_distlab(trace=False)


ENGINES = {
    "distlab": run_distlab,
    "distlab_untraced": run_distlab_untraced,
    "simpy_process": run_simpy_processes,
    "simpy_callbacks": run_simpy_callbacks,
    "bare": run_bare,
}


def measure(rounds: int = 5) -> dict[str, float]:
    """Events per second of each engine, after checking that they all agree.

    The engines take turns, ``rounds`` times, and each keeps its best time: a burst of
    load from another process then hurts every engine alike instead of one. Before each run
    the garbage of the previous one is collected (untimed), so that no engine pays for
    another's; the collections an engine triggers while it runs count as its own.
    """
    expected = (BALLS * HOPS, len(NODES) * TICKS)
    best = {name: float("inf") for name in ENGINES}
    for _ in range(rounds):
        for name, run in ENGINES.items():
            gc.collect()
            start = time.process_time()
            counts = run()
            best[name] = min(best[name], time.process_time() - start)
            if counts != expected:
                raise AssertionError(f"{name} counted {counts}, expected {expected}")
    rates = {name: sum(expected) / seconds for name, seconds in best.items()}
    for name, rate in rates.items():
        print(f"{name:17s} {rate:>12,.0f} events/s  ({sum(expected):,} events, "
              f"best of {rounds}: {best[name]:.3f} s)")
    return rates


def main() -> None:
    rates = measure()
    d = rates["distlab"]
    print(f"ratio_vs_simpy_process={d / rates['simpy_process']:.2f} "
          f"ratio_vs_simpy_callbacks={d / rates['simpy_callbacks']:.2f} "
          f"ratio_vs_bare={d / rates['bare']:.2f}")


if __name__ == "__main__":
    main()
