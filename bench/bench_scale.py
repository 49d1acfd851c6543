"""How does the simulator grow with the number of nodes? Build time, cost per event, memory.

The workload of issue-style scaling tables: N nodes, each ticking every ``TICK_MS`` ms and
sending one small message to a random peer at every tick, for ``SIM_MS`` simulated ms (so
about 2 x N x SIM_MS / TICK_MS events: ticks and deliveries). Each size runs in a fresh
child process, so that one size's memory does not flatter or burden the next. Printed per N:
the time to build the nodes, the run time, microseconds of CPU per event with the trace on
and with it off (the same run again, in the same process), the memory of the whole run with
its trace, and the memory an idle node costs (built, never run: in a child process of its
own, since memory a run has freed stays with its process and would hold the idle nodes).
Then how much more an event costs at the largest size than at the smallest, untraced
(issue 19 wants at most 1.5).

Then where the extra cost at the largest size goes: the same run with nodes that only re-arm
their timer (no message, no random draw), and the price of a cache miss on this machine
(a step along a chain of N objects in random order), which the kernel pays several times per
event once its nodes no longer fit in the processor's caches.

Then a peer: the same workload in a bare loop (`bare_cpu_per_event`: no simulator, the same
shape of work), timed beside the kernel in one process at the smallest and the largest size;
how its cost grows is the floor for the kernel's.

Then one long run: ``LONG_EVENTS`` events with the trace on, and the memory it holds.
"""

from __future__ import annotations

import gc
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from itertools import count

from distlab.sim import Constant, Network, Node, Simulation
from distlab.sim.scheduler import Scheduler

SIZES = tuple(int(s) for s in os.environ.get("SCALE_SIZES", "100,1000,10000,100000").split(","))
TICK_MS = 100.0
SIM_MS = 2_000.0
LONG_EVENTS = 10_000_000
#: a cost per event is timed over at least this many events, after WARM_UP_MS of simulated time
#: (at 100 nodes, 2 simulated seconds make only 4,095 events: too few to time)
TIMED_EVENTS = 400_000
WARM_UP_MS = 200.0
#: bytes between two objects of the chain that prices a cache miss (about an idle node's size)
SPACING = 1_000


@dataclass(frozen=True)
class Ping:
    hop: int


class Ticker(Node):
    """Every TICK_MS ms, sends a Ping to a random peer."""

    def on_start(self) -> None:
        self.set_timer(self.rng.uniform(0, TICK_MS), "tick")

    def on_timer(self, name: str) -> None:
        self.send(self.rng.choice(self.peers), Ping(1))
        self.set_timer(TICK_MS, "tick")

    def on_message(self, src: str, msg: Ping) -> None:
        pass


class Rearm(Ticker):
    """Only re-arms its timer every TICK_MS ms: the cost of a timer event alone."""

    def on_timer(self, name: str) -> None:
        self.set_timer(TICK_MS, "tick")


class Idle(Node):
    """Does nothing: what a node costs by itself."""


