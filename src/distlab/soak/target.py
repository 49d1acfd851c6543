"""What a soak runs: a protocol's scenario, and the faults its guarantees cover.

A `Target` is one protocol (a reference implementation of the library, or a lab's reference
solution): for every seed, a `distlab.grading.Scenario` -- the nodes, how long to run, what
must hold -- and a `Faults`, the kinds of fault the nemesis may inject into it. The soak adds
the nemesis to the scenario (`Target.soak_scenario`): it acts from the start, and after a
share ``calm_at`` of the run it repairs everything (restarts every node, heals the network,
puts the clocks right) and stops, so that what is promised only once the faults are over (a
leader, replicas that agree) can be judged at the end of the run.

Which faults a protocol meets is part of its contract: a ring election that assumes no
message is lost is not soaked with loss, a lab whose servers keep their state in memory is
not soaked with crashes. Safety properties (invariants) are watched after every event,
under every fault of the target; liveness properties are judged at the end, after the
repair.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from distlab.grading.lab import Scenario
from distlab.sim import Client, Nemesis, Simulation

#: the columns of the soak table, one per kind of fault, in this order
FAULT_NAMES = ("crash", "partition", "loss", "duplicate", "reorder", "clock")


@dataclass(frozen=True)
class Faults:
    """The faults a nemesis injects into a target's runs (`distlab.sim.Nemesis` options).

    ``loss``, ``duplicate`` and ``reorder`` are the shares of messages lost, duplicated or
    held back during a spell of each; ``skew`` (ms) and ``drift`` (a fraction) bound a clock
    fault. ``interval`` is the mean
    time between two steps of the nemesis, in ms.
    """

    interval: float = 200.0
    crashes: bool = False
    partitions: bool = False
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    skew: float = 0.0
    drift: float = 0.0
    max_crashed: int = 1

    def kinds(self) -> tuple[str, ...]:
        """The kinds of fault switched on, named as in `FAULT_NAMES`."""
        on = (self.crashes, self.partitions, self.loss, self.duplicate, self.reorder,
              self.skew or self.drift)
        return tuple(name for name, used in zip(FAULT_NAMES, on) if used)

    def nemesis(self, nodes: list[str], crashable: list[str], stop: float | None) -> Nemesis:
        """A nemesis with these faults, acting on ``nodes`` (crashing and restarting only
        ``crashable`` ones, and none without ``crashes``) until ``stop`` ms."""
        return Nemesis(self.interval, crashes=self.crashes, partitions=self.partitions,
                       max_crashed=self.max_crashed, nodes=nodes,
                       crashable=crashable if self.crashes else [],
                       stop=stop, loss=self.loss,
                       duplicate=self.duplicate, reorder=self.reorder, skew=self.skew,
                       drift=self.drift)


@dataclass(frozen=True)
class Target:
    """One protocol to soak: its name, where it comes from, its scenario and its faults.

    ``scenario(seed)`` builds the run without faults; ``checks`` says in words what is
    judged. ``calm_at`` is the share of each run (0.6: the first 60%) after which the
    nemesis repairs everything and stops (None: it acts to the end, for a target judged on
    safety only, or whose liveness holds under its faults). The nemesis acts on every node (a
    partition may separate clients from servers), but never crashes a ``Client`` (the
    workload, whose history is judged) nor the nodes in ``spared``. ``which(seed)``, when given,
    names what a seed runs, for targets that vary it (a lab's check).
    """

    name: str
    source: str
    checks: str
    faults: Faults
    scenario: Callable[[int], Scenario]
    calm_at: float | None = None
    spared: Sequence[str] = ()
    which: Callable[[int], str] | None = None

    def __post_init__(self) -> None:
        if self.calm_at is not None and not 0 < self.calm_at < 1:
            raise ValueError(f"soak target {self.name!r}: calm_at is the share of the run the "
                             f"nemesis acts in, between 0 and 1 (the rest is judged after the "
                             f"repair); got {self.calm_at!r}")

    def calm_time(self, run_for: float) -> float | None:
        """When, in a run of ``run_for`` ms, the nemesis repairs everything (None: never)."""
        return None if self.calm_at is None else self.calm_at * run_for

    def soak_scenario(self, seed: int) -> Scenario:
        """The scenario of ``seed`` with the nemesis added to its setup."""
        scenario = self.scenario(seed)
        if not isinstance(scenario, Scenario):
            raise TypeError(f"soak target {self.name!r}: scenario({seed}) returned "
                            f"{scenario!r}, not a distlab.grading.Scenario")
        setup, faults, spared = scenario.setup, self.faults, self.spared
        stop = self.calm_time(scenario.run_for)

        def setup_with_nemesis(sim: Simulation) -> None:
            setup(sim)
            nodes = sorted(sim.nodes)
            crashable = [node_id for node_id in nodes if node_id not in spared
                         and not isinstance(sim.nodes[node_id], Client)]
            nemesis = faults.nemesis(nodes, crashable, stop).install(sim)
            if stop is not None:
                sim.at(stop, nemesis.repair_all)  # exactly then (the nemesis's next step is later)

        return replace(scenario, setup=setup_with_nemesis)
