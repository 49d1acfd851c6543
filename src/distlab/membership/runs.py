"""Experiments on failure detectors and membership.

* The heartbeat detectors (`distlab.membership.heartbeat`, `distlab.membership.phi_accrual`):
  a sender watched through a link with latency spikes, false suspicions against detection
  time (`slow_or_dead`, `timeout_tradeoff`, `phi_tradeoff`).
* SWIM (`distlab.membership.swim`): a group with crashes and loss, how fast the crashes are
  known to all, how many live members are suspected or declared dead, and the messages each
  member sends per period as the group grows (`swim_run`, `swim_scaling`,
  `swim_false_positives`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from distlab.membership.heartbeat import HeartbeatSender, TimeoutDetector
from distlab.membership.phi_accrual import PhiAccrualDetector
from distlab.membership.swim import SwimMember
from distlab.sim import Latency, LogNormal, Network, Simulation, Uniform, stream
from distlab.sim.helpers import node_ids


@dataclass
class DetectorRun:
    """One run of `slow_or_dead`: the simulation, the latency spikes (start, end, delay in
    ms), and the crash time."""

    sim: Simulation
    spikes: list[tuple[float, float, float]]
    crash_at: float | None

    @property
    def detector(self) -> TimeoutDetector | PhiAccrualDetector:
        return self.sim.nodes["m"]

    @property
    def false_suspicions(self) -> int:
        """Suspicions that began while the sender was still up."""
        return sum(1 for start, _ in self.detector.suspicions
                   if self.crash_at is None or start < self.crash_at)

    @property
    def detection_time(self) -> float | None:
        """ms from the crash to the suspicion that lasts (None: no crash, or never noticed)."""
        if self.crash_at is None or not self.detector.suspected:
            return None
        return max(0.0, self.detector.suspicions[-1][0] - self.crash_at)


def detector_scenario(seed: int = 1, timeout: float = 200.0, *,
                      crash_at: float | None = None, duration: float = 10_000.0,
                      every: float = 50.0, latency: Latency | float = Uniform(1, 10),
                      spike_delay: Latency = LogNormal(median=150, sigma=1.0),
                      spike_every: float = 1_500.0,
                      spike_length: tuple[float, float] = (200, 600),
                      adaptive: float = 0.0, phi: float | None = None,
                      distribution: str = "normal", min_sigma: float = 10.0) -> DetectorRun:
    """A sender ``s`` watched by a detector ``m``, with latency spikes planned up to
    ``duration`` ms; not run yet (`slow_or_dead` runs it; ``.sim`` suits an Explorer).

    Now and then (every ``spike_every`` ms on average, for ``spike_length`` ms) the link gets
    slow: for that spike its one-way latency jumps to 10 ms above a delay drawn from
    ``spike_delay`` (a long tail: most spikes are short, a few are very long). With
    ``crash_at`` the sender crashes then. The spikes come from the seed's own random stream,
    so the same seed gives the same spikes whatever the timeout. With ``phi`` the detector is
    a `PhiAccrualDetector` with that threshold, ``distribution`` and ``min_sigma`` instead
    (``timeout`` and ``adaptive`` unused).
    """
    sim = Simulation(seed=seed, network=Network(latency=latency))
    sim.add_node(HeartbeatSender, "s", every=every)
    if phi is None:
        sim.add_node(TimeoutDetector, "m", timeout=timeout, adaptive=adaptive)
    else:
        sim.add_node(PhiAccrualDetector, "m", threshold=phi, distribution=distribution,
                     min_sigma=min_sigma)
    rng = stream(seed, "spikes")
    spikes = []
    t = rng.expovariate(1 / spike_every)
    while t < duration:
        end = t + rng.uniform(*spike_length)
        delay = spike_delay.sample(rng)
        spikes.append((t, min(end, duration), delay))
        sim.at(t, partial(sim.network.set_link, "s", "m", latency=Uniform(delay, delay + 10)))
        sim.at(end, sim.network.set_link, "s", "m")   # no override: back to the default
        t = end + rng.expovariate(1 / spike_every)
    if crash_at is not None:
        sim.at(crash_at, sim.crash, "s")
    return DetectorRun(sim, spikes, crash_at)


def slow_or_dead(seed: int = 1, timeout: float = 200.0, *, duration: float = 10_000.0,
                 **options: Any) -> DetectorRun:
    """`detector_scenario` run for ``duration`` ms (``options``: crash_at, every, latency,
    spike_delay, spike_every, spike_length, adaptive, phi, distribution, min_sigma)."""
    run = detector_scenario(seed, timeout, duration=duration, **options)
    run.sim.run(until=duration)
    return run


@dataclass(frozen=True)
class TradeoffPoint:
    """The two costs of one setting of a detector (a timeout, or a phi threshold), averaged
    over seeds."""

    timeout: float              # the setting: a timeout in ms, or a phi threshold
    false_suspicions: float     # per run without a crash
    detection_time: float       # ms from crash to lasting suspicion, mean over runs
    undetected: int             # runs where the crash was not noticed by the end


def tradeoff_point(setting: float, seeds: Iterable[int], *, duration: float = 10_000.0,
                   phi: bool = False, **options: Any) -> TradeoffPoint:
    """Mean false suspicions in runs without a crash, and mean detection time in the same
    runs with a crash at a seeded random time in the second half; ``setting`` is the
    timeout, or with ``phi`` the phi threshold."""
    if phi:
        options["phi"] = setting
    false, detection, undetected = [], [], 0
    for seed in seeds:
        alive = slow_or_dead(seed, setting, duration=duration, **options)
        false.append(alive.false_suspicions)
        crash_at = stream(seed, "crash").uniform(duration / 2, duration * 0.75)
        dead = slow_or_dead(seed, setting, crash_at=crash_at, duration=duration, **options)
        if dead.detection_time is None:
            undetected += 1
        else:
            detection.append(dead.detection_time)
    return TradeoffPoint(setting, statistics.fmean(false),
                         statistics.fmean(detection) if detection else float("nan"),
                         undetected)


def timeout_tradeoff(timeouts: Iterable[float], seeds: Iterable[int] = range(20), *,
                     duration: float = 10_000.0, **options: Any) -> list[TradeoffPoint]:
    """`tradeoff_point` of each fixed timeout."""
    seeds = list(seeds)
    return [tradeoff_point(t, seeds, duration=duration, **options) for t in timeouts]


def curve(points: Iterable[TradeoffPoint]) -> list[tuple[float, float, float]]:
    """The points as ``(setting, false suspicions, detection time)``, as the pictures
    (`distlab.viz.membership.draw_tradeoff`) and the explorer take them."""
    return [(p.timeout, p.false_suspicions, p.detection_time) for p in points]


def phi_tradeoff(thresholds: Iterable[float], seeds: Iterable[int] = range(20), *,
                 duration: float = 10_000.0, **options: Any) -> list[TradeoffPoint]:
    """`tradeoff_point` of the phi accrual detector at each threshold."""
    seeds = list(seeds)
    return [tradeoff_point(t, seeds, duration=duration, phi=True, **options)
            for t in thresholds]


# -- SWIM --------------------------------------------------------------------------------------

@dataclass
class SwimRun:
    """One run of `swim_run`: the simulation, when members crashed, and what they learnt.

    ``period`` is the protocol period the members used; ``notes`` the members' trace notes
    ("suspect", "dead", "alive", "refute"), kept even by an untraced (summary) run.
    """

    sim: Simulation
    crashes: dict[str, float]
    period: float
    duration: float

    @property
    def notes(self) -> list[Any]:
        return self.sim.trace.notes()

    def declared(self, what: str) -> list[tuple[float, str, str]]:
        """(time, observer, member) of every "suspect" or "dead" note, in time order."""
        return [(e.time, e.node, e.data["member"]) for e in self.notes if e.data.what == what]

    def detection(self, member: str) -> tuple[float | None, float | None]:
        """ms from ``member``'s crash to the first member declaring it dead, and to the last
        live member doing so (None: not yet)."""
        crash = self.crashes[member]
        live = [m for m in self.sim.nodes if m not in self.sim.crashed]
        times = {}
        for time, observer, about in self.declared("dead"):
            if about == member and time >= crash:
                times.setdefault(observer, time)
        first = min(times.values(), default=None)
        last = None if any(m not in times for m in live) else max(times.values())
        return (None if first is None else first - crash,
                None if last is None else last - crash)

    def first_suspected(self, member: str) -> float | None:
        """ms from ``member``'s crash to the first suspicion of it (None: none yet)."""
        crash = self.crashes[member]
        return next((time - crash for time, _, about in self.declared("suspect")
                     if about == member and time >= crash), None)

    def wrongly(self, what: str) -> int:
        """How many times members that were up were suspected (``what="suspect"``) or
        declared dead (``"dead"``): each (member, incarnation) counted once, where it began,
        however many members then heard it."""
        return len({(e.data["member"], e.data["incarnation"]) for e in self.notes
                    if e.data.what == what and self.crashes.get(e.data["member"],
                                                                math.inf) > e.time})

    def load(self) -> float:
        """Messages sent per member and protocol period, over the whole run."""
        sent = self.sim.trace.counts().get("send", 0)
        return sent / (len(self.sim.nodes) * self.duration / self.period)


