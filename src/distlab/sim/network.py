"""The simulated network: latency, loss, duplication, reordering, bandwidth, partitions.

A `Network` is configuration only: the default behaviour of every link and optional per-link
overrides (`set_link`). What happens during a run -- which links a partition has cut, how
long each link stays busy sending -- is the `Simulation`'s, so one `Network` object can
configure several simulations, one after the other, and none leaks into the next. The
simulation draws the network's random numbers from its own *network* stream, separate from
the nodes' streams, so turning loss on does not change what the protocol code draws.

Latencies are distributions with a ``sample(rng)`` method: `Constant`, `Uniform`,
`Exponential`, `Normal` and `LogNormal` (real networks have long tails: LogNormal shows it).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from distlab.sim.errors import ConfigurationError
from distlab.sim.times import checked_number


class Latency:
    """A distribution of one-way message delays, in milliseconds."""

    mean: float

    def sample(self, rng: random.Random) -> float:
        raise NotImplementedError


def _nonnegative(name: str, value: float) -> float:
    value = checked_number(value, name, if_infinite="a message that never arrives is a lost "
                           "one: use loss=, a partition or a cut link instead")
    if value < 0:
        raise ConfigurationError(f"{name} must not be negative (got {value} ms): a message "
                                 f"cannot arrive before it was sent")
    return value


class Constant(Latency):
    """Always the same delay."""

    def __init__(self, ms: float):
        self.ms = self.mean = _nonnegative("Constant latency", ms)

    def sample(self, rng: random.Random) -> float:
        return self.ms

    def __repr__(self) -> str:
        return f"Constant({self.ms:g})"


class Uniform(Latency):
    """A delay drawn uniformly between ``low`` and ``high``."""

    def __init__(self, low: float, high: float):
        self.low = _nonnegative("Uniform low", low)
        self.high = _nonnegative("Uniform high", high)
        if self.high < self.low:
            raise ConfigurationError(f"Uniform({low}, {high}): low must not exceed high")
        self.width = self.high - self.low
        self.mean = (self.low + self.high) / 2

    def sample(self, rng: random.Random) -> float:
        return self.low + self.width * rng.random()

    def __repr__(self) -> str:
        return f"Uniform({self.low:g}, {self.high:g})"


class Exponential(Latency):
    """``base`` plus an exponential delay of mean ``mean - base``: many fast, a few slow."""

    def __init__(self, mean: float, base: float = 0.0):
        self.mean = _nonnegative("Exponential mean", mean)
        self.base = _nonnegative("Exponential base", base)
        if self.mean <= self.base:
            raise ConfigurationError(f"Exponential(mean={mean}, base={base}): the mean must "
                                     f"exceed the base delay")
        self.rate = 1.0 / (self.mean - self.base)

    def sample(self, rng: random.Random) -> float:
        return self.base + rng.expovariate(self.rate)

    def __repr__(self) -> str:
        return f"Exponential(mean={self.mean:g}, base={self.base:g})"


class Normal(Latency):
    """A normal delay, cut at zero (a message never arrives before it was sent)."""

    def __init__(self, mean: float, stddev: float):
        self.mean = _nonnegative("Normal mean", mean)
        self.stddev = _nonnegative("Normal stddev", stddev)

    def sample(self, rng: random.Random) -> float:
        return max(0.0, rng.gauss(self.mean, self.stddev))

    def __repr__(self) -> str:
        return f"Normal({self.mean:g}, {self.stddev:g})"


class LogNormal(Latency):
    """A long-tailed delay with the given median and tail spread ``sigma``.

    With ``sigma=1`` the 99th percentile is about ten times the median: the shape of real
    request latencies, where the tail dominates fan-out requests.
    """

    def __init__(self, median: float, sigma: float = 1.0):
        self.median = _nonnegative("LogNormal median", median)
        self.sigma = _nonnegative("LogNormal sigma", sigma)
        if self.median == 0:
            raise ConfigurationError("LogNormal median must be above zero")
        self.mu = math.log(self.median)
        self.mean = math.exp(self.mu + self.sigma ** 2 / 2)

    def sample(self, rng: random.Random) -> float:
        return rng.lognormvariate(self.mu, self.sigma)

    def __repr__(self) -> str:
        return f"LogNormal(median={self.median:g}, sigma={self.sigma:g})"


def as_latency(value: Latency | float) -> Latency:
    """Accept a distribution, or a plain number meaning a constant delay."""
    if isinstance(value, Latency):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Constant(value)
    raise ConfigurationError(f"latency must be a number of ms or a distribution such as "
                             f"Uniform(1, 10); got {value!r}")


def probability(name: str, value: float) -> float:
    """``value``, checked to be a probability (in [0, 1]); ``name`` says what it is."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
        raise ConfigurationError(f"{name} is a probability and must lie in [0, 1]; got {value!r}")
    return float(value)


