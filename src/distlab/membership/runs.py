"""Experiments on the heartbeat failure detector (`distlab.membership.heartbeat`): a sender
watched through a link with latency spikes, false suspicions against detection time."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from distlab.membership.heartbeat import HeartbeatSender, TimeoutDetector
from distlab.sim import Latency, LogNormal, Network, Simulation, Uniform, stream


@dataclass
class DetectorRun:
    """One run of `slow_or_dead`: the simulation, the latency spikes (start, end, delay in
    ms), and the crash time."""

    sim: Simulation
    spikes: list[tuple[float, float, float]]
    crash_at: float | None

    @property
    def detector(self) -> TimeoutDetector:
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
                      adaptive: float = 0.0) -> DetectorRun:
    """A sender ``s`` watched by a detector ``m``, with latency spikes planned up to
    ``duration`` ms; not run yet (`slow_or_dead` runs it; ``.sim`` suits an Explorer).

    Now and then (every ``spike_every`` ms on average, for ``spike_length`` ms) the link gets
    slow: for that spike its one-way latency jumps to 10 ms above a delay drawn from
    ``spike_delay`` (a long tail: most spikes are short, a few are very long). With
    ``crash_at`` the sender crashes then. The spikes come from the seed's own random stream,
    so the same seed gives the same spikes whatever the timeout.
    """
    sim = Simulation(seed=seed, network=Network(latency=latency))
    sim.add_node(HeartbeatSender, "s", every=every)
    sim.add_node(TimeoutDetector, "m", timeout=timeout, adaptive=adaptive)
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
    spike_delay, spike_every, spike_length, adaptive)."""
    run = detector_scenario(seed, timeout, duration=duration, **options)
    run.sim.run(until=duration)
    return run


@dataclass(frozen=True)
class TradeoffPoint:
    """The two costs of one timeout, averaged over seeds."""

    timeout: float
    false_suspicions: float     # per run without a crash
    detection_time: float       # ms from crash to lasting suspicion, mean over runs
    undetected: int             # runs where the crash was not noticed by the end


def timeout_tradeoff(timeouts: Iterable[float], seeds: Iterable[int] = range(20), *,
                     duration: float = 10_000.0, **options: Any) -> list[TradeoffPoint]:
    """For each timeout: mean false suspicions in runs without a crash, and mean detection
    time in the same runs with a crash at a seeded random time in the second half."""
    seeds = list(seeds)
    points = []
    for timeout in timeouts:
        false, detection, undetected = [], [], 0
        for seed in seeds:
            alive = slow_or_dead(seed, timeout, duration=duration, **options)
            false.append(alive.false_suspicions)
            crash_at = stream(seed, "crash").uniform(duration / 2, duration * 0.75)
            dead = slow_or_dead(seed, timeout, crash_at=crash_at, duration=duration, **options)
            if dead.detection_time is None:
                undetected += 1
            else:
                detection.append(dead.detection_time)
        points.append(TradeoffPoint(timeout, statistics.fmean(false),
                                    statistics.fmean(detection) if detection else float("nan"),
                                    undetected))
    return points