def swim_run(n: int = 20, seed: int = 1, *, crashes: dict[str, float] | None = None,
             duration: float = 10_000.0, loss: float = 0.0, latency: Latency | float =
             Uniform(1, 10), trace: bool | str = True, **options: Any) -> SwimRun:
    """``n`` `SwimMember` s (``n000``...) run for ``duration`` ms; ``crashes`` maps members to
    crash times. ``options`` go to the members (period, k, suspicion...). ``trace="summary"``
    for large groups: the notes and counts are kept, not every message."""
    sim = Simulation(seed=seed, network=Network(latency=latency, loss=loss), trace=trace,
                     max_events=100_000_000)
    sim.add_nodes(SwimMember, node_ids(n, padded=True), **options)
    crashes = dict(crashes or {})
    for member, time in crashes.items():
        sim.at(time, sim.crash, member)
    sim.run(until=duration)
    period = sim.nodes[next(iter(sim.nodes))].period
    return SwimRun(sim, crashes, period, duration)


def views(sim: Simulation) -> dict[str, dict[str, str]]:
    """What every member thinks of every other: observer -> member -> state ("crashed" for
    every member, as seen by an observer that is down)."""
    ids = sorted(sim.nodes)
    return {observer: {member: ("crashed" if observer in sim.crashed
                                else (node.state_of(member) or ("alive", 0))[0])
                       for member in ids if member != observer}
            for observer, node in sorted(sim.nodes.items())}