def _bandwidth(value: float | None) -> float | None:
    if value is None:
        return None
    value = checked_number(value, "bandwidth", if_infinite="use bandwidth=None for unlimited")
    if value <= 0:
        raise ConfigurationError(f"bandwidth is in bytes per millisecond and must be positive "
                                 f"(or None for unlimited); got {value!r}")
    return value


@dataclass
class Link:
    """The settings of one directed link; ``None`` means "as the network's default"."""

    latency: Latency | None = None
    loss: float | None = None
    duplicate: float | None = None
    bandwidth: float | None = None


class Network:
    """Default link behaviour and per-link overrides: the configuration of a network.

    * ``latency``: a distribution (or a number of ms) for one-way delays;
    * ``loss``: the probability that a message is lost;
    * ``duplicate``: the probability that a message is delivered twice;
    * ``reorder``: the probability that a message is held back by up to ``reorder_delay``
      extra ms (by default, five mean latencies: `simulation.REORDER_HOLD_LATENCIES`), so
      that later ones overtake it (random latencies reorder a little already);
    * ``bandwidth``: bytes per ms, or None for unlimited. A message of ``n`` bytes then
      occupies its link for ``n / bandwidth`` ms, and messages queue behind each other.
      A message's size is its ``size`` attribute if it has one, else the length of its repr.

    All attributes may be changed between events (the explorer's sliders do); a change
    holds for every simulation built with this object. A simulation never writes into its
    network: partitions (`Simulation.partition`, `cut`, `heal`) and bandwidth queues belong
    to the run, so ``net = Network(...)`` once, then several ``Simulation(network=net)``,
    start each from the same, uncut network.
    """

    def __init__(self, latency: Latency | float = Uniform(1, 10), loss: float = 0.0,
                 duplicate: float = 0.0, reorder: float = 0.0,
                 reorder_delay: float | None = None, bandwidth: float | None = None):
        self.latency = latency
        self.loss = loss
        self.duplicate = duplicate
        self.reorder = reorder
        self.reorder_delay = reorder_delay
        self.bandwidth = bandwidth
        self.links: dict[tuple[str, str], Link] = {}

    # Validation happens on assignment, so a slider or a typo gets the same clear error.
    def __setattr__(self, name: str, value: object) -> None:
        match name:
            case "latency":
                value = as_latency(value)
            case "loss" | "duplicate" | "reorder":
                value = probability(name, value)
            case "reorder_delay" if value is not None:
                value = _nonnegative("reorder_delay", value)
            case "bandwidth":
                value = _bandwidth(value)
        object.__setattr__(self, name, value)
        if name != "plain":
            self._update_plain()

    def _update_plain(self) -> None:
        # True when a message needs nothing but a latency draw: the simulator's fast path
        object.__setattr__(self, "plain", not (
            getattr(self, "loss", 0) or getattr(self, "duplicate", 0)
            or getattr(self, "reorder", 0) or getattr(self, "bandwidth", None)
            or getattr(self, "links", None)))

    def set_link(self, a: str, b: str, *, latency: Latency | float | None = None,
                 loss: float | None = None, duplicate: float | None = None,
                 bandwidth: float | None = None, both_ways: bool = True) -> None:
        """Override the settings of the link from ``a`` to ``b`` (and back, by default)."""
        link = Link(
            latency=None if latency is None else as_latency(latency),
            loss=None if loss is None else probability("loss", loss),
            duplicate=None if duplicate is None else probability("duplicate", duplicate),
            bandwidth=_bandwidth(bandwidth),
        )
        self.links[(a, b)] = link
        if both_ways:
            self.links[(b, a)] = link
        self._update_plain()

    def copy(self) -> Network:
        """A network with the same settings and per-link overrides, to change on its own."""
        twin = Network(self.latency, self.loss, self.duplicate, self.reorder,
                       self.reorder_delay, self.bandwidth)
        twin.links.update(self.links)
        twin._update_plain()
        return twin

    def clear_links(self) -> None:
        """Forget every per-link override."""
        self.links.clear()
        self._update_plain()

    def __repr__(self) -> str:
        parts = [f"latency={self.latency!r}"]
        for name in ("loss", "duplicate", "reorder"):
            if getattr(self, name):
                parts.append(f"{name}={getattr(self, name):g}")
        if self.bandwidth:
            parts.append(f"bandwidth={self.bandwidth:g}")
        return f"Network({', '.join(parts)})"