def rss_bytes() -> int:
    """The resident memory of this process now (Linux: /proc/self/statm)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def node_ids(n: int) -> list[str]:
    return [f"n{i}" for i in range(n)]


def cpu_per_event(n: int, trace: bool, cls: type[Node] = Ticker) -> float:
    """Microseconds of CPU per event of a run of ``n`` nodes, timed after a warm-up (the
    build and the first events not counted) over at least `TIMED_EVENTS` events."""
    sim = Simulation(seed=1, network=Network(latency=Constant(5)), max_events=10**9,
                     trace=trace)
    sim.add_nodes(cls, node_ids(n))
    sim.run(until=WARM_UP_MS)
    events, began = sim._events_run, time.process_time()
    # each node makes about 2 events (a tick and a delivery) per TICK_MS
    sim.run(until=WARM_UP_MS + max(SIM_MS, TIMED_EVENTS / (2 * n) * TICK_MS))
    return (time.process_time() - began) / (sim._events_run - events) * 1e6


def measure(n: int) -> dict[str, float]:
    """One size, in this process: build, run, idle nodes."""
    base = rss_bytes()
    sim = Simulation(seed=1, network=Network(latency=Constant(5)), max_events=10**9)
    began = time.perf_counter()
    sim.add_nodes(Ticker, node_ids(n))
    build = time.perf_counter() - began
    began, cpu = time.perf_counter(), time.process_time()
    sim.run(until=SIM_MS)
    run, cpu = time.perf_counter() - began, time.process_time() - cpu
    events = sim._events_run
    run_memory = rss_bytes() - base
    del sim
    gc.collect()  # (the run's cycles, freed now rather than during the untraced run)
    untraced = cpu_per_event(n, trace=False)
    return {"n": n, "build": build, "run": run, "events": events,
            "us_per_event": cpu / events * 1e6, "untraced_us_per_event": untraced,
            "run_mb": run_memory / 2**20}


def measure_idle(n: int) -> dict[str, float]:
    """The memory ``n`` idle nodes add to a fresh process, per node."""
    base = rss_bytes()
    idle = Simulation(seed=1)
    idle.add_nodes(Idle, node_ids(n))
    return {"idle_bytes_per_node": (rss_bytes() - base) / n}


class Cell:
    """One link of a chain of objects in random order (see `measure_parts`)."""

    __slots__ = ("next",)


def measure_parts(n: int) -> dict[str, float]:
    """A timer event's cost alone at ``n`` nodes, and the price of a cache miss among ``n``
    objects: nanoseconds per step along a chain of ``n`` objects linked in random order.

    Each step needs the object the previous step read, as the kernel's lookups do (a timer's
    token gives the node's id, whose hash gives a slot of a dict, which gives the node's
    timers...), so the processor cannot overlap the misses. The objects lie a kilobyte apart,
    as much memory as an idle node holds, so that the chain spreads over as many pages of
    memory as the nodes do.
    """
    cells, spacers = [], []
    for _ in range(n):
        cells.append(Cell())
        spacers.append(bytes(SPACING))
    order = list(range(n))
    random.Random(1).shuffle(order)
    for a, b in zip(order, order[1:] + order[:1]):
        cells[a].next = cells[b]
    steps = 1_000_000
    cell = cells[0]
    began = time.process_time()
    for _ in range(steps):
        cell = cell.next
    chased = time.process_time() - began
    began = time.process_time()
    for _ in range(steps):  # the same loop, reading nothing new: its cost is taken off
        cell = cell if cell is not None else cell.next
    loop = time.process_time() - began
    return {"rearm_us_per_event": cpu_per_event(n, trace=False, cls=Rearm),
            "step_ns": (chased - loop) / steps * 1e9}


class BareNode:
    """A node of the bare loop (`bare_cpu_per_event`): a plain object, with a dictionary of
    attributes and a random stream of its own, as a `Node` has."""

    def __init__(self, node_id: str, rng: random.Random):
        self.id = node_id
        self.rng = rng
        self.received = 0


def bare_cpu_per_event(n: int) -> float:
    """Microseconds of CPU per event of the Ticker workload run by a bare loop: no
    simulator, only the same shape of work, as a peer measured in the same way as
    `cpu_per_event`.

    Pending events are ``(time, seq, fn, arg)`` entries in the kernel's `Scheduler` (a
    heap, and a calendar of buckets past a few thousand pending events: with a plain heap
    of 100,000 entries the bare loop costs twice as much per event). At each tick a node
    draws a peer from its own stream (``random.Random``, 2.5 KB of state, made up front),
    makes one message and an envelope naming the destination by id, and re-arms its tick;
    a delivery finds its node by id and changes one of its attributes. No trace, no
    checks, no crash or partition tests, no garbage collector: what is left is what any
    Python event loop does for this workload, so how its cost grows with ``n`` is a floor
    for the simulator's.
    """
    ids = node_ids(n)
    nodes = {node_id: BareNode(node_id, random.Random(f"1/node/{node_id}")) for node_id in ids}
    scheduler, msg_ids = Scheduler(), count(1)
    now = 0.0

    def tick(node: BareNode) -> None:
        peer = node.rng.choice(ids)
        scheduler.push(now + 5.0, deliver, (now, node.id, peer, next(msg_ids), Ping(1)))
        scheduler.push(now + TICK_MS, tick, node)

    def deliver(envelope: tuple) -> None:
        nodes[envelope[2]].received += 1

    starts = random.Random(1)
    for node in nodes.values():
        scheduler.push(starts.uniform(0, TICK_MS), tick, node)

    def run(until: float) -> int:
        nonlocal now
        ran = 0
        while (entry := scheduler.pop(until)) is not None:
            now, _, fn, arg = entry
            fn(arg)
            ran += 1
            if ran % 10_000 == 0:
                scheduler.adapt()  # (a heap or a calendar, as the simulation's loop does)
        return ran

    gc.disable()
    try:
        scheduler.adapt()
        run(WARM_UP_MS)
        began = time.process_time()
        ran = run(WARM_UP_MS + max(SIM_MS, TIMED_EVENTS / (2 * n) * TICK_MS))
        return (time.process_time() - began) / ran * 1e6
    finally:
        gc.enable()


def measure_bare(n: int) -> dict[str, float]:
    """The kernel's cost per event at ``n`` nodes and the bare loop's, in one process."""
    return {"untraced_us_per_event": cpu_per_event(n, trace=False),
            "bare_us_per_event": bare_cpu_per_event(n)}


def measure_long(events: int) -> dict[str, float]:
    """A run of about ``events`` events with the trace on: its memory."""
    base = rss_bytes()
    n = 1_000
    sim = Simulation(seed=1, network=Network(latency=Constant(5)), max_events=10**9)
    sim.add_nodes(Ticker, node_ids(n))
    began = time.perf_counter()
    sim.run(until=events / (2 * n) * TICK_MS)
    return {"events": sim._events_run, "seconds": time.perf_counter() - began,
            "mb": (rss_bytes() - base) / 2**20, "trace_events": len(sim.trace)}


def in_child(what: str, arg: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, what, str(arg)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> None:
    print(f"{'nodes':>8} {'build s':>8} {'run s':>7} {'events':>10} {'us/event':>9} "
          f"{'untraced':>9} {'run MB':>7} {'idle B/node':>12}")
    untraced = []
    for n in SIZES:
        r = in_child("size", n) | in_child("idle", n)
        untraced.append(r["untraced_us_per_event"])
        print(f"{r['n']:>8,} {r['build']:>8.2f} {r['run']:>7.2f} {r['events']:>10,} "
              f"{r['us_per_event']:>9.2f} {r['untraced_us_per_event']:>9.2f} "
              f"{r['run_mb']:>7.0f} {r['idle_bytes_per_node']:>12,.0f}", flush=True)
    print(f"untraced cost of an event at {SIZES[-1]:,} nodes / at {SIZES[0]:,}: "
          f"{untraced[-1] / untraced[0]:.2f}x")
    small, large = in_child("parts", SIZES[0]), in_child("parts", SIZES[-1])
    print(f"a timer event alone (untraced): {small['rearm_us_per_event']:.2f} us at "
          f"{SIZES[0]:,} nodes, {large['rearm_us_per_event']:.2f} us at {SIZES[-1]:,}; a step "
          f"along a\nchain of N objects in random order: {small['step_ns']:.0f} ns for "
          f"N={SIZES[0]:,}, {large['step_ns']:.0f} ns for N={SIZES[-1]:,}")
    small, large = in_child("bare", SIZES[0]), in_child("bare", SIZES[-1])
    print(f"a bare loop, the same work without the simulator (bare_cpu_per_event): "
          f"{small['bare_us_per_event']:.2f} us at {SIZES[0]:,} nodes,\n"
          f"{large['bare_us_per_event']:.2f} us at {SIZES[-1]:,} "
          f"({large['bare_us_per_event'] / small['bare_us_per_event']:.2f}x, the floor); the "
          f"kernel beside it: {small['untraced_us_per_event']:.2f} and "
          f"{large['untraced_us_per_event']:.2f} us "
          f"({large['untraced_us_per_event'] / small['untraced_us_per_event']:.2f}x)")
    r = in_child("long", LONG_EVENTS)
    print(f"long run: {r['events']:,} events (trace on, {r['trace_events']:,} in the trace) "
          f"in {r['seconds']:.1f} s, {r['mb']:,.0f} MB")


if __name__ == "__main__":
    if len(sys.argv) == 3:
        fn = {"size": measure, "idle": measure_idle, "parts": measure_parts,
              "bare": measure_bare, "long": measure_long}[sys.argv[1]]
        print(json.dumps(fn(int(sys.argv[2]))))
    else:
        main()