def first_notes(run: SwimRun, what: str, member: str) -> dict[str, float]:
    """observer -> when it first noted ``what`` ("suspect", "dead") about ``member``."""
    first: dict[str, float] = {}
    for time, observer, about in run.declared(what):
        if about == member:
            first.setdefault(observer, time)
    return first


@dataclass(frozen=True)
class ScalePoint:
    """SWIM at one group size: one crash's detection, and the load per member."""

    n: int
    first_suspect: float   # ms from the crash to the first suspicion of it
    first_dead: float      # ms from the crash to the first member declaring it dead
    all_dead: float        # ... to the last live member doing so
    load: float            # messages sent per member and period


def swim_scaling(sizes: Iterable[int], seed: int = 1, *, crash_at: float = 1_000.0,
                 duration: float = 10_000.0, **options: Any) -> list[ScalePoint]:
    """For each group size: one member crashes at ``crash_at``; when it is known dead, by
    the first and by all; and the messages each member sends per period (untraced runs)."""
    points = []
    for n in sizes:
        victim = node_ids(n, padded=True)[n // 2]
        run = swim_run(n, seed, crashes={victim: crash_at}, duration=duration,
                       trace="summary", **options)
        first, last = run.detection(victim)
        suspected = run.first_suspected(victim)
        points.append(ScalePoint(n, math.nan if suspected is None else suspected,
                                 math.nan if first is None else first,
                                 math.nan if last is None else last, run.load()))
    return points


@dataclass(frozen=True)
class FalsePositives:
    """Live members suspected and declared dead, at one loss rate, with or without the
    suspicion sub-protocol, summed over seeds."""

    loss: float
    suspicion: bool
    suspected: int
    declared_dead: int


def swim_false_positives(losses: Iterable[float], seeds: Iterable[int] = range(5), *,
                         n: int = 50, duration: float = 20_000.0, **options: Any
                         ) -> list[FalsePositives]:
    """Members that never crash, a lossy network: how often live members are suspected and
    declared dead, with and without suspicion."""
    seeds = list(seeds)
    results = []
    for suspicion in (False, True):
        for loss in losses:
            runs = [swim_run(n, seed, loss=loss, duration=duration, trace="summary",
                             suspicion=suspicion, **options) for seed in seeds]
            results.append(FalsePositives(loss, suspicion,
                                          sum(run.wrongly("suspect") for run in runs),
                                          sum(run.wrongly("dead") for run in runs)))
    return results
