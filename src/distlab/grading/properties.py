"""What must hold of a run: the properties a lab check judges.

Four kinds, from the strongest guarantee to the weakest moment of checking:

* an `Invariant` (from `distlab.check.invariants`) must hold in *every* state: it is checked
  after every event, and the run stops at the first state that breaks it (safety);
* `Eventually` -- something must happen, by a deadline in simulated time (liveness, such as
  "a leader is elected within 5 s");
* `AtEnd` -- an invariant checked once, when the run is over ("the backup holds the same
  data as the primary");
* `Linearizable` and `EveryOperationCompletes` -- judgements of the clients' history.

Each property says what it means in words (``description``): that sentence is what a failure
report names as "the first violated property".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from distlab.check import check_linearizability
from distlab.check.invariants import Invariant, watch
from distlab.sim import Simulation

#: a judge, called once after the run: None if the property held, else the `Violation`
Judge = Callable[[], "Violation | None"]


@dataclass(frozen=True)
class Violation:
    """A property that did not hold: which (in words), what went wrong, and when.

    ``picture``, when given, draws the problem (a linearizability violation draws the
    clients' operations with the one that cannot be placed in red).
    """

    description: str
    explanation: str
    time: float
    picture: Callable[[], Any] | None = None


class PropertyViolated(Exception):
    """Raised inside a run to stop it at the first violation (the harness catches it)."""

    def __init__(self, violation: Violation):
        super().__init__(f"{violation.description}: {violation.explanation}")
        self.violation = violation


class Property:
    """Base class of the properties that are not invariants.

    `start` is called once the scenario is set up; it may watch the run (with
    ``sim.add_monitor``) and returns the judge, called after the run.
    """

    description: str = ""

    def start(self, sim: Simulation) -> Judge:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.description}>"


def start(prop: Invariant | Property, sim: Simulation) -> Judge:
    """Begin judging ``prop`` on ``sim``; return its judge."""
    match prop:
        case Invariant():
            watch(sim, prop)  # raises InvariantViolation at the first bad state
            return lambda: None
        case Property():
            return prop.start(sim)
    raise TypeError(f"{prop!r} is not a property: use an Invariant (checked after every "
                    f"event), AtEnd(invariant), Eventually(...), Linearizable(model) or "
                    f"EveryOperationCompletes()")


def describe(prop: Invariant | Property) -> str:
    """What ``prop`` demands, in words."""
    if isinstance(prop, Invariant):
        return f"always: {prop.name}"
    return prop.description


class AtEnd(Property):
    """``invariant`` must hold when the run is over (it is checked only then)."""

    def __init__(self, invariant: Invariant):
        if not isinstance(invariant, Invariant):
            raise TypeError(f"AtEnd takes an Invariant (@invariant('...') or Invariant(name, "
                            f"fn)); got {invariant!r}")
        self.invariant = invariant
        self.description = f"at the end: {invariant.name}"

    def start(self, sim: Simulation) -> Judge:
        def judge() -> Violation | None:
            explanation = self.invariant.check(sim)
            if explanation is None:
                return None
            return Violation(self.description, explanation, sim.now)

        return judge


class Eventually(Property):
    """``happened(sim)`` must become True at some point, by ``within`` ms if given.

    It is checked after every event until it first holds; ``within`` is measured from the
    start of the run (time 0).
    """

    def __init__(self, description: str, happened: Callable[[Simulation], bool],
                 within: float | None = None):
        if not callable(happened):
            raise TypeError(f"Eventually({description!r}, happened): happened must be a "
                            f"function of the simulation returning True once it happened")
        self.happened = happened
        self.within = within
        self.description = description + ("" if within is None else f" within {within:g} ms")

    def start(self, sim: Simulation) -> Judge:
        first: list[float] = []

        def monitor(sim: Simulation) -> None:
            if not first and self.happened(sim) is True:
                first.append(sim.now)

        monitor(sim)
        sim.add_monitor(monitor)

        def judge() -> Violation | None:
            if not first:
                return Violation(self.description, f"it never happened in the whole run "
                                 f"({sim.now:g} ms)", sim.now)
            if self.within is not None and first[0] > self.within:
                return Violation(self.description, f"it happened only at t={first[0]:.3f} ms, "
                                 f"later than {self.within:g} ms", first[0])
            return None

        return judge


class EveryOperationCompletes(Property):
    """Every client operation that was started completes successfully (status ``ok``)."""

    description = "every client operation completes"

    def start(self, sim: Simulation) -> Judge:
        def judge() -> Violation | None:
            ops = sim.history.operations
            unfinished = [op for op in ops if op.status != "ok"]
            if not unfinished:
                return None
            shown = "; ".join(str(op) for op in unfinished[:4])
            more = f"; and {len(unfinished) - 4} more" if len(unfinished) > 4 else ""
            return Violation(self.description, f"{len(unfinished)} of {len(ops)} operations "
                             f"did not complete by t={sim.now:g} ms: {shown}{more}", sim.now)

        return judge


class Linearizable(Property):
    """The clients' history is linearizable with respect to ``model`` ("kv", "register"...).

    After ``timeout`` seconds of searching without an answer the check counts as failed
    (the histories of a lab are small: this only happens to runaway histories).
    """

    def __init__(self, model: str = "kv", timeout: float = 10.0):
        self.model = model
        self.timeout = timeout
        self.description = f"the clients' history is linearizable (model {model})"

    def start(self, sim: Simulation) -> Judge:
        def judge() -> Violation | None:
            result = check_linearizability(sim.history, self.model, timeout=self.timeout)
            if result.ok:
                return None
            return Violation(self.description, str(result), sim.now, picture=result.draw)

        return judge
