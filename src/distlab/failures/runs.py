"""Experiments on the two generals (`distlab.failures.generals`): one run, and the odds of
each outcome over many seeds."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from distlab.failures.generals import General
from distlab.sim import Network, Simulation

GENERALS = ("A", "B")


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
