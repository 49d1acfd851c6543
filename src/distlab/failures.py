"""Two failures a node cannot see: a lost message, and a slow peer that looks dead.

**The two generals.** Two generals, ``A`` and ``B``, must attack at dawn together or not at
all; they talk only through messengers who cross a valley and may be caught (a lossy link).
`General` plays the obvious protocol: ``A`` sends the plan (messenger 1), each general that
receives messenger *k* sends messenger *k + 1* back, up to ``messengers``; at dawn a
general attacks if it has received every messenger addressed to it. Whatever the number of
messengers, the *last* one may be lost, and its sender cannot see the difference: it attacks
while the other does not. Removing that messenger gives a shorter protocol that must decide
the same way, and so on down to no messenger at all -- so no protocol with finitely many
messages reaches certainty over a link that can lose them (Akkoyunlu, Ekanadham and Huber
1975; Gray 1978 named the generals). `two_generals` runs it, optionally losing a chosen
messenger on purpose, and `generals_odds` measures the outcomes over many seeds.

**Slow or dead?** A `HeartbeatSender` sends a heartbeat every ``every`` ms; a
`TimeoutDetector` *suspects* it when no heartbeat has arrived for ``timeout`` ms, and trusts
it again when one arrives. In an asynchronous system message delays have no bound, so a
slow link (a latency spike) and a crash look the same from the detector for as long as the
spike lasts: a short timeout suspects live nodes (false suspicions), a long one takes long to
notice a real crash (detection time). Chandra and Toueg made such *unreliable failure
detectors* a building block; with ``adaptive`` the timeout grows after each mistake, which
in a partially synchronous system (delays bounded, but by an unknown bound) eventually stops
the mistakes. `slow_or_dead` runs one scenario (`detector_scenario` builds it);
`timeout_tradeoff` measures both costs as a function of the timeout.

**What an acknowledgement promises.** Under crash-recovery a node loses its memory in a crash
and keeps only its stable storage. `MemoryLedger` acknowledges a `Deposit` with the balance
in memory; `DurableLedger` writes it to ``storage`` first. Both acknowledge every deposit;
after a crash only the second still has them. Being plain nodes, they also run as real
processes (``start_cluster("distlab.failures:DurableLedger", ...)``) and can be killed for real.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from distlab.sim import Latency, LogNormal, Network, Node, Simulation, Uniform, stream

# -- the two generals ------------------------------------------------------------------------------

GENERALS = ("A", "B")


@dataclass(frozen=True)
class Messenger:
    """Messenger ``number``: 1 carries the plan, 2 acknowledges it, 3 acknowledges 2..."""

    number: int


class General(Node):
    """One of two generals: relays messengers, and at ``dawn`` ms decides to attack or not.

    ``A`` (the first id) sends messenger 1. On messenger *k*, a general sends *k + 1* back
    unless *k* was the last (``messengers``). With ``resend`` (ms) a general sends its latest
    messenger again and again until the next one arrives or dawn comes. At dawn it attacks if
    it has received every messenger addressed to it (``A`` gets the even ones, ``B`` the odd).
    """

    def __init__(self, messengers: int = 4, resend: float | None = None,
                 dawn: float = 1_000.0) -> None:
        if messengers < 1:
            raise ValueError(f"the protocol needs at least one messenger (the plan); got "
                             f"{messengers!r}")
        self.messengers = messengers
        self.resend = resend
        self.dawn = dawn
        self.received = 0          # the highest messenger number received
        self.sent = 0              # the number of the latest messenger sent
        self.decision: str | None = None

    @property
    def leads(self) -> bool:
        """True for the general who sends the plan."""
        return self.id < min(self.peers)

    @property
    def last_expected(self) -> int:
        """The number of the last messenger addressed to this general (0: none)."""
        mine = [k for k in range(1, self.messengers + 1) if (k % 2 == 0) == self.leads]
        return max(mine, default=0)

    def on_start(self) -> None:
        self.set_timer(self.dawn, "dawn")
        if self.leads:
            self.dispatch(1)

    def dispatch(self, number: int) -> None:
        self.sent = number
        self.send(self.peers[0], Messenger(number))
        if self.resend is not None:
            self.set_timer(self.resend, "resend")

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Messenger(number) if number > self.received and self.decision is None:
                self.received = number
                self.cancel_timer("resend")
                if number < self.messengers:
                    self.dispatch(number + 1)

    def on_timer(self, name: str) -> None:
        match name:
            case "resend" if self.decision is None:
                self.dispatch(self.sent)
            case "dawn":
                self.cancel_timer("resend")
                self.decision = "attack" if self.received >= self.last_expected else "wait"
                self.note(f"{self.decision}s")


def two_generals(seed: int = 1, messengers: int = 4, *, loss: float = 0.0,
                 latency: float = 50.0, resend: float | None = None, dawn: float = 1_000.0,
                 lose: int | None = None) -> Simulation:
    """Run the two generals once; each general's ``decision`` is set at ``dawn`` ms.

    ``loss`` is the chance that a messenger is caught; ``latency`` (ms) the crossing time.
    ``lose=k`` catches messenger *k* on purpose (only without ``resend``): the adversary of
    the impossibility argument, which may choose *which* message is lost.
    """
    if lose is not None and (resend is not None or not 1 <= lose <= messengers):
        raise ValueError(f"lose=k needs 1 <= k <= messengers ({messengers}) and no resend; "
                         f"got lose={lose!r}, resend={resend!r}")
    if messengers * latency >= dawn:
        raise ValueError(f"{messengers} crossings of {latency} ms take longer than dawn "
                         f"({dawn} ms): give the generals more time")
    sim = Simulation(seed=seed, network=Network(latency=latency, loss=loss))
    sim.add_nodes(General, GENERALS, messengers=messengers, resend=resend, dawn=dawn)
    if lose is not None:
        sender, receiver = GENERALS if lose % 2 == 1 else GENERALS[::-1]
        # messenger k leaves at (k - 1) * latency and arrives at k * latency: cut it midway
        sim.at((lose - 0.5) * latency, sim.cut, sender, receiver, False)
        sim.at((lose + 0.5) * latency, sim.heal)
    sim.run(until=dawn)
    return sim


def generals_outcome(sim: Simulation) -> str:
    """"both attack", "neither attacks", or "A attacks alone" / "B attacks alone"."""
    attacking = [g for g in GENERALS if sim.nodes[g].decision == "attack"]
    match attacking:
        case [_, _]:
            return "both attack"
        case []:
            return "neither attacks"
        case [alone]:
            return f"{alone} attacks alone"


def generals_odds(messengers: int, loss: float, seeds: Iterable[int] = range(1_000),
                  **options: Any) -> dict[str, float]:
    """The fraction of runs that end each way ("both attack", "neither attacks", "alone":
    one general attacks without the other)."""
    counts = {"both attack": 0, "neither attacks": 0, "alone": 0}
    runs = 0
    for seed in seeds:
        outcome = generals_outcome(two_generals(seed, messengers, loss=loss, **options))
        counts["alone" if outcome.endswith("alone") else outcome] += 1
        runs += 1
    return {outcome: n / runs for outcome, n in counts.items()}


# -- slow or dead: a timeout failure detector ------------------------------------------------------

@dataclass(frozen=True)
class Heartbeat:
    number: int


class HeartbeatSender(Node):
    """Sends ``Heartbeat`` to every peer every ``every`` ms, while it is up."""

    def __init__(self, every: float = 50.0) -> None:
        self.every = every
        self.beats = 0

    def on_start(self) -> None:
        self.set_timer(self.every, "beat")

    def on_timer(self, name: str) -> None:
        self.beats += 1
        self.broadcast(Heartbeat(self.beats))
        self.set_timer(self.every, "beat")


class TimeoutDetector(Node):
    """Suspects its peer after ``timeout`` ms without a heartbeat; trusts it again on the next.

    ``suspicions`` lists ``[start, end]`` of each suspicion (``end`` None while it lasts).
    With ``adaptive`` > 0, each suspicion that a heartbeat proves wrong adds ``adaptive`` ms
    to the timeout.
    """

    def __init__(self, timeout: float = 200.0, adaptive: float = 0.0) -> None:
        self.timeout = timeout
        self.adaptive = adaptive
        self.suspected = False
        self.suspicions: list[list[float | None]] = []

    def show(self) -> dict[str, Any]:
        return {"suspected": self.suspected, "timeout": self.timeout,
                "suspicions": len(self.suspicions)}

    def on_start(self) -> None:
        self.set_timer(self.timeout, "silence")

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Heartbeat():
                if self.suspected:
                    self.suspected = False
                    self.suspicions[-1][1] = self.now
                    self.timeout += self.adaptive
                    self.note("trust again", node=src, timeout=self.timeout)
                self.set_timer(self.timeout, "silence")

    def on_timer(self, name: str) -> None:
        self.suspected = True
        self.suspicions.append([self.now, None])
        self.note("suspect", node=self.peers[0])


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


# -- crash-recovery: what an acknowledgement promises ----------------------------------------------

@dataclass(frozen=True)
class Deposit:
    amount: int


@dataclass(frozen=True)
class Balance:
    """A request for the balance; the ledger answers with a number."""


class MemoryLedger(Node):
    """Keeps the balance in memory: fast, and lost in a crash."""

    def __init__(self) -> None:
        self.balance = 0

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Deposit(amount):
                self.balance += amount
                self.send(src, "ack")
            case Balance():
                self.send(src, self.balance)


class DurableLedger(Node):
    """Writes the balance to storage before it acknowledges a deposit."""

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Deposit(amount):
                self.storage["balance"] = self.storage.get("balance", 0) + amount
                self.send(src, "ack")
            case Balance():
                self.send(src, self.storage.get("balance", 0))
