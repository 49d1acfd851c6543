"""Fault injection: fault plans at given times, and a seeded random nemesis.

A `FaultPlan` is a list of faults at fixed simulated times -- the scenario of a figure or a
lab check. A `Nemesis` (the name comes from Jepsen) injects random faults -- crashes and
restarts, partitions and heals -- drawn from the simulation's own *nemesis* stream, so a test
run with a given seed always meets the same faults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distlab.sim.errors import ConfigurationError
from distlab.sim.simulation import Simulation, stream
from distlab.sim.times import checked_number

_ACTIONS = ("crash", "restart", "partition", "cut", "heal", "set_clock")


@dataclass(frozen=True)
class Fault:
    """One fault: at ``time`` ms, call ``sim.<action>(*args)``."""

    time: float
    action: str
    args: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        time = checked_number(self.time, f"the time of fault {self.action!r}", if_infinite="a "
                              "fault at infinity never happens: leave it out of the plan")
        object.__setattr__(self, "time", time)  # frozen: set once, here


class FaultPlan:
    """Faults at fixed times: ``FaultPlan().crash(500, "a").restart(900, "a").install(sim)``."""

    def __init__(self, faults: list[Fault] | None = None):
        self.faults: list[Fault] = list(faults or [])

    def add(self, time: float, action: str, *args: Any) -> FaultPlan:
        """Add ``sim.<action>(*args)`` at ``time``; returns the plan, for chaining."""
        if action not in _ACTIONS:
            raise ConfigurationError(f"unknown fault {action!r}; choose one of "
                                     f"{', '.join(_ACTIONS)}")
        self.faults.append(Fault(time, action, tuple(args)))
        return self

    def crash(self, time: float, node: str) -> FaultPlan:
        return self.add(time, "crash", node)

    def restart(self, time: float, node: str) -> FaultPlan:
        return self.add(time, "restart", node)

    def partition(self, time: float, *groups: set[str]) -> FaultPlan:
        return self.add(time, "partition", *groups)

    def heal(self, time: float) -> FaultPlan:
        return self.add(time, "heal")

    def install(self, sim: Simulation) -> FaultPlan:
        """Schedule every fault of the plan in ``sim``."""
        for fault in sorted(self.faults, key=lambda f: f.time):
            sim.at(fault.time, getattr(sim, fault.action), *fault.args)
        return self


class Nemesis:
    """Random faults, every ``interval`` ms on average, from a seeded stream.

    At each step it either repairs (restarts a crashed node, or heals a partition) or breaks
    something: crashes a node (never more than ``max_crashed`` at once) or splits the nodes in
    two groups. ``crashes`` and ``partitions`` switch each kind of fault on or off; ``nodes``
    limits the faults to some nodes (clients, for example, are usually spared).
    """

    def __init__(self, interval: float = 1_000.0, *, crashes: bool = True,
                 partitions: bool = True, max_crashed: int = 1, nodes: list[str] | None = None,
                 start: float = 0.0, stop: float | None = None):
        interval = checked_number(interval, "the nemesis interval", if_infinite="a nemesis "
                                  "that never acts does nothing: leave it out")
        if interval <= 0:
            raise ConfigurationError(f"the nemesis interval must be positive, got {interval!r}")
        start = checked_number(start, "the nemesis start", if_infinite="a nemesis that never "
                               "starts does nothing: leave it out")
        if stop is not None:
            stop = checked_number(stop, "the nemesis stop", if_infinite="for a nemesis that "
                                  "never stops, leave stop out (None)")
        if not crashes and not partitions:
            raise ConfigurationError("a nemesis with neither crashes nor partitions does nothing")
        self.interval = interval
        self.crashes = crashes
        self.partitions = partitions
        self.max_crashed = max_crashed
        self.nodes = nodes
        self.start = start
        self.stop = stop
        self.partitioned = False

    def install(self, sim: Simulation) -> Nemesis:
        """Start injecting faults into ``sim``."""
        self.sim = sim
        self.rng = stream(sim.seed, "nemesis")
        sim.at(max(self.start, sim.now) + self.rng.expovariate(1 / self.interval), self._act)
        return self

    def _targets(self) -> list[str]:
        return sorted(self.nodes if self.nodes is not None else self.sim.nodes)

    def _act(self) -> None:
        sim, rng = self.sim, self.rng
        if self.stop is not None and sim.now >= self.stop:
            self.repair_all()
            return
        down = sorted(n for n in self._targets() if n in sim.crashed)
        repairs = down + (["heal"] if self.partitioned else [])
        if repairs and rng.random() < 0.5:
            choice = rng.choice(repairs)
            if choice == "heal":
                sim.heal()
                self.partitioned = False
            else:
                sim.restart(choice)
        else:
            options = []
            up = [n for n in self._targets() if n not in sim.crashed]
            if self.crashes and len(down) < self.max_crashed and up:
                options.append("crash")
            if self.partitions and not self.partitioned and len(self._targets()) > 1:
                options.append("partition")
            if options:
                if rng.choice(options) == "crash":
                    sim.crash(rng.choice(up))
                else:
                    nodes = self._targets()
                    rng.shuffle(nodes)
                    cut = rng.randint(1, len(nodes) - 1)
                    sim.partition(set(nodes[:cut]), set(nodes[cut:]))
                    self.partitioned = True
        sim.at(sim.now + rng.expovariate(1 / self.interval), self._act)

    def repair_all(self) -> None:
        """Restart every crashed target and heal any partition."""
        for node in self._targets():
            if node in self.sim.crashed:
                self.sim.restart(node)
        if self.partitioned:
            self.sim.heal()
            self.partitioned = False
