"""The phi accrual failure detector: a suspicion level instead of a yes/no timeout.

Hayashibara, Défago, Yared and Katayama, "The phi Accrual Failure Detector" (2004). A fixed
timeout answers "is it dead?" with yes or no, and the right timeout depends on the network.
An *accrual* detector answers with a number that grows the longer the silence lasts, scaled
by what this link's heartbeats usually look like, and leaves the threshold to the application.

The maths. The detector keeps a window of the last ``window`` inter-arrival times of the
heartbeats and models them as a normal distribution with their mean ``mu`` and standard
deviation ``sigma``. When ``t`` ms have passed since the last heartbeat,

    P_later(t) = P(the next heartbeat arrives later than t) = 1 - F(t)
               = erfc((t - mu) / (sigma * sqrt(2))) / 2

where ``F`` is the normal distribution's CDF, and the suspicion level is

    phi(t) = -log10(P_later(t)).

phi = 1 means that a heartbeat this late happens once in 10 gaps, phi = 3 once in 1,000,
phi = 8 once in 10^8: with threshold ``Phi`` the detector is wrong, if the model is right,
in a fraction 10^-Phi of gaps. Since phi grows with ``t``, the moment it crosses ``Phi`` can
be computed once per heartbeat: ``t* = mu + z * sigma`` where ``P_later(t*) = 10^-Phi``
(``z`` from the inverse normal CDF). `PhiAccrualDetector` sets its timer for that moment: a
timeout that adapts to the mean *and* the jitter of the link it watches.

Cassandra replaced the normal model by an exponential one, ``P_later(t) = exp(-t / mu)``, so
``phi(t) = t / (mu * ln 10)`` and the silence allowed is ``Phi * mu * ln 10``: it follows the
mean gap only, but its tail is heavier, which suits networks with rare long delays
(``distribution="exponential"``).

A link whose gaps are very regular gives a tiny ``sigma`` and so a detector that panics at
the first late heartbeat; ``min_sigma`` puts a floor under it (Akka and Cassandra do the
same). Heavy tails (rare long delays) break the normal model: that is what the book measures.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from typing import Any

from distlab.membership.heartbeat import Heartbeat
from distlab.sim import Node

#: the models of the gaps a detector may use
DISTRIBUTIONS = ("normal", "exponential")


def phi(elapsed: float, mean: float, sigma: float, distribution: str = "normal") -> float:
    """The suspicion level ``-log10(P_later(elapsed))`` under a model of the gaps."""
    if distribution == "exponential":
        return max(0.0, elapsed) / (mean * math.log(10))
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma!r}")
    p_later = 0.5 * math.erfc((elapsed - mean) / (sigma * math.sqrt(2)))
    return math.inf if p_later <= 0 else -math.log10(p_later)


def silence_for(threshold: float, mean: float, sigma: float,
                distribution: str = "normal") -> float:
    """How long after a heartbeat phi reaches ``threshold``: ``mean + z * sigma`` with
    ``P_later = 10^-threshold`` (normal), or ``threshold * mean * ln 10`` (exponential)."""
    if threshold <= 0:
        raise ValueError(f"the phi threshold must be positive (1 = wrong once in 10 gaps), "
                         f"got {threshold!r}")
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution is one of {DISTRIBUTIONS}, got {distribution!r}")
    if distribution == "exponential":
        return threshold * mean * math.log(10)
    z = -statistics.NormalDist().inv_cdf(10.0 ** -threshold)
    return mean + z * sigma


class PhiAccrualDetector(Node):
    """Watches one peer's heartbeats; suspects it when phi crosses ``threshold``.

    ``distribution`` is the model of the gaps, ``"normal"`` or ``"exponential"``;
    ``window`` inter-arrival times are kept (the first heartbeat only starts the clock);
    until ``min_samples`` gaps are known, ``first_timeout`` ms of silence count as a crash.
    ``suspicions`` lists ``[start, end]`` of each suspicion, as `TimeoutDetector` does, so the
    same experiments (`distlab.membership.runs`) measure both.
    """

    def __init__(self, threshold: float = 8.0, window: int = 100, min_samples: int = 5,
                 min_sigma: float = 10.0, first_timeout: float = 1_000.0,
                 distribution: str = "normal") -> None:
        silence_for(threshold, 0.0, 1.0, distribution)  # refuses bad settings, with a reason
        if not isinstance(window, int) or window < 2:
            raise ValueError(f"window must be an int >= 2 (gaps kept), got {window!r}")
        self.threshold = threshold
        self.distribution = distribution
        self.gaps: deque[float] = deque(maxlen=window)
        self.min_samples = min_samples
        self.min_sigma = min_sigma
        self.first_timeout = first_timeout
        self.last: float | None = None
        self.suspected = False
        self.suspicions: list[list[float | None]] = []

    def show(self) -> dict[str, Any]:
        return {"suspected": self.suspected, "threshold": self.threshold,
                "gaps": len(self.gaps), "suspicions": len(self.suspicions)}

    def model(self) -> tuple[float, float]:
        """The mean and standard deviation of the gaps in the window (sigma >= min_sigma)."""
        mean = statistics.fmean(self.gaps)
        return mean, max(self.min_sigma, statistics.pstdev(self.gaps, mean))

    def phi_now(self) -> float:
        """The suspicion level at this moment (0 before any heartbeat's gaps are known)."""
        if self.last is None or len(self.gaps) < self.min_samples:
            return 0.0
        return phi(self.now - self.last, *self.model(), self.distribution)

    def timeout(self) -> float:
        """How long after the last heartbeat the detector will suspect."""
        if len(self.gaps) < self.min_samples:
            return self.first_timeout
        return silence_for(self.threshold, *self.model(), self.distribution)

    def on_start(self) -> None:
        self.set_timer(self.first_timeout, "silence")

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Heartbeat():
                if self.last is not None:
                    self.gaps.append(self.now - self.last)
                self.last = self.now
                if self.suspected:
                    self.suspected = False
                    self.suspicions[-1][1] = self.now
                    self.note("trust again", node=src)
                self.set_timer(self.timeout(), "silence")

    def on_timer(self, name: str) -> None:
        self.suspected = True
        self.suspicions.append([self.now, None])
        self.note("suspect", node=self.peers[0])
