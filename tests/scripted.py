"""Helpers for the invariant tests: a node whose variables change at given times (to put
invariants in chosen states), and a run that returns the violation it raised.

Importable from every test folder: the root conftest.py's folder is on ``sys.path``.
"""

from __future__ import annotations

from distlab.check import InvariantViolation
from distlab.sim import Node, Simulation


def violation_or_none(sim: Simulation, until: float) -> InvariantViolation | None:
    """Run ``sim`` until ``until``; the invariant violation it raised, or None."""
    try:
        sim.run(until=until)
    except InvariantViolation as exc:
        return exc
    return None


class Scripted(Node):
    """Sets attributes at given times: ``script=[(10, {"role": "leader", "term": 1}), ...]``."""

    def __init__(self, script: list[tuple[float, dict]] = (), **initial):
        self.script = list(script)
        for name, value in initial.items():
            setattr(self, name, value)

    def on_start(self) -> None:
        for i, (time, _) in enumerate(self.script):
            self.set_timer(time, f"step{i}")

    def on_timer(self, name: str) -> None:
        changes = self.script[int(name.removeprefix("step"))][1]
        for attr, value in changes.items():
            setattr(self, attr, value)
