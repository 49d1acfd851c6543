"""Fault injection: fault plans at given times, and a seeded random nemesis.

A `FaultPlan` is a list of faults at fixed simulated times -- the scenario of a figure or a
lab check. A `Nemesis` (the name comes from Jepsen) injects random faults -- crashes and
restarts, partitions and heals, and on demand lossy, duplicating and reordering spells of the
network and skewed or drifting clocks -- drawn from the simulation's own *nemesis* stream, so a
test run with a given seed always meets the same faults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distlab.sim.errors import ConfigurationError
from distlab.sim.network import probability
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

    At each step it either repairs something it broke (restarts a crashed node, heals a
    partition, calms the network, puts a clock right) or breaks something more: crashes a
    node (never more than ``max_crashed`` at once), splits the nodes in two groups, or --
    when asked -- degrades the network or a clock. ``nodes`` limits the faults to some nodes
    (clients, for example, are usually spared), and ``crashable`` limits the crashes, and the
    restarts, to some of those (by default any of them may crash; a node outside
    ``crashable`` that something else crashed stays down). The kinds of fault, each switched
    on by its argument:

    * ``crashes`` and ``partitions`` (on by default);
    * ``loss``, ``duplicate``, ``reorder``: probabilities (off at 0). A *lossy* (or
      duplicating, or reordering) spell makes the whole network lose (duplicate, hold back)
      that fraction of messages until the nemesis calms it, which restores the network's own
      settings. The run gets a copy of its `Network` to degrade, so the scenario's object is
      never changed (the per-message draws come from the network's stream, as for any lossy
      network);
    * ``skew`` (ms) and ``drift`` (a fraction): a clock fault gives one node a clock off by up
      to ``skew`` ms either way, running up to ``drift`` fast or slow, until the nemesis puts
      its old clock back (`Simulation.set_clock`).

    Every choice -- when, what, which node, how much -- is drawn from the simulation's own
    *nemesis* stream, so a seed always meets the same faults. The new kinds of fault are
    drawn only when they are switched on: a nemesis of crashes and partitions makes the same
    draws, and so the same runs, as before they existed. After ``stop`` ms, at its next step,
    it repairs everything and stops (`repair_all`).
    """

    def __init__(self, interval: float = 1_000.0, *, crashes: bool = True,
                 partitions: bool = True, max_crashed: int = 1, nodes: list[str] | None = None,
                 crashable: list[str] | None = None, start: float = 0.0,
                 stop: float | None = None, loss: float = 0.0,
                 duplicate: float = 0.0, reorder: float = 0.0, skew: float = 0.0,
                 drift: float = 0.0):
        interval = checked_number(interval, "the nemesis interval", if_infinite="a nemesis "
                                  "that never acts does nothing: leave it out")
        if interval <= 0:
            raise ConfigurationError(f"the nemesis interval must be positive, got {interval!r}")
        start = checked_number(start, "the nemesis start", if_infinite="a nemesis that never "
                               "starts does nothing: leave it out")
        if stop is not None:
            stop = checked_number(stop, "the nemesis stop", if_infinite="for a nemesis that "
                                  "never stops, leave stop out (None)")
        #: the network's faults this nemesis may cause, with their probabilities
        self.network_faults = {name: probability(f"the nemesis {name}", value)
                               for name, value in (("loss", loss), ("duplicate", duplicate),
                                                   ("reorder", reorder)) if value}
        self.skew = _bound("skew", skew, "ms")
        self.drift = _bound("drift", drift, "a fraction, such as 0.001")
        if self.drift >= 1:
            raise ConfigurationError(f"the nemesis drift is a fraction below 1 (0.001: a "
                                     f"millisecond gained every second); got {drift!r}")
        if not (crashes or partitions or self.network_faults or self.skew or self.drift):
            raise ConfigurationError("this nemesis does nothing: switch on crashes, "
                                     "partitions, loss, duplicate, reorder, skew or drift")
        self.interval = interval
        self.crashes = crashes
        self.partitions = partitions
        self.max_crashed = max_crashed
        self.nodes = nodes
        self.crashable = crashable
        self.start = start
        self.stop = stop
        self.partitioned = False
        #: the network faults in force now (a subset of ``network_faults``)
        self.degraded: set[str] = set()
        #: the nodes whose clock this nemesis changed, each with the clock it had before
        self.clocks: dict[str, tuple[float, float]] = {}

    def install(self, sim: Simulation) -> Nemesis:
        """Start injecting faults into ``sim``."""
        self.sim = sim
        self.rng = stream(sim.seed, "nemesis")
        if self.network_faults:
            sim.network = sim.network.copy()  # this run's own: the nemesis degrades it
            self.calm = {name: getattr(sim.network, name) for name in self.network_faults}
        sim.at(max(self.start, sim.now) + self.rng.expovariate(1 / self.interval), self._act)
        return self

    def _targets(self) -> list[str]:
        return sorted(self.nodes if self.nodes is not None else self.sim.nodes)

    def _crashable(self) -> list[str]:
        targets = self._targets()
        return targets if self.crashable is None else [n for n in targets if n in self.crashable]

    def _act(self) -> None:
        sim, rng = self.sim, self.rng
        if self.stop is not None and sim.now >= self.stop:
            self.repair_all()
            return
        down = [n for n in self._crashable() if n in sim.crashed]
        repairs = down + (["heal"] if self.partitioned else [])
        repairs += (["calm"] if self.degraded else []) + sorted(self.clocks)
        if repairs and rng.random() < 0.5:
            self._repair(rng.choice(repairs))
        else:
            options = []
            up = [n for n in self._targets() if n not in sim.crashed]
            victims = [n for n in self._crashable() if n not in sim.crashed]
            if self.crashes and len(down) < self.max_crashed and victims:
                options.append("crash")
            if self.partitions and not self.partitioned and len(self._targets()) > 1:
                options.append("partition")
            options += sorted(set(self.network_faults) - self.degraded)
            steady = [n for n in up if n not in self.clocks]
            if (self.skew or self.drift) and steady:
                options.append("clock")
            if options:
                self._break(rng.choice(options), victims, steady)
        sim.at(sim.now + rng.expovariate(1 / self.interval), self._act)

    def _break(self, fault: str, victims: list[str], steady: list[str]) -> None:
        sim, rng = self.sim, self.rng
        match fault:
            case "crash":
                sim.crash(rng.choice(victims))
            case "partition":
                nodes = self._targets()
                rng.shuffle(nodes)
                cut = rng.randint(1, len(nodes) - 1)
                sim.partition(set(nodes[:cut]), set(nodes[cut:]))
                self.partitioned = True
            case "clock":
                node = rng.choice(steady)
                self.clocks[node] = sim.clock_of(node)
                sim.set_clock(node, skew=rng.uniform(-self.skew, self.skew),
                              drift=rng.uniform(-self.drift, self.drift))
            case _:  # loss, duplicate or reorder: the whole network, until calmed
                setattr(sim.network, fault, self.network_faults[fault])
                self.degraded.add(fault)

    def _repair(self, what: str) -> None:
        sim = self.sim
        if what == "heal":
            sim.heal()
            self.partitioned = False
        elif what == "calm":
            self._calm()
        elif what in self.clocks:
            sim.set_clock(what, *self.clocks.pop(what))
        else:
            sim.restart(what)

    def _calm(self) -> None:
        for name in self.degraded:
            setattr(self.sim.network, name, self.calm[name])
        self.degraded.clear()

    def repair_all(self) -> None:
        """Restart every crashed target (that it may crash), heal any partition, calm the
        network, and put every changed clock back."""
        for node in self._crashable():
            if node in self.sim.crashed:
                self.sim.restart(node)
        if self.partitioned:
            self.sim.heal()
            self.partitioned = False
        self._calm()
        for node in sorted(self.clocks):
            self.sim.set_clock(node, *self.clocks.pop(node))


def _bound(name: str, value: float, unit: str) -> float:
    value = checked_number(value, f"the nemesis {name}", if_infinite=f"give the largest "
                           f"{name} as a finite number ({unit})")
    if value < 0:
        raise ConfigurationError(f"the nemesis {name} is the largest {name} either way and "
                                 f"must not be negative; got {value!r}")
    return value
