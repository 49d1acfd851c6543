"""One soak run: a target's scenario, with its nemesis, for one seed; and its replay.

A run builds the simulation as the lab harness does (`distlab.grading.runner.prepare`: the
setup and the start of every property are its first event), runs it for the scenario's
``run_for`` and asks every property's judge. Whatever stops it -- a violated invariant, a
property that does not hold at the end, a node that raised, an event budget spent -- is the
run's violation, in one line. The same target and seed replay the same run, event for event.
"""

from __future__ import annotations

from dataclasses import dataclass

from distlab.check.invariants import InvariantViolation
from distlab.grading.properties import PropertyViolated
from distlab.grading.runner import prepare
from distlab.sim import Simulation
from distlab.soak.target import Target

#: seconds of real time one run may take: only a guard against a hang (a loaded machine
#: must not turn a slow run into a violation; the scenarios' own event budgets stay)
WALL_LIMIT = 60.0


@dataclass(frozen=True)
class Outcome:
    """What one run of a target gave: its seed, its violation (None if every property held)
    and how much it simulated."""

    seed: int
    violation: str | None
    simulated_ms: float
    events: int


def run_seed(target: Target, seed: int) -> tuple[Simulation, Outcome]:
    """Run ``target`` with ``seed`` (its nemesis included); the simulation and the outcome."""
    scenario = target.soak_scenario(seed)
    sim, judges = prepare(scenario, seed, judged=True)
    violation = None
    try:
        sim.run(until=scenario.run_for, wall_limit=WALL_LIMIT)
        for judge in judges:
            found = judge()
            if found is not None:
                raise PropertyViolated(found)
    except InvariantViolation as exc:
        violation = f"{exc.invariant}: {exc.explanation} (t={exc.time:.3f} ms)"
    except PropertyViolated as exc:
        found = exc.violation
        violation = f"{found.description}: {found.explanation} (t={found.time:.3f} ms)"
    except Exception as exc:  # a node that raised, an event budget spent: a violation too
        violation = f"{type(exc).__name__}: {exc}"
    return sim, Outcome(seed, violation, sim.now, len(sim.trace))


def replay_command(target: Target, seed: int) -> str:
    """The one-line command that replays ``target``'s run with ``seed``."""
    return f"python -m distlab.soak --protocol {target.name} --seed {seed}"
